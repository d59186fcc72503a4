"""The OpenAPI 3.1 description of the JSON API. A test checks live responses against it."""

from __future__ import annotations

from .guideline.inputs import MEASUREMENTS
from .guideline.units import ACTIVE_B12_UNITS, HOMOCYSTEINE_UNITS, MMA_UNITS, TOTAL_B12_UNITS

STATUSES = ["deficient", "indeterminate", "not_deficient"]
WARNING_CODES = [
    "folic_acid",
    "severe_prefer_im",
    "neuro_urgent_advice",
    "mma_renal",
    "individualised_regimen",
    "no_biomarker_titration",
    "pregnancy",
]


def _measurement(units, *, mma: bool = False) -> dict:
    props = {
        "value": {"type": "number", "minimum": 0},
        "unit": {"type": "string", "enum": [*units, *(["µmol/L"] if "umol/L" in units else [])]},
    }
    if mma:
        props["upper_limit"] = {
            "type": "number",
            "exclusiveMinimum": 0,
            "description": "The lab's upper reference limit, in the same unit as the value.",
        }
    return {"type": "object", "required": ["value", "unit"], "additionalProperties": False, "properties": props}


_NUMBER_RANGE = {
    "type": "object",
    "required": ["min", "max"],
    "properties": {"min": {"type": "integer"}, "max": {"type": "integer"}},
}
_CITED = {"type": "array", "items": {"type": "string"}, "minItems": 1}

SCHEMAS: dict = {
    "RecommendationRequest": {
        "type": "object",
        "additionalProperties": False,
        "anyOf": [{"required": ["b12"]}, {"required": ["active_b12"]}],
        "properties": {
            "b12": _measurement(TOTAL_B12_UNITS),
            "active_b12": _measurement(ACTIVE_B12_UNITS),
            "mma": _measurement(MMA_UNITS, mma=True),
            "homocysteine": _measurement(HOMOCYSTEINE_UNITS),
            "egfr": {"type": "number", "minimum": 0, "description": "mL/min/1.73m²"},
            "neurological_involvement": {"type": "boolean", "default": False},
            "severe": {"type": "boolean", "default": False},
            "ileal_resection_cm": {"type": "number", "minimum": 0, "default": 0},
            "bariatric_surgery": {"type": "boolean", "default": False},
            "malabsorption": {"type": "boolean", "default": False},
            "folic_acid": {"type": "boolean", "default": False},
            "pregnant": {"type": "boolean", "default": False},
            "profile": {
                "type": "string",
                "description": "A lab or assay profile (name or id) whose thresholds apply; default: the profile "
                "marked default, else the ruleset's own.",
            },
        },
    },
    "Recommendation": {
        "type": "object",
        "required": [
            "status",
            "basis",
            "next_test",
            "im_recommended",
            "indications",
            "loading",
            "maintenance",
            "oral_option",
            "warnings",
            "monitoring",
            "ruleset",
            "rationale",
            "citations",
        ],
        "properties": {
            "status": {"enum": STATUSES},
            "basis": {"enum": ["b12", "active_b12", "mma"]},
            "next_test": {"enum": ["mma", None]},
            "im_recommended": {"type": "boolean"},
            "indications": {
                "type": "array",
                "uniqueItems": True,
                "items": {"enum": ["deficiency", "ileal_resection", "bariatric_surgery"]},
            },
            "loading": {
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["drug", "dose_mg", "route", "pattern", "weeks", "until"],
                        "properties": {
                            "drug": {"const": "hydroxocobalamin"},
                            "dose_mg": {"const": 1},
                            "route": {"const": "IM"},
                            "pattern": {"enum": ["three_times_weekly", "alternate_days"]},
                            "weeks": {"type": ["integer", "null"]},
                            "until": {"enum": ["fixed_course", "no_further_improvement"]},
                            "doses": {"type": ["integer", "null"]},
                            "text": {"type": "string"},
                        },
                    },
                ]
            },
            "maintenance": {
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["drug", "dose_mg", "route", "every_months", "lifelong"],
                        "properties": {
                            "drug": {"const": "hydroxocobalamin"},
                            "dose_mg": {"const": 1},
                            "route": {"const": "IM"},
                            "every_months": _NUMBER_RANGE,
                            "lifelong": {"type": "boolean"},
                            "text": {"type": "string"},
                        },
                    },
                ]
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
                "description": "Codes; the contract's are " + ", ".join(WARNING_CODES) + "; more may be added.",
            },
            "alerts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["code", "level", "text", "citations"],
                    "properties": {
                        "code": {"type": "string"},
                        "level": {"enum": ["red_flag", "caution", "advice"]},
                        "text": {"type": "string"},
                        "citations": _CITED,
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
                "items": {
                    "type": "object",
                    "required": ["text", "citations"],
                    "properties": {"text": {"type": "string"}, "citations": _CITED},
                },
            },
            "citations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "title", "source", "year"],
                    "properties": {
                        "id": {"type": "string"},
                        "title": {"type": "string"},
                        "source": {"type": "string"},
                        "year": {"type": "integer"},
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
}


def _json(schema_name: str) -> dict:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}}


def openapi_document(server_url: str = "/") -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "B12 recommender API",
            "version": "1.0.0",
            "description": "Whether intramuscular hydroxocobalamin is indicated, which regimen, and why. "
            "Stateless: nothing is stored. Fields: " + ", ".join(MEASUREMENTS) + " and the clinical flags.",
        },
        "servers": [{"url": server_url}],
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
        "security": [{"session": []}, {"bearer": []}],
        "paths": {
            "/api/v1/recommendation": {
                "post": {
                    "operationId": "recommend",
                    "summary": "Decide on IM hydroxocobalamin from B12 results and the clinical context",
                    "requestBody": {"required": True, "content": _json("RecommendationRequest")},
                    "responses": {
                        "200": {"description": "The decision", "content": _json("Recommendation")},
                        "400": {"description": "Invalid input; each bad field is named", "content": _json("Errors")},
                        "401": {"description": "Not authenticated", "content": _json("Errors")},
                    },
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This description",
                    "responses": {"200": {"description": "OpenAPI 3.1 document"}},
                }
            },
        },
    }
