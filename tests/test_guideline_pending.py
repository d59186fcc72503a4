"""Neurological signs with a borderline result (issue 11, item 3): the headline, the regimen and the alerts agree,
and a clinician can start loading pending the MMA result."""

from __future__ import annotations

from hypothesis import given, settings

from recommender.guideline import PendingTreatment, decide, parse_assessment
from recommender.guideline.ruleset import SEED_2025
from tests.test_guideline_properties import valid_request

BORDERLINE = {"value": 250, "unit": "pg/mL"}


def recommend(payload: dict) -> dict:
    return decide(parse_assessment(payload)).as_dict()


def all_words(result: dict) -> str:
    return " ".join(
        [result["headline"], *(a["text"] for a in result["alerts"]), *(s["text"] for s in result["rationale"])]
    )


def test_neuro_with_250_pg_ml_and_no_mma_says_start_loading_without_waiting():
    """Before: "Do not delay the first injection" beside the headline "IM hydroxocobalamin is not indicated"."""
    recommendation = decide(parse_assessment({"b12": BORDERLINE, "neurological_involvement": True}))
    result = recommendation.as_dict()
    # The contract's fields keep their meanings.
    assert result["status"] == "indeterminate"
    assert result["im_recommended"] is False
    assert result["next_test"] == "mma"
    assert result["loading"] is None
    # The page's headline and the pending treatment say the same as the alerts.
    assert "take the MMA sample now" in result["headline"]
    assert "without waiting" in result["headline"]
    assert "not indicated" not in all_words(result)
    assert not any(s["text"].startswith("No indication") for s in result["rationale"])
    assert isinstance(recommendation.pending_mma, PendingTreatment)
    assert recommendation.pending_mma.loading == SEED_2025.loading_with_neuro
    assert recommendation.pending_mma.maintenance.min_months == recommendation.pending_mma.maintenance.max_months == 2
    pending = result["treatment_pending_mma"]
    assert pending["loading"]["pattern"] == "alternate_days"
    assert pending["loading"]["until"] == "no_further_improvement"
    assert pending["maintenance"]["every_months"] == {"min": 2, "max": 2}
    assert pending["maintenance"]["lifelong"] is True
    assert "take the MMA sample now and start alternate-day loading without waiting for it" in pending["reason"]
    codes = result["warnings"]
    assert {"neuro_urgent_advice", "sample_before_treatment", "indeterminate_clinical_judgement"} <= set(codes)
    neuro = next(a for a in result["alerts"] if a["code"] == "neuro_urgent_advice")
    assert "Do not delay the first injection" in neuro["text"]


def test_pending_loading_has_the_same_shape_as_the_regimen_it_would_become():
    pending = recommend({"b12": BORDERLINE, "neurological_involvement": True})["treatment_pending_mma"]
    confirmed = recommend(
        {"b12": BORDERLINE, "neurological_involvement": True, "mma": {"value": 0.6, "unit": "umol/L"}}
    )
    assert confirmed["treatment_pending_mma"] is None
    assert pending["loading"] == confirmed["loading"]
    assert pending["maintenance"] == confirmed["maintenance"]


def test_pending_maintenance_takes_the_shortest_interval_that_applies():
    result = recommend({"b12": BORDERLINE, "neurological_involvement": True, "ileal_resection_cm": 30})
    assert result["im_recommended"] is True  # the resection is an indication on its own
    assert result["loading"] is None
    assert result["treatment_pending_mma"]["maintenance"]["every_months"] == {"min": 1, "max": 1}
    assert "take the MMA sample now" in result["headline"]


def test_no_pending_treatment_without_neurological_signs_or_once_mma_decides():
    for payload in (
        {"b12": BORDERLINE},
        {"b12": BORDERLINE, "severe": True},
        {"b12": BORDERLINE, "neurological_involvement": True, "mma": {"value": 0.2, "unit": "umol/L"}},
        {"b12": {"value": 150, "unit": "pg/mL"}, "neurological_involvement": True},
        {"b12": {"value": 500, "unit": "pg/mL"}, "neurological_involvement": True},
    ):
        assert recommend(payload)["treatment_pending_mma"] is None, payload


def test_neuro_with_a_normal_result_does_not_say_do_not_delay_the_injection():
    result = recommend({"b12": {"value": 500, "unit": "pg/mL"}, "neurological_involvement": True})
    assert result["im_recommended"] is False
    assert "not indicated" in result["headline"]
    assert "specialist advice" in result["headline"]
    assert "Do not delay the first injection" not in all_words(result)


@settings(max_examples=300, deadline=None)
@given(payload=valid_request())
def test_the_headline_agrees_with_the_regimen_and_the_alerts(payload):
    result = recommend(payload)
    headline = result["headline"]
    assert headline.strip() and headline.endswith(".")
    pending = result["treatment_pending_mma"]
    if result["im_recommended"] and pending is None:
        assert "is recommended" in headline
    if "not indicated" in headline:
        assert result["im_recommended"] is False
        assert pending is None
    if pending is not None:
        assert result["status"] == "indeterminate"
        assert payload.get("neurological_involvement") is True
        assert "without waiting" in headline
    if any("Do not delay the first injection" in a["text"] for a in result["alerts"]):
        assert result["im_recommended"] or pending is not None
    if result["im_recommended"] or pending is not None:
        assert not any(s["text"].startswith("No indication") for s in result["rationale"])
