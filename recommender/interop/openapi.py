"""The OpenAPI 3.1 description of the JSON API. A test checks live responses against it."""

from __future__ import annotations

from recommender.guideline.citations import GUIDELINE, REVIEW, SECONDARY, STUDY
from recommender.guideline.inputs import FLAGS, MEASUREMENTS, NUMBERS, NumericInput
from recommender.guideline.ruleset import DEFAULT_RULESET
from recommender.guideline.units import UMOL_PER_L
from recommender.interop.cds import openapi as cds_openapi
from recommender.vocabulary import Basis, Indication, Level, Pattern, Status, WarningCode

STATUSES = Status.values
WARNING_CODES = [
    "folic_acid",
    "severe_prefer_im",
    "neuro_urgent_advice",
    "mma_renal",
    "individualised_regimen",
    "no_biomarker_titration",
    "pregnancy",
]


def _spellings(unit: str) -> list[str]:
    """A unit as the contract spells it, and the micro-sign spellings the API accepts for µmol/L."""
    return [unit, "µmol/L", "μmol/L"] if unit == UMOL_PER_L else [unit]


def _ranges_words(ranges: dict) -> str:
    return "; ".join(r.words(u) for u, r in ranges.items())


def _measurement(spec: NumericInput) -> dict:
    """A measurement's schema from the engine's definition: its units, and the plausible range in each unit."""
    value = {
        "type": "number",
        "description": f"{spec.label}, as reported. Plausible: {_ranges_words(spec.plausible)}.",
        "x-decimal-places": spec.decimal_places,
    }
    props: dict = {
        "value": value,
        "unit": {"type": "string", "enum": [s for u in spec.units for s in _spellings(u)]},
    }
    if spec.limit_plausible:
        props["upper_limit"] = {
            "type": "number",
            "description": "The lab's upper reference limit, in the same unit as the value. Plausible: "
            f"{_ranges_words(spec.limit_plausible)}.",
        }
    by_unit = []
    for unit, allowed in spec.plausible.items():
        branch: dict = {"unit": {"enum": _spellings(unit)}, "value": allowed.schema()}
        if spec.limit_plausible:
            branch["upper_limit"] = spec.limit_plausible[unit].schema()
        by_unit.append({"properties": branch})
    schema = {"type": "object", "required": ["value", "unit"], "additionalProperties": False, "properties": props}
    # Each unit with its own range: exactly one branch matches a known unit.
    return {**schema, "oneOf": by_unit} if len(by_unit) > 1 else {**schema, "allOf": by_unit}


def _plain_number(spec: NumericInput) -> dict:
    unit = next(iter(spec.units))
    return {
        "type": "number",
        **spec.plausible[unit].schema(),
        "description": f"{spec.label}; plausible {spec.plausible[unit].words(unit)}.",
        "x-decimal-places": spec.decimal_places,
    }


def request_schema() -> dict:
    """The request body, generated from the same input definitions the engine and the HTML form use."""
    # A result or a flag sent as null is not given, as if left out (the engine reads it so): the schema says so.
    properties: dict = {
        **{field: {"anyOf": [{"type": "null"}, _measurement(spec)]} for field, spec in MEASUREMENTS.items()},
        **{field: {**_plain_number(spec), "type": ["number", "null"]} for field, spec in NUMBERS.items()},
        **{
            field: {"type": ["boolean", "null"], "default": False, "description": f"{flag.label} (null: false)."}
            for field, flag in FLAGS.items()
        },
        "profile": {
            "type": "string",
            "description": "A lab or assay profile (name or id) whose thresholds apply; default: the profile "
            "marked default, else the ruleset's own.",
        },
    }
    properties["ileal_resection_cm"]["default"] = 0
    return {
        "type": "object",
        "additionalProperties": False,
        # At least one B12 result, given (not null).
        "anyOf": [{"required": [field], "properties": {field: {"type": "object"}}} for field in ("b12", "active_b12")],
        "properties": properties,
    }


