"""Schemathesis against the API's own OpenAPI description, fetched from /api/v1/openapi.json with a token.

For every documented operation it generates requests that fit the description and requests that break it, sends
them through the whole Django stack, and checks each answer: no 5xx, a status the description documents, a body
matching the documented schema, a matching content type.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import ignored_auth

from recommender.access.services import access_token_issue
from recommender.interop.openapi import openapi_document
from recommender.models import AccessToken, LabProfile

FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), database=None)


def _places() -> dict[str, int]:
    """How many decimal places each measurement may carry: the description states it as x-decimal-places, a limit
    JSON Schema cannot say exactly for decimal numbers (multipleOf 0.000001 fails on binary floats)."""
    request = openapi_document()["components"]["schemas"]["RecommendationRequest"]["properties"]
    places = {}
    for name, spec in request.items():
        spec = next((branch for branch in spec.get("anyOf", []) if branch.get("type") != "null"), spec)  # or null
        if "x-decimal-places" in spec:  # a plain number, such as eGFR
            places[name] = spec["x-decimal-places"]
        elif "x-decimal-places" in spec.get("properties", {}).get("value", {}):  # a value with its unit
            places[name] = spec["properties"]["value"]["x-decimal-places"]
    return places


PLACES = _places()


def as_reported(case):
    """A schema-valid request with each value carrying no more decimal places than the description allows."""
    if isinstance(case.body, dict):
        for name, places in PLACES.items():
            if isinstance(case.body.get(name), float):
                case.body[name] = round(case.body[name], places) or 10**-places
            measurement = case.body.get(name)
            for key in ("value", "upper_limit"):
                value = measurement.get(key) if isinstance(measurement, dict) else None
                if isinstance(value, float):
                    # Ranges start above 0: a tiny value rounds up to the smallest one the lab could report.
                    measurement[key] = round(value, places) or 10**-places
    if isinstance(case.body, dict) and "profile" in case.body:
        # The description cannot list the lab profiles a hospital has defined: a valid request names a real one.
        case.body["profile"] = LAB_PROFILE
    return case


LAB_PROFILE = "Schemathesis lab"


@pytest.fixture(autouse=True)
def _keep_the_test_transactions_connection():
    """The requests run inside this test's transaction, through Django's whole WSGI handler. Its request signals
    would close that connection between requests (on PostgreSQL), as Django's own test client avoids by
    disconnecting them: the same here."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token(db, clinician) -> str:
    LabProfile.objects.create(name=LAB_PROFILE)
    return access_token_issue(user=clinician, purpose=AccessToken.Purpose.API, name="schemathesis")[1]


@pytest.fixture
def operations(token):
    schema = schemathesis.openapi.from_wsgi(
        "/api/v1/openapi.json", get_wsgi_application(), headers={"Authorization": f"Bearer {token}"}
    )
    # The JSON API's operations (the CDS Hooks ones take a client's JWT instead: tests/test_cds_security.py; the FHIR
    # ones are checked against the official FHIR R4 schema in tests/test_fhir.py).
    found = [op for op in (result.ok() for result in schema.get_all_operations()) if op.path.startswith("/api/")]
    # Schemathesis leaves out the description's own address; tests/test_api.py checks that one against its schema.
    assert {f"{op.method.upper()} {op.path}" for op in found} == {"POST /api/v1/recommendation"}
    return found


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_answer_is_documented_and_conforms(operations, token, mode):
    for operation in operations:
        strategy = operation.as_strategy(generation_mode=mode, headers={"Authorization": f"Bearer {token}"})
        if mode is GenerationMode.POSITIVE:
            strategy = strategy.map(as_reported)

        @FUZZ
        @given(case=strategy)
        def check(case):
            # ignored_auth probes by dropping one of the two schemes (session or bearer) and reads the other's success
            # as auth not enforced; test_without_a_token_every_answer_is_documented checks the real thing.
            case.call_and_validate(excluded_checks=[ignored_auth])

        check()


def test_without_a_token_every_answer_is_documented(operations):
    """Anonymous callers get the documented 401, never a login page or a 5xx."""
    for operation in operations:

        @settings(FUZZ, max_examples=10)
        @given(case=operation.as_strategy())
        def check(case):
            case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
            response = case.call_and_validate()
            assert response.status_code == 401

        check()


def test_the_description_matches_itself(clinician_client):
    """Schemathesis leaves out the description's own address: its answer is checked against its own schema here."""
    from jsonschema import Draft202012Validator

    doc = clinician_client.get("/api/v1/openapi.json").json()
    schema = doc["paths"]["/api/v1/openapi.json"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    Draft202012Validator({**schema, "components": doc["components"]}).validate(doc)


def test_every_documented_response_has_a_specific_schema():
    """No bare objects: each response of each operation names a schema with its required fields."""
    doc = openapi_document()
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            for status, response in operation["responses"].items():
                content = response.get("content", {})
                content = content.get("application/json") or content.get("application/fhir+json")
                assert content, (path, method, status)
                name = content["schema"]["$ref"].rsplit("/", 1)[1]
                assert doc["components"]["schemas"][name].get("required"), (path, method, status, name)
