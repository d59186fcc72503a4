"""The results panel is built in Python for speed: it must escape like Django's templates do."""

from recommender.guideline import DEFAULT_RULESET, decide, parse_assessment
from recommender.presenters import decision_html


def test_panel_escapes_an_admin_defined_profile_name():
    thresholds = DEFAULT_RULESET.thresholds.with_values(
        profile='<script>alert("x")</script> & Co',
        total_deficient_below=DEFAULT_RULESET.thresholds.total_b12.deficient_below,
        total_not_deficient_above=DEFAULT_RULESET.thresholds.total_b12.not_deficient_above,
        active_deficient_below=DEFAULT_RULESET.thresholds.active_b12.deficient_below,
        active_not_deficient_above=DEFAULT_RULESET.thresholds.active_b12.not_deficient_above,
        mma_upper_limit_umol_l=DEFAULT_RULESET.thresholds.mma_upper_limit_umol_l,
    )
    decision = decide(parse_assessment({"b12": {"value": 150, "unit": "pg/mL"}}), thresholds=thresholds).as_dict()
    html = decision_html(decision)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in html


def test_panel_shows_the_decision_in_words():
    decision = decide(parse_assessment({"b12": {"value": 150, "unit": "pmol/L"}})).as_dict()
    html = decision_html(decision)
    assert "Indeterminate" in html
    assert "measure MMA first" in html
    assert "150 pmol/L" in html and "203.3 pg/mL" in html
