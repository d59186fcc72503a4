"""A resource by type and id: the row it is built from (one query, two for a dose) and the patient it is about."""

from __future__ import annotations

from recommender.interop.fhir import codes, resources, selectors


def _split(resource_id: str, suffixes) -> tuple[str, str] | None:
    """``<uuid>-<suffix>`` → (uuid, suffix) when the suffix is one of ``suffixes``."""
    row_id, dash, suffix = resource_id[:36], resource_id[36:37], resource_id[37:]
    return (row_id, suffix) if dash == "-" and suffix in suffixes else None


def _patient(resource_id: str):
    patient = selectors.patient_by_id(patient_id=resource_id)
    return (resources.patient_resource(patient), patient.pk) if patient else None


def _observation(resource_id: str):
    split = _split(resource_id, codes.INPUT_OF_SUFFIX)
    assessment = selectors.assessment_by_id(assessment_id=split[0]) if split else None
    if assessment is None:
        return None
    wanted = codes.INPUT_OF_SUFFIX[split[1]]
    for result in resources.assessment_results(assessment):
        if result[0] == wanted:
            return resources.observation_resource(assessment, *result), assessment.patient_id
    return None


def _care_plan(resource_id: str):
    plan = selectors.plan_with_assessment(plan_id=resource_id)
    return (resources.care_plan_resource(plan, plan.assessment), plan.patient_id) if plan else None


def _medication_request(resource_id: str):
    split = _split(resource_id, (resources.LOADING, resources.MAINTENANCE))
    plan = selectors.plan_with_assessment(plan_id=split[0]) if split else None
    if plan is None or (split[1] == resources.LOADING and not plan.loading_pattern):
        return None
    return resources.medication_request_resource(plan, split[1]), plan.patient_id


def _medication_administration(resource_id: str):
    dose = selectors.dose_by_id(dose_id=resource_id)
    if dose is None:
        return None
    resource = resources.medication_administration_resource(
        dose, patient_id=dose.plan.patient_id, loading_doses=dose.plan.loading_doses
    )
    return resource, dose.plan.patient_id


READERS = {
    "Patient": _patient,
    "Observation": _observation,
    "CarePlan": _care_plan,
    "MedicationRequest": _medication_request,
    "MedicationAdministration": _medication_administration,
}


def resource_by_id(*, kind: str, resource_id: str):
    """(the resource, checked by its R4B model; its patient's id), or None when there is no such resource."""
    reader = READERS.get(kind)
    found = reader(resource_id) if reader else None
    return (resources.checked(found[0]), found[1]) if found else None