_NUMBER_RANGE = {
    "type": "object",
    "required": ["min", "max"],
    "properties": {"min": {"type": "integer"}, "max": {"type": "integer"}},
}
_CITED = {"type": "array", "items": {"type": "string"}, "minItems": 1}
_STATEMENT = {
    "type": "object",
    "required": ["text", "citations", "secondary_only"],
    "properties": {
        "text": {"type": "string"},
        "citations": _CITED,
        "secondary_only": {
            "type": "boolean",
            "description": "True when the statement rests only on secondary or unverified sources.",
        },
    },
}
_LOADING = {
    "type": "object",
    "required": ["drug", "dose_mg", "route", "pattern", "weeks", "until"],
    "properties": {
        "drug": {"const": DEFAULT_RULESET.drug},
        "dose_mg": {"const": DEFAULT_RULESET.dose_mg},
        "route": {"const": DEFAULT_RULESET.route},
        "pattern": {"enum": Pattern.values},
        "weeks": {"type": ["integer", "null"]},
        "until": {"enum": ["fixed_course", "no_further_improvement"]},
        "doses": {"type": ["integer", "null"]},
        "text": {"type": "string"},
        "citations": _CITED,
    },
}
_MAINTENANCE = {
    "type": "object",
    "required": ["drug", "dose_mg", "route", "every_months", "lifelong"],
    "properties": {
        "drug": {"const": DEFAULT_RULESET.drug},
        "dose_mg": {"const": DEFAULT_RULESET.dose_mg},
        "route": {"const": DEFAULT_RULESET.route},
        "every_months": {
            "type": "object",
            "required": ["min", "max"],
            "properties": {"min": {"type": "integer"}, "max": {"type": "integer"}},
        },
        "lifelong": {"type": "boolean"},
        "text": {"type": "string"},
        "citations": _CITED,
    },
}
# Codes beyond the contract's (more may be added).
OTHER_WARNING_CODES = [code for code in WarningCode.values if code not in WARNING_CODES]

SCHEMAS: dict = {
    "RecommendationRequest": request_schema(),
    "Recommendation": {
        "type": "object",
        "required": [
            "status",
            "basis",
            "headline",
            "next_test",
            "im_recommended",
            "indications",
            "loading",
            "maintenance",
            "oral_option",
            "treatment_pending_mma",
            "warnings",
            "monitoring",
            "ruleset",
            "rationale",
            "citations",
        ],
        "properties": {
            "status": {"enum": STATUSES},
            "basis": {"enum": Basis.values},
            "next_test": {"enum": [Basis.MMA.value, None]},
            "im_recommended": {"type": "boolean"},
            "indications": {
                "type": "array",
                "uniqueItems": True,
                "items": {"enum": Indication.values},
            },
            "headline": {
                "type": "string",
                "description": "One sentence the page leads with; it agrees with the regimen and the alerts.",
            },
            "loading": {"oneOf": [{"type": "null"}, _LOADING]},
            "maintenance": {"oneOf": [{"type": "null"}, _MAINTENANCE]},
            "treatment_pending_mma": {
                "description": "Neurological signs with an indeterminate result and no MMA: the treatment a clinician "
                "may start now, without waiting for the MMA result (status, im_recommended and next_test keep "
                "their meanings).",
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["loading", "maintenance", "reason"],
                        "properties": {"loading": _LOADING, "maintenance": _MAINTENANCE, "reason": {"type": "string"}},
                    },
                ],
            },
            "oral_option": {
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["dose_mcg", "frequency", "after_loading"],
                        "properties": {
                            "dose_mcg": _NUMBER_RANGE,
                            "frequency": {"const": "daily"},
                            "after_loading": {"type": "boolean"},
                        },
                    },
                ]
            },
            "warnings": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Codes; the contract's are "
                + ", ".join(WARNING_CODES)
                + "; others: "
                + ", ".join(OTHER_WARNING_CODES)
                + "; more may be added.",
            },
            "alerts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["code", "level", "text", "citations", "secondary_only"],
                    "properties": {
                        "code": {"type": "string"},
                        "level": {"enum": Level.values},
                        "text": {"type": "string"},
                        "citations": _CITED,
                        "secondary_only": _STATEMENT["properties"]["secondary_only"],
                    },
                },
            },
            "monitoring": {
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": [
                            "every_months_until_stable",
                            "every_months_after_stable",
                            "tests",
                            "homocysteine_target_umol_per_l",
                        ],
                        "properties": {
                            "every_months_until_stable": {"type": "integer"},
                            "every_months_after_stable": {"type": "integer"},
                            "tests": {"type": "array", "items": {"type": "string"}},
                            "homocysteine_target_umol_per_l": {"type": "number"},
                            "first_review_months": {"type": "integer"},
                            "caveats": {"type": "array", "items": {"type": "string"}},
                            "statements": {"type": "array", "minItems": 1, "items": _STATEMENT},
                            "citations": _CITED,
                        },
                    },
                ]
            },
            "ruleset": {
                "type": "object",
                "required": ["id", "version"],
                "properties": {"id": {"type": "string"}, "version": {"type": "string"}},
            },
            "thresholds": {"type": "object"},
            "measurements": {"type": "object"},
            "rationale": {
                "type": "array",
                "minItems": 1,
                "items": _STATEMENT,
            },
            "citations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "title", "source", "year", "kind", "verified"],
                    "properties": {
                        "id": {"type": "string"},
                        "title": {"type": "string"},
                        "source": {"type": "string"},
                        "year": {"type": "integer"},
                        "kind": {"enum": [GUIDELINE, REVIEW, STUDY, SECONDARY]},
                        "verified": {"type": "boolean"},
                    },
                },
            },
        },
    },
    "Errors": {
        "type": "object",
        "required": ["errors"],
        "additionalProperties": False,
        "properties": {
            "errors": {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            }
        },
    },
    "OpenApiDocument": {
        "type": "object",
        "required": ["openapi", "info", "servers", "components", "paths"],
        "properties": {
            "openapi": {"const": "3.1.0"},
            "info": {
                "type": "object",
                "required": ["title", "version"],
                "properties": {"title": {"type": "string"}, "version": {"type": "string"}},
            },
            "servers": {"type": "array", "items": {"type": "object", "required": ["url"]}, "minItems": 1},
            "components": {"type": "object", "required": ["schemas"]},
            "paths": {"type": "object", "minProperties": 1},
        },
    },
}


