"""Plain-function factories for clinical records, built through the services (so validated and with history)."""

from __future__ import annotations

import itertools
from datetime import date

from django.utils import timezone

from recommender import services
from recommender.models import Assessment, Patient, TreatmentPlan

_sequence = itertools.count(1)

# Total B12 150 pg/mL, nothing else: deficient, loading 3x weekly, maintenance every 2-3 months.
DEFICIENT = {"b12": {"value": 150, "unit": "pg/mL"}}
# The same with neurological involvement: alternate-day loading, maintenance every 2 months only.
DEFICIENT_NEURO = {"b12": {"value": 150, "unit": "pg/mL"}, "neurological_involvement": True}
# Total B12 500 pg/mL: not deficient, no injections.
NOT_DEFICIENT = {"b12": {"value": 500, "unit": "pg/mL"}}


def make_patient(*, by, **overrides) -> Patient:
    """A registered patient with a hospital number no other call returns."""
    n = next(_sequence)
    fields = {
        "hospital_number": f"T{n:07d}",
        "family_name": f"Family{n}",
        "given_name": f"Given{n}",
        "date_of_birth": date(1960, 1, 1),
    }
    fields.update(overrides)
    return services.patient_create(**fields, by=by)


def make_assessment(
    patient: Patient, by, *, payload: dict | None = None, sample_date: date | None = None, lab_profile=None
) -> Assessment:
    return services.assessment_create(
        patient=patient,
        sample_date=sample_date or timezone.localdate(),
        payload=dict(payload if payload is not None else DEFICIENT),
        lab_profile=lab_profile,
        by=by,
    )


def make_plan(
    *,
    by,
    patient: Patient | None = None,
    payload: dict | None = None,
    sample_date: date | None = None,
    start_date: date | None = None,
    maintenance_every: int = 2,
    maintenance_unit: str = "months",
    individualised: bool = False,
    individualised_reason: str = "",
) -> TreatmentPlan:
    """A new assessment of the patient (a new patient when none is given) and the plan started from it."""
    patient = patient or make_patient(by=by)
    today = timezone.localdate()
    _, plan = services.assessment_record(
        patient=patient,
        sample_date=sample_date or today,
        payload=dict(payload if payload is not None else DEFICIENT),
        plan_options={
            "start_date": start_date or today,
            "maintenance_every": maintenance_every,
            "maintenance_unit": maintenance_unit,
            "individualised": individualised,
            "individualised_reason": individualised_reason,
        },
        confirm_supersede=True,
        by=by,
    )
    return plan
