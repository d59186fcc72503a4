"""The engine's shortcuts for speed (issue 14, item 8) change nothing a caller sees.

``decide`` builds its frozen ``Recommendation`` without the per-field ``object.__setattr__`` of a frozen dataclass,
and reuses the parts of a decision that depend only on the ruleset and on which rules apply. These tests hold the
invariants those shortcuts rely on; the golden snapshot (tests/test_engine_golden.py) holds the words."""

from __future__ import annotations

import dataclasses

import pytest

from recommender.guideline import DEFAULT_RULESET, Recommendation, decide, parse_assessment

REQUESTS = [
    {"b12": {"value": 150, "unit": "pg/mL"}, "neurological_involvement": True, "severe": True},
    {"b12": {"value": 250, "unit": "ng/L"}, "mma": {"value": 450, "unit": "nmol/L"}, "egfr": 45},
    {"b12": {"value": 600, "unit": "pg/mL"}},
    {"b12": {"value": 150, "unit": "pmol/L"}, "neurological_involvement": True},
]


@pytest.mark.parametrize("request_body", REQUESTS)
def test_a_decision_is_an_ordinary_frozen_recommendation(request_body):
    decision = decide(parse_assessment(request_body))
    assert type(decision) is Recommendation and dataclasses.is_dataclass(decision)
    # Every field is set (a missing one would raise here) and the dataclass's own constructor gives an equal object.
    values = {f.name: getattr(decision, f.name) for f in dataclasses.fields(Recommendation)}
    assert Recommendation(**values) == decision
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.status = "not_deficient"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del decision.alerts  # type: ignore[misc]
    assert not hasattr(decision, "__dict__")


def test_the_unfrozen_twin_has_exactly_the_recommendation_fields():
    from recommender.guideline.engine import _Unfrozen

    assert _Unfrozen.__slots__ == tuple(f.name for f in dataclasses.fields(Recommendation))
    assert DEFAULT_RULESET is decide(parse_assessment(REQUESTS[0])).ruleset


def test_a_changed_ruleset_gets_its_own_regimen_and_words_at_once():
    """Regimens are worked out once per ruleset: a ruleset built later (as a test or a new version would) is never
    answered with another ruleset's regimen, and the first ruleset keeps its own."""
    body = parse_assessment({"b12": {"value": 150, "unit": "pg/mL"}})
    before = decide(body)
    slower = dataclasses.replace(DEFAULT_RULESET.maintenance_without_neuro, min_months=1, max_months=1)
    changed = dataclasses.replace(DEFAULT_RULESET, maintenance_without_neuro=slower, drug="cyanocobalamin")
    after = decide(body, changed)
    assert (before.maintenance.min_months, before.maintenance.max_months) == (2, 3)
    assert (after.maintenance.min_months, after.maintenance.max_months) == (1, 1)
    assert after.as_dict()["maintenance"]["text"] == "Cyanocobalamin 1 mg IM every month, for life."
    assert "ydroxocobalamin" not in " ".join(s.text for s in after.rationale)
    assert decide(body).as_dict() == before.as_dict()


def _alert_texts(decision) -> dict[str, str]:
    return {alert.code: alert.text for alert in decision.alerts}


def test_alerts_that_print_a_value_print_this_cases_value():
    """Which alerts apply is worked out once per set of facts; the eGFR and homocysteine they print are each case's."""
    first, second = (
        decide(
            parse_assessment(
                {
                    "b12": {"value": 250, "unit": "ng/L"},
                    "mma": {"value": 450, "unit": "nmol/L"},
                    "egfr": egfr,
                    "homocysteine": {"value": hcy, "unit": "umol/L"},
                }
            )
        )
        for egfr, hcy in ((45, 12), (30.5, 19))
    )
    assert _alert_texts(first)["mma_renal"].startswith("eGFR 45 is below 60")
    assert _alert_texts(second)["mma_renal"].startswith("eGFR 30.5 is below 60")
    assert _alert_texts(first)["homocysteine_above_target"].startswith("Homocysteine 12 µmol/L")
    assert _alert_texts(second)["homocysteine_above_target"].startswith("Homocysteine 19 µmol/L")


def test_a_changed_ruleset_gets_its_own_alerts_at_once():
    body = parse_assessment({"b12": {"value": 150, "unit": "pg/mL"}, "pregnant": True})
    before = _alert_texts(decide(body))
    changed = dataclasses.replace(DEFAULT_RULESET, drug="cyanocobalamin", pregnancy_first_review_months=2)
    after = _alert_texts(decide(body, changed))
    assert before["cobalt_allergy"].startswith("Hydroxocobalamin contains cobalt")
    assert after["cobalt_allergy"].startswith("Cyanocobalamin contains cobalt")
    assert "review 2 month after" in after["pregnancy"] and "review 1 month after" in before["pregnancy"]
    assert _alert_texts(decide(body)) == before


def test_monitoring_and_headline_follow_the_ruleset_and_the_case_at_once():
    body = {"b12": {"value": 150, "unit": "pg/mL"}}
    plain = decide(parse_assessment(body))
    pregnant = decide(parse_assessment({**body, "pregnant": True}))
    assert plain.monitoring["first_review_months"] == 3 and pregnant.monitoring["first_review_months"] == 1
    monitoring = dataclasses.replace(DEFAULT_RULESET.monitoring, every_months_until_stable=6)
    changed = decide(parse_assessment(body), dataclasses.replace(DEFAULT_RULESET, monitoring=monitoring, route="SC"))
    assert changed.monitoring["every_months_until_stable"] == 6 and changed.monitoring["first_review_months"] == 6
    assert changed.headline.startswith("SC hydroxocobalamin is recommended")
    assert "Monitoring every 6 months" in " ".join(s.text for s in changed.rationale)
    assert decide(parse_assessment(body)).as_dict() == plain.as_dict()
