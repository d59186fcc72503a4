"""The CDS Hooks endpoints in the OpenAPI description (merged into recommender/interop/openapi.py)."""

from __future__ import annotations

from recommender.interop.cds.discovery import SERVICES
from recommender.models import CdsFeedback


def _json(name: str) -> dict:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}


_OBJECT = {"type": "object"}
SECURITY_SCHEMES = {
    "cdsJwt": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "CDS Hooks 2.0.1: a JWT signed ES384 or RS384 by a registered client, aud = the endpoint URL, "
        "exp within minutes, a new jti per call.",
    }
}
SCHEMAS = {
    "CdsDiscovery": {
        "type": "object",
        "required": ["services"],
        "properties": {
            "services": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["hook", "id", "description"],
                    "properties": {
                        "hook": {"type": "string"},
                        "id": {"type": "string", "enum": list(SERVICES)},
                        "title": {"type": "string"},
                        "description": {"type": "string"},
                        "prefetch": {"type": "object", "additionalProperties": {"type": "string"}},
                        "usageRequirements": {"type": "string"},
                    },
                },
            }
        },
    },
    "CdsHookRequest": {
        "type": "object",
        "required": ["hook", "hookInstance", "context"],
        "properties": {
            "hook": {"type": "string", "enum": sorted({s.hook for s in SERVICES.values()})},
            "hookInstance": {"type": "string"},
            "fhirServer": {"type": "string"},
            "context": {
                "type": "object",
                "required": ["patientId"],
                "properties": {"patientId": {"type": "string"}, "userId": {"type": "string"}, "draftOrders": _OBJECT},
            },
            "prefetch": {"type": "object", "additionalProperties": {"type": ["object", "null"]}},
        },
    },
    "CdsCards": {
        "type": "object",
        "required": ["cards"],
        "properties": {
            "cards": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["uuid", "summary", "indicator", "source"],
                    "properties": {
                        "uuid": {"type": "string", "format": "uuid"},
                        "summary": {"type": "string", "maxLength": 139},
                        "indicator": {"enum": ["info", "warning", "critical"]},
                        "detail": {"type": "string", "description": "GitHub-flavoured markdown"},
                        "source": {"type": "object", "required": ["label"]},
                        "suggestions": {"type": "array", "items": _OBJECT},
                        "selectionBehavior": {"enum": ["at-most-one"]},
                        "overrideReasons": {"type": "array", "items": _OBJECT},
                        "links": {"type": "array", "items": _OBJECT},
                    },
                },
            }
        },
    },
    "CdsFeedback": {
        "type": "object",
        "required": ["feedback"],
        "properties": {
            "feedback": {
                "type": "array",
                "maxItems": 100,
                "items": {
                    "type": "object",
                    "required": ["card", "outcome", "outcomeTimestamp"],
                    "properties": {
                        "card": {"type": "string", "format": "uuid"},
                        "outcome": {"enum": CdsFeedback.Outcome.values},
                        "acceptedSuggestions": {"type": "array", "items": {"type": "object", "required": ["id"]}},
                        "overrideReason": {
                            "type": "object",
                            "properties": {"reason": _OBJECT, "userComment": {"type": "string"}},
                        },
                        "outcomeTimestamp": {"type": "string", "format": "date-time"},
                    },
                },
            }
        },
    },
    "CdsFeedbackStored": {"type": "object", "required": ["stored"], "properties": {"stored": {"type": "integer"}}},
}
_REFUSED = {
    "401": {"description": "No JWT, or one that fails a check (the reason is given)", "content": _json("Errors")},
}
_SERVICE_ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string", "enum": list(SERVICES)}}]
PATHS = {
    "/cds-services": {
        "get": {
            "operationId": "cdsDiscovery",
            "tags": ["CDS Hooks"],
            "summary": "CDS Hooks discovery: the services and their prefetch templates",
            "security": [{"cdsJwt": []}],
            "responses": {"200": {"description": "The services", "content": _json("CdsDiscovery")}, **_REFUSED},
        }
    },
    "/cds-services/{id}": {
        "post": {
            "operationId": "cdsService",
            "tags": ["CDS Hooks"],
            "summary": "Cards for a hook (patient-view: b12-review; order-sign: b12-order-check)",
            "security": [{"cdsJwt": []}],
            "parameters": _SERVICE_ID,
            "requestBody": {"required": True, "content": _json("CdsHookRequest")},
            "responses": {
                "200": {
                    "description": 'The cards ({"cards": []} when there is no advice)',
                    "content": _json("CdsCards"),
                },
                "400": {"description": "A bad request or prefetched result, each named", "content": _json("Errors")},
                **_REFUSED,
                "404": {"description": "No such service", "content": _json("Errors")},
                "412": {"description": "Prefetch missing and no FHIR server", "content": _json("Errors")},
                "413": {"description": "The request body is too large", "content": _json("Errors")},
            },
        }
    },
    "/cds-services/{id}/feedback": {
        "post": {
            "operationId": "cdsFeedback",
            "tags": ["CDS Hooks"],
            "summary": "What the clinician did with the cards: accepted, or overridden and why",
            "security": [{"cdsJwt": []}],
            "parameters": _SERVICE_ID,
            "requestBody": {"required": True, "content": _json("CdsFeedback")},
            "responses": {
                "200": {"description": "All items stored", "content": _json("CdsFeedbackStored")},
                "400": {"description": "Nothing stored; each bad item named", "content": _json("Errors")},
                **_REFUSED,
                "404": {"description": "No such service", "content": _json("Errors")},
            },
        }
    },
}
