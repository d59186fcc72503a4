"""Lab results received as a FHIR Bundle: checked entry by entry, then kept as one ResultImport that opens the
assessment form pre-filled. Nothing decides here, and nothing is kept unless every entry is understood."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError as PydanticError

from recommender.guideline import InvalidAssessment, parse_assessment
from recommender.guideline.inputs import MEASUREMENTS
from recommender.interop.fhir import codes, selectors
from recommender.models import FhirCodeMapping, Patient, ResultImport

IMPORTED_TYPES = ("collection", "transaction")
FINAL_STATUSES = ("final", "amended", "corrected")
Issue = tuple[str, str, str | None]  # (OperationOutcome issue code, words, FHIRPath expression)


class BundleRefused(Exception):
    """The Bundle cannot be imported: ``status`` (400 malformed, 422 not understood) and the issues, each naming
    the entry it is about."""

    def __init__(self, status: int, issues: list[Issue]):
        super().__init__("; ".join(text for _, text, _ in issues))
        self.status = status
        self.issues = issues


@dataclass
class _Reading:
    """What the Bundle says, gathered before anything is kept."""

    patient: Patient | None = None
    patient_entry: int | None = None
    sample_date: date | None = None
    date_entry: int | None = None
    results: dict = field(default_factory=dict)  # the form's fields
    entry_of: dict = field(default_factory=dict)  # assessment input → entry index
    issues: list[Issue] = field(default_factory=list)


def _where(index: int, path: str = "") -> str:
    return f"Bundle.entry[{index}]" + (f".resource.{path}" if path else "")


def _structure_issues(error: PydanticError) -> list[Issue]:
    issues = []
    for each in error.errors()[:20]:
        path = "Bundle" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in each["loc"])
        issues.append(("structure", f"{path}: {each['msg']}", path))
    return issues


def _parse_bundle(payload) -> list[dict]:
    """The Bundle's entries, once it is a valid R4 Bundle of an importable type; 400 otherwise."""
    if not isinstance(payload, dict) or payload.get("resourceType") != "Bundle":
        raise BundleRefused(400, [("structure", "Send a FHIR Bundle (resourceType: Bundle).", "Bundle")])
    if payload.get("type") not in IMPORTED_TYPES:
        raise BundleRefused(
            400, [("value", "Bundle.type must be collection or transaction (a Bundle of results).", "Bundle.type")]
        )
    try:
        Bundle.model_validate(payload)
    except PydanticError as error:
        raise BundleRefused(400, _structure_issues(error)) from None
    entries = payload.get("entry") or []
    if not entries:
        raise BundleRefused(422, [("required", "The Bundle has no entries: send at least one Observation.", "Bundle")])
    return entries


def _patient_named(subject: dict, patients_in_bundle: dict[str, dict]) -> tuple[Patient | None, str]:
    """The clinic's patient the subject names (identifier, a Patient entry of the Bundle, or Patient/<our id>)."""
    identifiers = [subject["identifier"]] if isinstance(subject.get("identifier"), dict) else []
    reference = subject.get("reference") or ""
    if reference in patients_in_bundle:
        identifiers += patients_in_bundle[reference].get("identifier") or []
    elif reference.startswith("Patient/") and not identifiers:
        return selectors.patient_by_id(patient_id=reference.removeprefix("Patient/")), "no patient with this id"
    if not identifiers:
        return None, "name the patient by hospital number or NHS number (subject.identifier)"
    for identifier in identifiers:
        patient = selectors.patient_by_identifier(
            system=identifier.get("system") or "",
            value=identifier.get("value") or "",
            hospital_system=codes.hospital_number_system(),
            nhs_system=codes.NHS_NUMBER_SYSTEM,
        )
        if patient is not None:
            return patient, ""
    systems = f"{codes.hospital_number_system()} or {codes.NHS_NUMBER_SYSTEM}"
    return None, f"no patient of the clinic has this identifier (systems: {systems})"


def _read_patient(reading: _Reading, index: int, resource: dict, patients_in_bundle: dict) -> None:
    patient, why = _patient_named(resource.get("subject") or {}, patients_in_bundle)
    if patient is None:
        reading.issues.append(("not-found", f"{_where(index)}: unknown patient: {why}.", _where(index, "subject")))
    elif reading.patient is None:
        reading.patient, reading.patient_entry = patient, index
    elif patient.pk != reading.patient.pk:
        reading.issues.append(
            (
                "business-rule",
                f"{_where(index)}: a different patient from entry[{reading.patient_entry}]: one Bundle, one patient.",
                _where(index, "subject"),
            )
        )


def _effective_date(resource: dict) -> date | None:
    raw = resource.get("effectiveDateTime") or (resource.get("effectivePeriod") or {}).get("start") or ""
    try:
        return date.fromisoformat(str(raw)[:10])
    except ValueError:
        return None


def _read_date(reading: _Reading, index: int, resource: dict) -> None:
    sampled = _effective_date(resource)
    where = _where(index, "effective")
    if sampled is None:
        reading.issues.append(("required", f"{_where(index)}: the sample date (effectiveDateTime) is missing.", where))
    elif sampled > timezone.localdate():
        reading.issues.append(("value", f"{_where(index)}: the sample date is in the future.", where))
    elif reading.sample_date is None:
        reading.sample_date, reading.date_entry = sampled, index
    elif sampled != reading.sample_date:
        reading.issues.append(
            (
                "business-rule",
                f"{_where(index)}: sampled on {sampled}, entry[{reading.date_entry}] on {reading.sample_date}: "
                "one Bundle holds the results of one sample.",
                where,
            )
        )