def _json(schema_name: str) -> dict:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}}


# FHIR R4 (issue 15): resources as the specification defines them (http://hl7.org/fhir/R4/); the tests validate
# every one the server emits against the official R4 JSON Schema, so only their outline is described here.
FHIR_READABLE = ["Patient", "Observation", "CarePlan", "MedicationRequest", "MedicationAdministration"]
FHIR_SCHEMAS: dict = {
    "FhirResource": {
        "type": "object",
        "description": "A FHIR R4 resource (http://hl7.org/fhir/R4/): " + ", ".join(FHIR_READABLE) + ".",
        "required": ["resourceType", "id"],
        "properties": {"resourceType": {"enum": FHIR_READABLE}, "id": {"type": "string"}},
    },
    "FhirBundle": {
        "type": "object",
        "description": "A FHIR R4 Bundle (searchset from $everything; collection or transaction of Observations in).",
        "required": ["resourceType", "type"],
        "properties": {
            "resourceType": {"const": "Bundle"},
            "type": {"type": "string"},
            "entry": {"type": "array", "items": {"type": "object"}},
        },
    },
    "CapabilityStatement": {
        "type": "object",
        "required": ["resourceType", "status", "kind", "fhirVersion", "format"],
        "properties": {"resourceType": {"const": "CapabilityStatement"}, "fhirVersion": {"const": "4.0.1"}},
    },
    "OperationOutcome": {
        "type": "object",
        "description": "What went wrong (or, after an import, where to go next); each issue names its entry.",
        "required": ["resourceType", "issue"],
        "properties": {
            "resourceType": {"const": "OperationOutcome"},
            "issue": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["severity", "code"],
                    "properties": {
                        "severity": {"enum": ["fatal", "error", "warning", "information"]},
                        "code": {"type": "string"},
                        "diagnostics": {"type": "string"},
                        "expression": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
    },
}


def _fhir(schema_name: str, description: str) -> dict:
    return {
        "description": description,
        "content": {"application/fhir+json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}},
    }


_FHIR_REFUSED = {
    "401": _fhir("OperationOutcome", "Not authenticated (an API token or a session)"),
    "403": _fhir("OperationOutcome", "The account's role may not see this"),
}


def _fhir_paths() -> dict:
    """The FHIR R4 endpoints: metadata, $everything, read by id, and lab results in."""
    return {
        "/fhir/r4/metadata": {
            "get": {
                "operationId": "fhirMetadata",
                "summary": "The FHIR CapabilityStatement: what this server serves (no sign-in needed)",
                "security": [],
                "responses": {"200": _fhir("CapabilityStatement", "FHIR R4 CapabilityStatement")},
            }
        },
        "/fhir/r4/Patient/{id}/$everything": {
            "get": {
                "operationId": "fhirPatientEverything",
                "summary": "The patient's record as a searchset Bundle: Patient, Observations, CarePlans, "
                "MedicationRequests, MedicationAdministrations",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": _fhir("FhirBundle", "A searchset Bundle"),
                    **_FHIR_REFUSED,
                    "404": _fhir("OperationOutcome", "No patient with this id"),
                },
            }
        },
        "/fhir/r4/{type}/{id}": {
            "get": {
                "operationId": "fhirRead",
                "summary": "One resource by its id (the fullUrl of its $everything entry)",
                "parameters": [
                    {"name": "type", "in": "path", "required": True, "schema": {"enum": FHIR_READABLE}},
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": _fhir("FhirResource", "The resource"),
                    **_FHIR_REFUSED,
                    "404": _fhir("OperationOutcome", "No such resource"),
                },
            }
        },
        "/fhir/r4/Bundle": {
            "post": {
                "operationId": "fhirImportResults",
                "summary": "Lab results in: a collection or transaction Bundle of Observations for one patient. "
                "Nothing decides: the answer links to the assessment form, pre-filled",
                "requestBody": {
                    "required": True,
                    "content": {"application/fhir+json": {"schema": {"$ref": "#/components/schemas/FhirBundle"}}},
                },
                "responses": {
                    "201": {
                        **_fhir("OperationOutcome", "Received; the Location header is the pre-filled assessment form"),
                        "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
                    },
                    "400": _fhir("OperationOutcome", "Not a Bundle of the accepted type, or not valid FHIR"),
                    **_FHIR_REFUSED,
                    "413": _fhir("OperationOutcome", "The request body is too large"),
                    "422": _fhir("OperationOutcome", "An entry not understood (code, unit, patient, value): named"),
                },
            }
        },
    }


def openapi_document(server_url: str = "/") -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "B12 recommender API",
            "version": "1.0.0",
            "description": f"Whether intramuscular {DEFAULT_RULESET.drug} is indicated, which regimen, and why. "
            "Stateless: nothing is stored. Fields: " + ", ".join(MEASUREMENTS) + " and the clinical flags.",
        },
        "servers": [{"url": server_url}],
        "components": {
            "schemas": {**SCHEMAS, **FHIR_SCHEMAS, **cds_openapi.SCHEMAS},
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
                "bearer": {"type": "http", "scheme": "bearer"},
                **cds_openapi.SECURITY_SCHEMES,
            },
        },
        "security": [{"session": []}, {"bearer": []}],
        "paths": {
            "/api/v1/recommendation": {
                "post": {
                    "operationId": "recommend",
                    "summary": f"Decide on IM {DEFAULT_RULESET.drug} from B12 results and the clinical context",
                    "requestBody": {"required": True, "content": _json("RecommendationRequest")},
                    "responses": {
                        "200": {"description": "The decision", "content": _json("Recommendation")},
                        "400": {"description": "Invalid input; each bad field is named", "content": _json("Errors")},
                        "401": {"description": "Not authenticated", "content": _json("Errors")},
                        "403": {
                            "description": "Authenticated, but the account has no clinical role",
                            "content": _json("Errors"),
                        },
                        "413": {"description": "The request body is too large", "content": _json("Errors")},
                        "503": {
                            "description": "The service is unavailable (its database cannot be reached); try again",
                            "content": _json("Errors"),
                        },
                    },
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This description",
                    "responses": {
                        "200": {"description": "This OpenAPI 3.1 document", "content": _json("OpenApiDocument")},
                        "401": {"description": "Not authenticated", "content": _json("Errors")},
                        "403": {
                            "description": "Authenticated, but the account has no clinical role",
                            "content": _json("Errors"),
                        },
                    },
                }
            },
            **_fhir_paths(),
            **cds_openapi.PATHS,
        },
    }
