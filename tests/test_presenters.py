"""The results panel: a template partial fed by a typed view model, escaped by Django's templates."""

import re

from django.template.loader import render_to_string

from recommender.clinic.presenters import decision_fingerprint, decision_panel, maintenance_rows
from recommender.guideline import DEFAULT_RULESET, decide, parse_assessment
from recommender.guideline.stored import Decision


def decision_html(decision: dict) -> str:
    """The whole panel, as the assessment and plan pages show it."""
    return render_to_string("recommender/_decision.html", {"panel": decision_panel(Decision.from_dict(decision))})


def decision_sources_html(decision: dict) -> str:
    return render_to_string(
        "recommender/_decision.html#sources", {"panel": decision_panel(Decision.from_dict(decision))}
    )


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
    assert "consider an MMA test if the patient has symptoms (NICE)" in html
    assert "measure MMA" not in html  # NICE: consider MMA when symptomatic, not for everyone
    assert "150 pmol/L" in html and "203.3 pg/mL" in html


def _decision(payload: dict) -> dict:
    return decide(parse_assessment(payload)).as_dict()


def test_every_alert_advice_and_monitoring_line_shows_its_citations():
    decision = _decision(
        {
            "b12": {"value": 150, "unit": "pg/mL"},
            "neurological_involvement": True,
            "severe": True,
            "folic_acid": True,
        }
    )
    html = decision_html(decision)
    alerts = re.findall(r'<div class="alert [^"]*"[^>]*data-code="([^"]+)".*?</div>', html, re.S)
    assert alerts, "no alerts to check"
    for block in re.findall(r'<div class="alert [^"]*"[^>]*data-code="[^"]+".*?</div>', html, re.S):
        assert 'class="citation-refs"' in block and 'href="#cite-' in block, block
    for item in re.findall(r'<li data-code="[^"]+">.*?</li>', html, re.S):
        assert 'href="#cite-' in item, item
    monitoring = re.search(r"<h3 class=\"h6\">Monitoring</h3>.*?</ul>", html, re.S).group(0)
    assert monitoring.count('href="#cite-') >= 3, "the monitoring line and each caveat cite their sources"


def test_sources_are_collapsed_and_secondary_sources_are_labelled():
    decision = _decision({"b12": {"value": 150, "unit": "pg/mL"}})
    secondary = [c for c in decision["citations"] if c.get("kind") == "secondary"]
    assert secondary, "the engine labels its secondary sources"
    sources = decision_sources_html(decision)
    assert "<details" in sources and '<details class="rationale mt-2" open' not in sources
    assert sources.count("secondary source") == len(secondary)
    primary_only = {**decision, "citations": [c for c in decision["citations"] if c.get("kind") != "secondary"]}
    assert "secondary source" not in decision_sources_html(primary_only)


def test_the_fingerprint_changes_with_the_decision_and_only_with_it():
    first = _decision({"b12": {"value": 150, "unit": "pg/mL"}})
    again = _decision({"b12": {"value": 150, "unit": "pg/mL"}})
    other = _decision({"b12": {"value": 150, "unit": "pmol/L"}})
    assert decision_fingerprint(first) == decision_fingerprint(again)
    assert decision_fingerprint(first) != decision_fingerprint(other)


def test_treatment_pending_mma_reads_as_one_coherent_message():
    """Neurological signs, indeterminate result: the headline, the regimen and the alerts say the same."""
    decision = _decision({"b12": {"value": 250, "unit": "pg/mL"}, "neurological_involvement": True})
    if "treatment_pending_mma" not in decision:
        decision["headline"] = "Take the MMA sample; start loading now, pending MMA."
        decision["treatment_pending_mma"] = {
            "loading": {"text": "Hydroxocobalamin 1 mg IM on alternate days."},
            "maintenance": {"every_months": {"min": 2, "max": 2}, "text": "every 2 months"},
            "reason": "Neurological signs: do not let a pending MMA delay treatment.",
        }
    html = decision_html(decision)
    assert "consider an MMA test" not in html
    assert "not indicated" not in html
    assert "do not wait for its result" in html
    assert 'id="pending-loading-text"' in html
    assert decision["headline"] in html.replace("&#x27;", "'")


