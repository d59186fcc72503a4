"""The official FHIR R4 (4.0.1) JSON Schema (HL7, CC0; tests/data/fhir.schema.json) and the value sets of the status
codes it does not check: every resource the app emits is validated against both, and parsed by the R4B models."""

from __future__ import annotations

import functools
import importlib
import json
from pathlib import Path

import jsonschema

SCHEMA_PATH = Path(__file__).parent / "data" / "fhir.schema.json"

# The required value sets of each resource's status-like codes (FHIR R4), which the schema leaves as strings.
STATUS_CODES = {
    "Patient": {},
    "Observation": {
        "status": {
            "registered",
            "preliminary",
            "final",
            "amended",
            "corrected",
            "cancelled",
            "entered-in-error",
            "unknown",
        }
    },
    "CarePlan": {
        "status": {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"},
        "intent": {"proposal", "plan", "order", "option"},
    },
    "MedicationRequest": {
        "status": {"active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft", "unknown"},
        "intent": {
            "proposal",
            "plan",
            "order",
            "original-order",
            "reflex-order",
            "filler-order",
            "instance-order",
            "option",
        },
    },
    "MedicationAdministration": {
        "status": {"in-progress", "not-done", "on-hold", "completed", "entered-in-error", "stopped", "unknown"},
    },
    "Medication": {"status": {"active", "inactive", "entered-in-error"}},
    "Bundle": {
        "type": {
            "document",
            "message",
            "transaction",
            "transaction-response",
            "batch",
            "batch-response",
            "history",
            "searchset",
            "collection",
        }
    },
    "CapabilityStatement": {
        "status": {"draft", "active", "retired", "unknown"},
        "kind": {"instance", "capability", "requirements"},
    },
    "OperationOutcome": {},
}
CAREPLAN_ACTIVITY_STATUS = {
    "not-started",
    "scheduled",
    "in-progress",
    "on-hold",
    "completed",
    "cancelled",
    "stopped",
    "unknown",
    "entered-in-error",
}
MODULES = {
    "CapabilityStatement": "capabilitystatement",
    "MedicationAdministration": "medicationadministration",
    "MedicationRequest": "medicationrequest",
    "CarePlan": "careplan",
    "OperationOutcome": "operationoutcome",
}


@functools.cache
def _schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


@functools.cache
def _validator(definition: str | None):
    schema = _schema() if definition is None else {**_schema(), "oneOf": None, "$ref": f"#/definitions/{definition}"}
    if definition is not None:
        del schema["oneOf"]
    return jsonschema.Draft6Validator(schema)


def schema_errors(data: dict, definition: str | None = None) -> list[str]:
    """The schema's complaints about a resource (its own definition, for messages that say which field) or a
    datatype (by its definition name, e.g. "Dosage")."""
    definition = definition or data.get("resourceType")
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _validator(definition).iter_errors(data)]


def status_errors(resource: dict) -> list[str]:
    kind = resource["resourceType"]
    errors = [
        f"{kind}.{field}={resource.get(field)!r}"
        for field, allowed in STATUS_CODES[kind].items()
        if field in resource and resource[field] not in allowed
    ]
    for activity in resource.get("activity", []) if kind == "CarePlan" else []:
        if activity.get("detail", {}).get("status") not in CAREPLAN_ACTIVITY_STATUS:
            errors.append(f"CarePlan.activity.detail.status={activity.get('detail', {}).get('status')!r}")
    for contained in resource.get("contained", []):
        errors += status_errors(contained)
    for entry in resource.get("entry", []) if kind == "Bundle" else []:
        if "resource" in entry:
            errors += status_errors(entry["resource"])
    return errors


def parse_r4b(resource: dict):
    kind = resource["resourceType"]
    module = importlib.import_module(f"fhir.resources.R4B.{MODULES.get(kind, kind.lower())}")
    return getattr(module, kind).model_validate(resource)


def assert_valid(resource: dict) -> None:
    """Schema, status value sets and the R4B models, for one resource (a Bundle's entries included)."""
    assert schema_errors(resource) == []
    assert status_errors(resource) == []
    parse_r4b(resource)
