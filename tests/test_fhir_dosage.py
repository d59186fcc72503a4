"""The regimen as FHIR Dosage (issue 15, item 1): timing per the shared notes, text and route always present."""

from __future__ import annotations

import pytest
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from recommender.guideline.stored import treatment_offer
from recommender.interop.fhir.dosage import (
    loading_dosage,
    maintenance_dosage,
    medication_concept,
    offer_dosages,
    regimen_dosages,
)
from tests.fhir_schema import schema_errors


def _json(dosage) -> dict:
    return dosage.model_dump(mode="json", exclude_none=True)


def test_three_times_a_week_is_bounded_to_two_weeks():
    dosage = _json(loading_dosage(pattern="three_times_weekly", doses=6))
    repeat = dosage["timing"]["repeat"]
    assert (repeat["frequency"], repeat["period"], repeat["periodUnit"]) == (3, 1, "wk")
    assert repeat["boundsDuration"]["value"] == 2 and repeat["boundsDuration"]["code"] == "wk"
    assert repeat["count"] == 6
    assert "three times a week" in dosage["text"]
    assert dosage["route"]["coding"][0] == {
        "system": "http://snomed.info/sct",
        "code": "78421000",
        "display": "Intramuscular route",
    }
    assert dosage["doseAndRate"][0]["doseQuantity"]["code"] == "mg"


def test_alternate_days_has_no_bound():
    repeat = _json(loading_dosage(pattern="alternate_days", doses=None))["timing"]["repeat"]
    assert repeat == {"frequency": 1, "period": 2, "periodUnit": "d"}


@pytest.mark.parametrize(("unit", "code"), [("months", "mo"), ("weeks", "wk"), ("days", "d")])
def test_maintenance_every_n_units(unit, code):
    dosage = _json(maintenance_dosage(every=2, unit=unit))
    assert dosage["timing"]["repeat"] == {"frequency": 1, "period": 2, "periodUnit": code}
    assert dosage["text"] == f"Maintenance: 1 mg IM every 2 {unit} for life"


def test_the_guidelines_range_of_months_uses_period_max():
    repeat = _json(maintenance_dosage(every=2, every_max=3))["timing"]["repeat"]
    assert (repeat["period"], repeat["periodMax"], repeat["periodUnit"]) == (2, 3, "mo")


def test_an_unknown_pattern_or_unit_is_refused():
    with pytest.raises(ValueError, match="loading pattern"):
        loading_dosage(pattern="weekly", doses=4)
    with pytest.raises(ValueError, match="unit"):
        maintenance_dosage(every=2, unit="years")
    with pytest.raises(ValueError, match="number of doses"):
        loading_dosage(pattern="three_times_weekly", doses=None)


def test_a_decisions_offer_becomes_loading_then_maintenance():
    decision = {
        "im_recommended": True,
        "indications": ["deficiency"],
        "loading": {"pattern": "three_times_weekly", "doses": 6},
        "maintenance": {"every_months": {"min": 2, "max": 3}, "lifelong": True},
        "monitoring": {"first_review_months": 3},
    }
    loading, maintenance = (_json(d) for d in offer_dosages(treatment_offer(decision)))
    assert (loading["sequence"], maintenance["sequence"]) == (1, 2)
    assert maintenance["text"] == "Maintenance: 1 mg IM every 2 to 3 months for life"


def test_medication_text_always_present_and_coding_configurable():
    assert medication_concept().model_dump(exclude_none=True) == {
        "text": "Hydroxocobalamin 1 mg/1 mL solution for injection ampoules"
    }
    coding = {"system": "https://dmd.nhs.uk", "code": "123", "display": "Hydroxocobalamin"}
    with override_settings(B12_FHIR_MEDICATION_CODING=[coding]):
        concept = medication_concept().model_dump(exclude_none=True)
    assert concept["coding"] == [coding] and concept["text"]


@given(
    pattern=st.sampled_from(["", "three_times_weekly", "alternate_days"]),
    doses=st.integers(1, 30),
    every=st.integers(1, 12),
    unit=st.sampled_from(["days", "weeks", "months"]),
    lifelong=st.booleans(),
)
def test_every_regimen_validates_against_the_r4_schema(pattern, doses, every, unit, lifelong):
    dosages = regimen_dosages(
        loading_pattern=pattern, loading_doses=doses, maintenance_every=every, maintenance_unit=unit, lifelong=lifelong
    )
    assert len(dosages) == (2 if pattern else 1)
    for dosage in dosages:
        data = _json(dosage)
        assert schema_errors(data, "Dosage") == []
        assert data["text"] and data["route"]["coding"][0]["code"] == "78421000"