def _mapping(resource: dict, mappings: dict, index: int) -> tuple[FhirCodeMapping | None, Issue | None]:
    """The mapping of the result's code and unit, or the issue naming what is unknown."""
    codings = [(c.get("system") or "", c.get("code") or "") for c in (resource.get("code") or {}).get("coding") or []]
    quantity = resource.get("valueQuantity") or {}
    unit = quantity.get("code") or quantity.get("unit") or ""
    for system, code in codings:
        if (system, code, unit) in mappings:
            return mappings[(system, code, unit)], None
    known = sorted({u for (s, c, u) in mappings if (s, c) in codings})
    where = _where(index, "valueQuantity.code")
    if known:
        expected = ", ".join(known)
        return None, (
            "code-invalid",
            f"{_where(index)}: unknown unit {unit!r} for this code (expected {expected}).",
            where,
        )
    named = ", ".join(f"{s}|{c}" for s, c in codings) or "no coding"
    text = f"{_where(index)}: unknown code ({named}); an admin can map it under FHIR code mappings."
    return None, ("code-invalid", text, _where(index, "code"))


def _read_value(reading: _Reading, index: int, resource: dict, mapping: FhirCodeMapping) -> None:
    quantity = resource.get("valueQuantity") or {}
    name = mapping.input
    if quantity.get("comparator"):
        text = f"{_where(index)}: a result given as {quantity['comparator']} a value cannot be entered exactly."
        reading.issues.append(("value", text, _where(index, "valueQuantity.comparator")))
        return
    if name in reading.entry_of:
        text = f"{_where(index)}: a second {mapping.get_input_display()} result (entry[{reading.entry_of[name]}])."
        reading.issues.append(("duplicate", text, _where(index, "code")))
        return
    reading.entry_of[name] = index
    value = Decimal(str(quantity["value"]))
    if name not in MEASUREMENTS:
        reading.results[name] = str(value)
        return
    reading.results[f"{name}_value"], reading.results[f"{name}_unit"] = str(value), mapping.input_unit
    high = ((resource.get("referenceRange") or [{}])[0] or {}).get("high") or {}
    if (
        MEASUREMENTS[name].limit_plausible
        and "value" in high
        and (high.get("code") or high.get("unit")) == (quantity.get("code") or quantity.get("unit"))
    ):
        reading.results[f"{name}_upper_limit"] = str(Decimal(str(high["value"])))


def _engine_issues(reading: _Reading) -> list[Issue]:
    """The engine's own checks of the values (plausible, in range), each on the entry that holds the value."""
    payload: dict = {}
    for name in reading.entry_of:
        if name in MEASUREMENTS:
            payload[name] = {
                "value": Decimal(reading.results[f"{name}_value"]),
                "unit": reading.results[f"{name}_unit"],
            }
            if f"{name}_upper_limit" in reading.results:
                payload[name]["upper_limit"] = Decimal(reading.results[f"{name}_upper_limit"])
        elif name != FhirCodeMapping.Input.NOT_USED:
            payload[name] = Decimal(reading.results[name])
    try:
        parse_assessment(payload)
    except InvalidAssessment as invalid:
        return [
            ("value", f"{_where(reading.entry_of[name])}: {message}", _where(reading.entry_of[name], "valueQuantity"))
            for name, messages in invalid.errors.items()
            if name in reading.entry_of
            for message in messages
        ]
    return []


def _read_bundle(entries: list) -> _Reading:
    reading = _Reading()
    resources = [entry.get("resource") or {} for entry in entries]
    patients_in_bundle = {
        entry.get("fullUrl"): entry["resource"]
        for entry in entries
        if (entry.get("resource") or {}).get("resourceType") == "Patient" and entry.get("fullUrl")
    }
    pairs = {
        (c.get("system") or "", c.get("code") or "")
        for r in resources
        for c in ((r.get("code") or {}).get("coding") or [])
    }
    mappings = selectors.code_mappings(pairs=pairs)
    for index, resource in enumerate(resources):
        kind = resource.get("resourceType")
        if kind == "Patient":
            continue
        if kind != "Observation":
            what = kind or "resource without a type"
            text = f"{_where(index)}: a {what}; only Observations (and their Patient) are imported."
            reading.issues.append(("not-supported", text, _where(index)))
            continue
        if resource.get("status") not in FINAL_STATUSES:
            text = f"{_where(index)}: status {resource.get('status')!r}; only final, amended or corrected results."
            reading.issues.append(("business-rule", text, _where(index, "status")))
            continue
        _read_patient(reading, index, resource, patients_in_bundle)
        _read_date(reading, index, resource)
        if "value" not in (resource.get("valueQuantity") or {}):
            text = f"{_where(index)}: the result has no value with its unit (valueQuantity)."
            reading.issues.append(("required", text, _where(index, "valueQuantity")))
            continue
        mapping, issue = _mapping(resource, mappings, index)
        if issue is not None:
            reading.issues.append(issue)
        elif mapping.input != FhirCodeMapping.Input.NOT_USED:
            _read_value(reading, index, resource, mapping)
    return reading


@transaction.atomic
def result_import_create(*, payload, by) -> ResultImport:
    """Keep the results of a Bundle for one patient, to open the assessment form pre-filled; BundleRefused (and
    nothing kept) when any entry is not understood."""
    reading = _read_bundle(_parse_bundle(payload))
    if not reading.issues:
        reading.issues += _engine_issues(reading)
    if not reading.issues and not reading.entry_of:
        reading.issues.append(("required", "The Bundle holds no result the assessment uses.", "Bundle.entry"))
    if reading.issues:
        raise BundleRefused(422, reading.issues)
    identifier = payload.get("identifier") or {}
    record = ResultImport(
        patient=reading.patient,
        sample_date=reading.sample_date,
        results=reading.results,
        source=str(identifier.get("value") or payload.get("id") or "")[:200],
        created_by=by,
    )
    record.full_clean()
    record.save()
    return record
