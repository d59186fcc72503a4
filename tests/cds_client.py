"""A CDS Hooks client for the tests: freshly generated ES384 and RS384 keys (once per test session), signed JWTs,
prefetch bundles of FHIR Observations, and the calls an EHR makes."""

from __future__ import annotations

import json
import time
import uuid
from functools import cache

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from recommender.interop.cds.services import cds_client_register

ISSUER = "https://ehr.example.org"
ORIGIN = "https://ehr.example.org"
JKU = "https://ehr.example.org/.well-known/jwks.json"
BASE = "http://testserver"
PATIENT_ID = "ehr-patient-1288992"
NHS_NUMBER = "9434765919"


@cache
def keys() -> dict[str, object]:
    """A private key per algorithm, made fresh for this test session."""
    return {
        "ES384": ec.generate_private_key(ec.SECP384R1()),
        "RS384": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    }


def public_jwk(alg: str, kid: str | None = None) -> dict:
    algorithm = jwt.get_algorithm_by_name(alg)
    jwk = json.loads(algorithm.to_jwk(keys()[alg].public_key()))
    return {**jwk, "kid": kid or f"key-{alg.lower()}", "alg": alg, "use": "sig"}


def jwks() -> dict:
    return {"keys": [public_jwk("ES384"), public_jwk("RS384")]}


def register(**overrides):
    fields = {"issuer": ISSUER, "jwks": jwks(), "allowed_jku": [JKU], "origin": ORIGIN, "name": "Test EHR"}
    fields.update(overrides)
    client, _ = cds_client_register(**fields)
    return client


def token(
    path: str, *, alg: str = "ES384", key=None, kid: str | None = None, headers: dict | None = None, **claims
) -> str:
    """A JWT as the EHR signs it for one call to ``path`` (aud = the endpoint's URL); claims override."""
    now = int(time.time())
    payload = {"iss": ISSUER, "sub": "ehr-client", "aud": BASE + path, "iat": now, "exp": now + 300}
    payload["jti"] = str(uuid.uuid4())
    payload.update(claims)
    payload = {name: value for name, value in payload.items() if value is not None}
    header = {"kid": kid or f"key-{alg.lower()}", "typ": "JWT", **(headers or {})}
    return jwt.encode(payload, key or keys()[alg], algorithm=alg, headers=header)


def bearer(raw: str) -> dict:
    return {"Authorization": f"Bearer {raw}"}


def observation(loinc: str, value, unit: str, *, when: str = "2026-11-20", status: str = "final", **extra) -> dict:
    resource = {
        "resourceType": "Observation",
        "id": f"obs-{loinc}-{when}",
        "status": status,
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
    }
    resource.update(extra)
    return resource


def bundle(*observations: dict) -> dict:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(observations),
        "entry": [{"resource": o} for o in observations],
    }


def patient_resource(nhs_number: str = NHS_NUMBER) -> dict:
    return {
        "resourceType": "Patient",
        "id": PATIENT_ID,
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs_number}],
    }


def prefetch(*b12: dict, **others: dict) -> dict:
    """Every prefetch key of the services: the B12 results given, the others empty unless given."""
    found = {"patient": patient_resource(), "b12": bundle(*b12)}
    for key in ("activeB12", "mma", "homocysteine", "egfr"):
        found[key] = others.get(key, bundle())
    return found


def hook_body(hook: str = "patient-view", prefetched: dict | None = None, **context) -> dict:
    body = {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/example", "patientId": PATIENT_ID, **context},
    }
    if prefetched is not None:
        body["prefetch"] = prefetched
    return body


def post(client, path: str, body: dict, *, alg: str = "ES384", **headers):
    return client.post(
        path, json.dumps(body), content_type="application/json", headers={**bearer(token(path, alg=alg)), **headers}
    )