def test_the_month_view_grid_and_its_words_are_the_presenters():
    from datetime import date

    from recommender.injections.presenters import month_calendar

    events = {
        date(2027, 2, 15): [{"kind": "due", "phase": "maintenance", "number": 3}],
        date(2027, 2, 1): [{"kind": "given", "phase": "loading", "number": 6, "outcome": "given"}],
        date(2027, 2, 3): [{"kind": "missed", "phase": "loading", "number": 5, "outcome": "missed"}, {"kind": "visit"}],
    }
    grid = month_calendar(
        month=date(2027, 2, 10), events=events, closed={date(2027, 2, 14): "Sunday"}, today=date(2027, 2, 2)
    )
    assert grid["month"] == date(2027, 2, 1)
    assert all(len(week) == 7 and week[0]["date"].weekday() == 0 for week in grid["weeks"])
    days = {d["date"]: d for week in grid["weeks"] for d in week}
    assert [e["label"] for e in days[date(2027, 2, 15)]["events"]] == ["Maintenance 3 due"]
    assert [e["label"] for e in days[date(2027, 2, 1)]["events"]] == ["Loading 6: given"]
    assert [e["label"] for e in days[date(2027, 2, 3)]["events"]] == [
        "Loading 5: did not attend",
        "Follow-up review",
    ]
    assert days[date(2027, 2, 14)]["closed"] == "Sunday"
    assert days[date(2027, 2, 2)]["css"] == "month-today" and days[date(2027, 2, 2)]["number"] == "2"
    april = month_calendar(month=date(2027, 4, 1), events={}, closed={}, today=date(2027, 2, 2))
    assert april["weeks"][0][0]["date"] == date(2027, 3, 29)  # the last days of March open April's first week
    assert april["weeks"][0][0]["css"] == "text-body-secondary"
    assert days[date(2027, 2, 3)]["css"] == ""
    assert (grid["previous_month"], grid["next_month"]) == (date(2027, 1, 1), date(2027, 3, 1))


def test_worklist_rows_fall_in_their_sections_as_of_the_day():
    from datetime import date
    from uuid import uuid4

    from recommender.injections.presenters import worklist_sections
    from recommender.injections.selectors import WorklistLine

    def plan(due, phase="loading", number=2, loading_doses=6):
        return WorklistLine(
            pk=uuid4(),
            next_due_on=due,
            next_phase=phase,
            next_number=number,
            next_due_note="",
            loading_doses=loading_doses,
            calendar_sequence=0,
            hospital_number="H1",
            family_name="Zed",
            given_name="Ann",
            date_of_birth=date(1950, 3, 4),
            nhs_number="9434765919",
        )

    on = date(2027, 3, 10)
    late, today, soon = plan(date(2027, 3, 7)), plan(on, "maintenance", 3), plan(date(2027, 3, 12), number=4)
    # As the worklist page reads them: tuples of the line's values.
    sections = worklist_sections([tuple(late), tuple(today), tuple(soon)], on=on, back_to="/worklist/?on=10/03/2027")
    assert [(r.plan, r.overdue_days, r.overdue, r.dose_label, r.due) for r in sections["overdue"]] == [
        (late, 3, "3 days", "Loading 2 of 6", "Sun 07 Mar")
    ]
    assert [(r.plan, r.name, r.dose_label, r.born, r.age, r.nhs_number) for r in sections["due_today"]] == [
        (today, "ZED, Ann", "Maintenance 3", "04 Mar 1950", "77", "943 476 5919")
    ]
    assert [(r.plan, r.overdue_days) for r in sections["upcoming"]] == [(soon, -2)]
    # Did not attend is offered for an overdue dose on today's worklist only.
    assert [(r.offer_dna, r.what_for) for r in sections["overdue"]] == [(True, "Loading 2 of 6 for ZED, Ann")]
    assert not sections["due_today"][0].offer_dna
    other_day = worklist_sections([tuple(late)], on=on, today=date(2027, 3, 9))
    assert not other_day["overdue"][0].offer_dna
    assert sections["upcoming"][0].record_url == f"/plans/{soon.pk}/doses/record/?next=/worklist/%3Fon%3D10/03/2027"


def test_maintenance_rows_carry_each_months_hint_and_the_choice():
    from recommender.clinic.forms import PlanForm

    form = PlanForm(initial={"maintenance_choice": "3"})
    rows = maintenance_rows(form["maintenance_choice"], {1: "", 2: "outside this decision's range", 3: ""})
    by_value = {row.value: row for row in rows}
    assert by_value["2"].hint == "outside this decision's range" and by_value["3"].hint == ""
    assert by_value["3"].checked and not by_value["1"].checked
    assert by_value["individualised"].hint == "" and rows[-1].value == "individualised"
    assert [row.label for row in rows][:2] == ["every month", "every 2 months"]
