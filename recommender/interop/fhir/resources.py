"""FHIR R4 resources built from the clinic's rows: pure functions of the rows they are given, no queries. Each is
built as FHIR JSON and checked by the fhir.resources R4B models (the same fields as R4) before it leaves
(``checked``), then written with ``json``: the models' own serialiser takes several times longer than building
and writes the same JSON. $everything checks each distinct entry once per process (a dose's resource does not
change between two reads of the record), so that five years of doses cost milliseconds, not a model run each.

Ids are derived from the rows, so that a read by id finds the same resource $everything lists:
Patient ``<patient id>``; Observation ``<assessment id>-<result>`` (b12, active-b12, mma, homocysteine, egfr);
CarePlan ``<plan id>``; MedicationRequest ``<plan id>-loading`` / ``<plan id>-maintenance``;
MedicationAdministration ``<dose record id>``."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient

from recommender import vocabulary
from recommender.guideline.inputs import INPUTS
from recommender.guideline.ruleset import DEFAULT_RULESET
from recommender.guideline.stored import Monitoring
from recommender.interop.fhir import codes
from recommender.interop.fhir.dosage import (
    ROUTE_IM,
    dose_quantity,
    loading_dosage,
    maintenance_dosage,
    medication_concept,
)

LOADING, MAINTENANCE = vocabulary.Phase.LOADING, vocabulary.Phase.MAINTENANCE
FHIR_VERSION = "4.0.1"
READABLE = ("Patient", "Observation", "CarePlan", "MedicationRequest", "MedicationAdministration")
CARE_PLAN_STATUS = {"active": "active", "ended": "completed", "superseded": "revoked"}
# What the results say (the stored decision) → v3 ObservationInterpretation.
STATUS_INTERPRETATION = {
    "deficient": ("L", "Low"),
    "indeterminate": ("IND", "Indeterminate"),
    "not_deficient": ("N", "Normal"),
}


MODELS = {
    model.__name__: model
    for model in (
        Bundle,
        CapabilityStatement,
        CarePlan,
        MedicationAdministration,
        MedicationRequest,
        Observation,
        OperationOutcome,
        Patient,
    )
}


def _json(model) -> dict:
    return model.model_dump(mode="json", exclude_none=True)


def checked(resource: dict) -> dict:
    """The resource, once its R4B model accepts it (pydantic's ValidationError otherwise): nothing leaves unchecked."""
    MODELS[resource["resourceType"]].model_validate(resource)
    return resource


# Digests of the entries already checked in this process; forgotten all at once when full (a bounded memory).
_CHECKED: set[bytes] = set()
CHECKED_MAX = 20_000


def checked_once(resource: dict) -> dict:
    """``checked``, skipped for a resource whose exact JSON this process has already checked."""
    digest = hashlib.blake2b(as_json(resource), digest_size=16).digest()
    if digest not in _CHECKED:
        checked(resource)
        if len(_CHECKED) >= CHECKED_MAX:
            _CHECKED.clear()
        _CHECKED.add(digest)
    return resource


def as_json(resource: dict) -> bytes:
    return json.dumps(resource, ensure_ascii=False, separators=(",", ":")).encode()


def _number(value):
    """A JSON number, exactly as stored (a Decimal of at most 12 significant digits, as the forms accept)."""
    if isinstance(value, Decimal):
        value = value.normalize()
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def patient_resource(patient) -> dict:
    identifiers = [{"use": "usual", "system": codes.hospital_number_system(), "value": patient.hospital_number}]
    if patient.nhs_number:
        identifiers.append({"use": "official", "system": codes.NHS_NUMBER_SYSTEM, "value": patient.nhs_number})
    return {
        "resourceType": "Patient",
        "id": str(patient.pk),
        "identifier": identifiers,
        "name": [{"use": "official", "family": patient.family_name, "given": [patient.given_name]}],
        "birthDate": patient.date_of_birth.isoformat(),
    }


def _interpretation(name: str, measurement: dict) -> list[dict] | None:
    """From the stored decision: B12 and active B12 by their band, MMA by its upper limit; none for the others."""
    if name in ("b12", "active_b12") and measurement.get("status") in STATUS_INTERPRETATION:
        code, display = STATUS_INTERPRETATION[measurement["status"]]
    elif name == "mma" and measurement.get("elevated") is not None:
        code, display = ("H", "High") if measurement["elevated"] else ("N", "Normal")
    else:
        return None
    return [{"coding": [{"system": codes.INTERPRETATION_SYSTEM, "code": code, "display": display}], "text": display}]


def _quantity(value, unit: str) -> dict:
    return {"value": _number(value), "unit": unit, "system": codes.UCUM, "code": codes.UCUM_OF[unit]}


def assessment_results(assessment) -> list[tuple[str, Decimal, str, Decimal | None]]:
    """The results an assessment was entered with, in the engine's order: (input, value, unit, lab upper limit)."""
    results = []
    for name in codes.RESULT_SUFFIX:
        entered = assessment.inputs.get(name)
        if entered is None:
            continue
        if isinstance(entered, dict):
            results.append((name, entered["value"], entered["unit"], entered.get("upper_limit")))
        else:
            results.append((name, entered, next(iter(INPUTS[name].units)), None))
    return results


def observation_resource(assessment, name: str, value, unit: str, upper_limit=None) -> dict:
    code, display = codes.LOINC_OF[(name, unit)]
    resource = {
        "resourceType": "Observation",
        "id": f"{assessment.pk}-{codes.RESULT_SUFFIX[name]}",
        "status": "final",
        "category": [{"coding": [{"system": codes.OBSERVATION_CATEGORY_SYSTEM, "code": "laboratory"}]}],
        "code": {"coding": [{"system": codes.LOINC, "code": code, "display": display}], "text": INPUTS[name].label},
        "subject": {"reference": f"Patient/{assessment.patient_id}"},
        "effectiveDateTime": assessment.sample_date.isoformat(),
        "issued": assessment.created_at.astimezone(UTC).isoformat(),
        "valueQuantity": _quantity(value, unit),
    }
    interpretation = _interpretation(name, assessment.decided.measurements.get(name) or {})
    if interpretation:
        resource["interpretation"] = interpretation
    if upper_limit is not None:
        resource["referenceRange"] = [{"high": _quantity(upper_limit, unit), "text": "The lab's upper limit"}]
    return resource


def observation_resources(assessment) -> list[dict]:
    return [observation_resource(assessment, *result) for result in assessment_results(assessment)]


def _loading_running(plan) -> bool:
    return plan.status == "active" and plan.next_phase == LOADING and plan.loading_ended_on is None


def medication_request_resource(plan, phase: str, *, medication: dict | None = None) -> dict:
    """The plan's loading course or its maintenance, each a MedicationRequest with its Dosage."""
    if phase == LOADING:
        dosage = loading_dosage(pattern=plan.loading_pattern, doses=plan.loading_doses)
        status = "active" if _loading_running(plan) else ("completed" if plan.status == "active" else "stopped")
    else:
        dosage = maintenance_dosage(every=plan.maintenance_every, unit=plan.maintenance_unit, lifelong=plan.lifelong)
        status = "active" if plan.status == "active" else "stopped"
    resource = {
        "resourceType": "MedicationRequest",
        "id": f"{plan.pk}-{phase}",
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": medication or _json(medication_concept()),
        "subject": {"reference": f"Patient/{plan.patient_id}"},
        "authoredOn": plan.created_at.astimezone(UTC).isoformat(),
        "basedOn": [{"reference": f"CarePlan/{plan.pk}"}],
        "reasonCode": [{"text": plan.indications_text}],
        "dosageInstruction": [_json(dosage)],
    }
    if plan.individualised:
        resource["note"] = [{"text": f"Individualised regimen: {plan.individualised_reason}"}]
    return resource


def medication_request_resources(plan, *, medication: dict | None = None) -> list[dict]:
    phases = [LOADING, MAINTENANCE] if plan.loading_pattern else [MAINTENANCE]
    return [medication_request_resource(plan, phase, medication=medication) for phase in phases]


def _monitoring_activity(plan, monitoring: Monitoring | None) -> dict:
    # A decision without a monitoring block (none recommended) still has the ruleset's reviews on a plan.
    rules = DEFAULT_RULESET.monitoring
    until_stable = monitoring.every_months_until_stable if monitoring else rules.every_months_until_stable
    after_stable = monitoring.every_months_after_stable if monitoring else rules.every_months_after_stable
    every = after_stable if plan.stable_on is not None else until_stable
    tests = ", ".join(test.replace("_", " ") for test in (monitoring.tests if monitoring else ()))
    words = f"every {every} months"
    if plan.stable_on is None and after_stable:
        words += f" until stable, then every {after_stable} months"
    detail = {
        "kind": "ServiceRequest",
        "code": {"text": "Monitoring review"},
        "status": "scheduled" if plan.status == "active" else "stopped",
        "description": f"Review the response to treatment {words}" + (f" ({tests})." if tests else "."),
        "scheduledTiming": {"repeat": {"frequency": 1, "period": every, "periodUnit": "mo"}},
    }
    return {"detail": detail}


def care_plan_resource(plan, assessment, *, requests: list[dict] | None = None) -> dict:
    """The treatment plan: its status and period, loading and maintenance (each its MedicationRequest) and the
    monitoring reviews; ``instantiatesCanonical`` names the ruleset (id and version) that decided it."""
    period = {"start": plan.start_date.isoformat()}
    if plan.ended_on:
        period["end"] = plan.ended_on.isoformat()
    activities = [
        {"reference": {"reference": f"MedicationRequest/{r['id']}", "display": r["dosageInstruction"][0]["text"]}}
        for r in (requests if requests is not None else medication_request_resources(plan))
    ]
    decided = assessment.decided
    activities.append(
        _monitoring_activity(plan, decided.monitoring or (decided.pending and decided.pending.monitoring))
    )
    resource = {
        "resourceType": "CarePlan",
        "id": str(plan.pk),
        "instantiatesCanonical": [codes.ruleset_canonical(assessment.ruleset_id, assessment.ruleset_version)],
        "status": CARE_PLAN_STATUS[plan.status],
        "intent": "plan",
        "title": f"Vitamin B12 replacement ({DEFAULT_RULESET.drug} {DEFAULT_RULESET.route})",
        "description": f"Indications: {plan.indications_text}. Maintenance {plan.interval_text}.",
        "subject": {"reference": f"Patient/{plan.patient_id}"},
        "period": period,
        "created": plan.created_at.astimezone(UTC).isoformat(),
        "supportingInfo": [
            {"reference": f"Observation/{plan.assessment_id}-{codes.RESULT_SUFFIX[name]}"}
            for name, *_ in assessment_results(assessment)
        ],
        "activity": activities,
    }
    if plan.end_reason:
        resource["note"] = [{"text": f"Ended: {plan.end_reason}"}]
    return resource


def _site(dose) -> dict | None:
    if not dose.site:
        return None
    site = {"text": dose.get_site_display()}
    if dose.site in codes.SITE_SNOMED:
        code, display = codes.SITE_SNOMED[dose.site]
        site["coding"] = [{"system": codes.SNOMED, "code": code, "display": display}]
    return site


def medication_administration_resource(
    dose, *, patient_id, loading_doses: int | None, medication: dict | None = None
) -> dict:
    """One recorded dose: given (with its batch and expiry on a contained Medication), not given (``not-done`` with
    the reason) or entered in error."""
    medication = medication or _json(medication_concept())
    resource: dict = {
        "resourceType": "MedicationAdministration",
        "id": str(dose.pk),
        "subject": {"reference": f"Patient/{patient_id}"},
        "request": {"reference": f"MedicationRequest/{dose.plan_id}-{dose.phase}"},
        "note": [{"text": vocabulary.dose_label(dose.phase, dose.number, loading_doses)}],
    }
    if dose.outcome == vocabulary.Outcome.GIVEN:
        resource["contained"] = [
            {
                "resourceType": "Medication",
                "id": "med",
                "code": medication,
                "batch": {"lotNumber": dose.batch, "expirationDate": dose.expiry.isoformat()},
            }
        ]
        resource["medicationReference"] = {"reference": "#med", "display": medication["text"]}
        resource["effectiveDateTime"] = dose.given_at.astimezone(UTC).isoformat()
        resource["performer"] = [{"actor": {"display": dose.recorded_by.get_full_name() or "clinic staff"}}]
        dosage = {"route": ROUTE_IM, "dose": {**dose_quantity(), "value": _number(dose.dose_mg)}}
        if (site := _site(dose)) is not None:
            dosage["site"] = site
        resource["dosage"] = dosage
        resource["status"] = "completed"
    else:
        resource["medicationCodeableConcept"] = medication
        resource["effectiveDateTime"] = dose.due_date.isoformat()
        outcome, reason = dose.get_outcome_display(), dose.reason.strip()
        # "Did not attend" needs no reason of its own (the service stores the outcome's words): say it once.
        same = reason.rstrip(".").casefold() == outcome.casefold()
        resource["statusReason"] = [{"text": outcome if same or not reason else f"{outcome}: {reason}"}]
        resource["status"] = "not-done"
    if dose.entered_in_error:
        resource["status"] = "entered-in-error"
        resource["note"].append({"text": f"Entered in error: {dose.error_reason}"})
    return resource


def everything_bundle(record, *, base: str) -> dict:
    """Patient/$everything: the patient, then each assessment's results, each plan with its requests, each dose."""
    patient = record.patient
    medication = _json(medication_concept())
    resources = [patient_resource(patient)]
    for assessment in record.assessments:
        resources += observation_resources(assessment)
    assessments = {a.pk: a for a in record.assessments}
    for plan in record.plans:
        requests = medication_request_resources(plan, medication=medication)
        resources.append(care_plan_resource(plan, assessments[plan.assessment_id], requests=requests))
        resources += requests
    loading_doses = {plan.pk: plan.loading_doses for plan in record.plans}
    resources += [
        medication_administration_resource(
            dose, patient_id=patient.pk, loading_doses=loading_doses[dose.plan_id], medication=medication
        )
        for dose in record.doses
    ]
    entries = [
        {
            "fullUrl": f"{base}{resource['resourceType']}/{resource['id']}",
            "search": {"mode": "match" if index == 0 else "include"},
        }
        for index, resource in enumerate(resources)
    ]
    bundle = checked(  # the Bundle itself, then each entry's resource by its own model
        {
            "resourceType": "Bundle",
            "id": f"{patient.pk}-everything",
            "type": "searchset",
            "timestamp": datetime.now(UTC).isoformat(),
            "total": 1,
            "link": [{"relation": "self", "url": f"{base}Patient/{patient.pk}/$everything"}],
            "entry": entries,
        }
    )
    for entry, resource in zip(entries, resources, strict=True):
        entry["resource"] = checked_once(resource)
    return bundle


def operation_outcome(issues: list[tuple[str, str, str | None]], *, severity: str = "error") -> dict:
    """An OperationOutcome of (code, text, FHIRPath expression or None) issues: an issue names what it is about."""
    return checked(
        {
            "resourceType": "OperationOutcome",
            "issue": [
                {"severity": severity, "code": code, "diagnostics": text, **({"expression": [where]} if where else {})}
                for code, text, where in issues
            ],
        }
    )


def capability_statement(*, base: str, software_version: str) -> dict:
    """What the server serves: read for each type, Patient/$everything, and results imported as a Bundle."""
    resources = [
        {
            "type": kind,
            "interaction": [{"code": "read"}],
            **(
                {
                    "operation": [
                        {
                            "name": "everything",
                            "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                        }
                    ]
                }
                if kind == "Patient"
                else {}
            ),
        }
        for kind in READABLE
    ]
    resources.append(
        {
            "type": "Bundle",
            "interaction": [{"code": "create", "documentation": _IMPORT_WORDS}],
        }
    )
    return checked(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": datetime.now(UTC).date().isoformat(),
            "kind": "instance",
            "software": {"name": "B12 clinic", "version": software_version},
            "implementation": {"description": "Vitamin B12 deficiency clinic", "url": base.rstrip("/")},
            "fhirVersion": FHIR_VERSION,
            "format": ["application/fhir+json", "json"],
            "rest": [
                {
                    "mode": "server",
                    "security": {
                        "service": [{"text": "Bearer API token, or a signed-in session"}],
                        "description": "Authorization: Bearer <API token>, or a session; the pages' roles apply.",
                    },
                    "resource": resources,
                }
            ],
        }
    )


_IMPORT_WORDS = (
    "POST a collection or transaction Bundle of lab Observations for one patient (subject identified by hospital or "
    "NHS number). Codes map through the admin's code table (LOINC out of the box). Nothing is stored as a decision: "
    "the answer links to the assessment form pre-filled with the results, for a clinician to complete and save."
)
