"""Reads for the FHIR endpoints: one query per kind of row, whatever the number of results, plans or doses."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from django.db.models import Q

from recommender.models import Assessment, DoseRecord, FhirCodeMapping, Patient, ResultImport, TreatmentPlan


@dataclass(frozen=True)
class PatientRecord:
    patient: Patient
    assessments: list[Assessment]
    plans: list[TreatmentPlan]
    doses: list[DoseRecord]


def _uuid(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None


def patient_record(*, patient_id: str) -> PatientRecord | None:
    """Everything $everything serves for one patient, in four queries; None for no such patient."""
    pk = _uuid(patient_id)
    patient = Patient.objects.filter(pk=pk).first() if pk else None
    if patient is None:
        return None
    return PatientRecord(
        patient=patient,
        assessments=list(Assessment.objects.filter(patient=patient).order_by("sample_date", "created_at")),
        plans=list(TreatmentPlan.objects.filter(patient=patient).order_by("start_date", "created_at")),
        doses=list(
            DoseRecord.objects.filter(plan__patient=patient)
            .select_related("recorded_by")
            .order_by("due_date", "recorded_at")
        ),
    )


def patient_by_id(*, patient_id: str) -> Patient | None:
    pk = _uuid(patient_id)
    return Patient.objects.filter(pk=pk).first() if pk else None


def assessment_by_id(*, assessment_id: str) -> Assessment | None:
    pk = _uuid(assessment_id)
    return Assessment.objects.filter(pk=pk).first() if pk else None


def plan_with_assessment(*, plan_id: str) -> TreatmentPlan | None:
    pk = _uuid(plan_id)
    return TreatmentPlan.objects.select_related("assessment").filter(pk=pk).first() if pk else None


def dose_by_id(*, dose_id: str) -> DoseRecord | None:
    pk = _uuid(dose_id)
    return DoseRecord.objects.select_related("plan", "recorded_by").filter(pk=pk).first() if pk else None


def patient_by_identifier(*, system: str, value: str, hospital_system: str, nhs_system: str) -> Patient | None:
    """The patient a result names by hospital number or NHS number (spaces ignored), or None."""
    value = (value or "").strip()
    if system == hospital_system:
        return Patient.objects.filter(hospital_number=value.upper()).first()
    if system == nhs_system:
        return Patient.objects.filter(nhs_number=value.replace(" ", "")).first()
    return None


def code_mappings(*, pairs: set[tuple[str, str]]) -> dict[tuple[str, str, str], FhirCodeMapping]:
    """The active mappings of these (system, code) pairs, by (system, code, unit): one query for a whole Bundle."""
    if not pairs:
        return {}
    wanted = Q(pk__in=[])
    for system, code in pairs:
        wanted |= Q(system=system, code=code)
    return {(m.system, m.code, m.unit): m for m in FhirCodeMapping.objects.filter(wanted, active=True)}


def result_import(*, import_id: UUID) -> ResultImport | None:
    return ResultImport.objects.filter(pk=import_id).first()
