"""The client's JWT on every CDS Hooks call, discovery included: ES384 and RS384 from a registered issuer with the
exact endpoint URL as audience, unexpired, used once. Everything else is 401 and tells the client why."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jwt.utils import base64url_encode

from recommender.models import CdsJwtUse
from tests.cds_client import BASE, ISSUER, JKU, ORIGIN, bearer, hook_body, keys, prefetch, register, token

DISCOVERY = "/cds-services"
REVIEW = "/cds-services/b12-review"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def registered(db):
    return register()


@pytest.mark.parametrize("alg", ["ES384", "RS384"])
def test_discovery_with_a_signed_jwt_lists_both_services(client, alg):
    response = client.get(DISCOVERY, headers=bearer(token(DISCOVERY, alg=alg)))
    assert response.status_code == 200
    services = {s["id"]: s for s in response.json()["services"]}
    assert services["b12-review"]["hook"] == "patient-view"
    assert services["b12-order-check"]["hook"] == "order-sign"
    assert "http://loinc.org|2132-9" in services["b12-review"]["prefetch"]["b12"]
    assert services["b12-review"]["prefetch"]["patient"] == "Patient/{{context.patientId}}"


def _refused(response, words: str) -> None:
    assert response.status_code == 401, response.content
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert words in " ".join(response.json()["errors"]["auth"])


def test_discovery_without_a_jwt_is_refused(client):
    _refused(client.get(DISCOVERY), "Bearer")


def test_a_session_is_not_enough(clinician_client):
    _refused(clinician_client.get(DISCOVERY), "Bearer")


def test_unknown_issuer(client):
    _refused(client.get(DISCOVERY, headers=bearer(token(DISCOVERY, iss="https://other.example"))), "not a registered")


def test_deactivated_client(client, registered):
    registered.active = False
    registered.save()
    _refused(client.get(DISCOVERY, headers=bearer(token(DISCOVERY))), "not a registered")


def _unsigned(path: str) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": BASE + path, "iat": now, "exp": now + 60, "jti": "x1"}
    return jwt.encode(claims, None, algorithm="none", headers={"kid": "key-es384"})


def test_alg_none(client):
    _refused(client.get(DISCOVERY, headers=bearer(_unsigned(DISCOVERY))), "ES384 or RS384")


@pytest.mark.parametrize("alg", ["HS256", "HS384", "ES256", "RS256"])
def test_other_algorithms(client, alg):
    key = "a-shared-secret-long-enough-for-any-hmac-algorithm-0123456789" if alg.startswith("HS") else None
    if alg == "ES256":
        key = ec.generate_private_key(ec.SECP256R1())
    if alg == "RS256":
        key = keys()["RS384"]
    raw = token(DISCOVERY, alg=alg, key=key, kid="key-es384")
    _refused(client.get(DISCOVERY, headers=bearer(raw)), "ES384 or RS384")


def test_hmac_with_the_public_key_as_secret(client):
    """The classic key confusion: HS384 'signed' with the registered public key as the secret must not pass."""
    public_pem = keys()["RS384"].public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    now = int(time.time())
    header = base64url_encode(b'{"alg":"HS384","kid":"key-rs384","typ":"JWT"}')
    payload = base64url_encode(
        json.dumps({"iss": ISSUER, "aud": BASE + DISCOVERY, "exp": now + 60, "iat": now, "jti": "hmac-1"}).encode()
    )
    signature = base64url_encode(hmac.new(public_pem, header + b"." + payload, hashlib.sha384).digest())
    _refused(client.get(DISCOVERY, headers=bearer(b".".join([header, payload, signature]).decode())), "ES384 or RS384")


def test_wrong_audience(client):
    raw = token(DISCOVERY, aud=BASE + REVIEW)
    _refused(client.get(DISCOVERY, headers=bearer(raw)), "'aud' must be this endpoint's URL exactly")


def test_audience_of_another_host(client):
    _refused(client.get(DISCOVERY, headers=bearer(token(DISCOVERY, aud="https://evil.example/cds-services"))), "aud")


def test_audience_as_a_list_is_refused(client):
    _refused(client.get(DISCOVERY, headers=bearer(token(DISCOVERY, aud=[BASE + DISCOVERY, "x"]))), "aud")


def test_expired(client):
    now = int(time.time())
    _refused(client.get(DISCOVERY, headers=bearer(token(DISCOVERY, iat=now - 900, exp=now - 120))), "expired")


def test_no_expiry(client):
    _refused(client.get(DISCOVERY, headers=bearer(token(DISCOVERY, exp=None))), "'exp'")


def test_too_long_lived(client):
    _refused(client.get(DISCOVERY, headers=bearer(token(DISCOVERY, exp=int(time.time()) + 86400))), "expire within")


def test_no_jti(client):
    _refused(client.get(DISCOVERY, headers=bearer(token(DISCOVERY, jti=None))), "'jti'")


def test_replayed_jti(client):
    raw = token(DISCOVERY)
    assert client.get(DISCOVERY, headers=bearer(raw)).status_code == 200
    _refused(client.get(DISCOVERY, headers=bearer(raw)), "replayed")
    # The same jti in a freshly signed token is a replay too.
    jti = jwt.decode(raw, options={"verify_signature": False})["jti"]
    _refused(client.get(DISCOVERY, headers=bearer(token(DISCOVERY, jti=jti))), "replayed")
    assert CdsJwtUse.objects.filter(jti=jti).count() == 1


def test_bad_signature(client):
    raw = token(DISCOVERY, key=ec.generate_private_key(ec.SECP384R1()))
    _refused(client.get(DISCOVERY, headers=bearer(raw)), "signature does not verify")


def test_tampered_claims(client):
    header, _, signature = token(DISCOVERY).split(".")
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": BASE + DISCOVERY, "exp": now + 60, "iat": now, "jti": "tampered"}
    forged = base64url_encode(json.dumps(claims).encode()).decode()
    _refused(client.get(DISCOVERY, headers=bearer(f"{header}.{forged}.{signature}")), "signature does not verify")


def test_unknown_kid(client):
    _refused(client.get(DISCOVERY, headers=bearer(token(DISCOVERY, kid="rotated-away"))), "'kid'")


def test_key_of_the_wrong_type_for_the_algorithm(client):
    """An RS384 token naming the EC key's kid: no key of that type, refused."""
    _refused(client.get(DISCOVERY, headers=bearer(token(DISCOVERY, alg="RS384", kid="key-es384"))), "'kid'")


def test_jku_not_allowlisted(client):
    raw = token(DISCOVERY, headers={"jku": "https://attacker.example/jwks.json"})
    _refused(client.get(DISCOVERY, headers=bearer(raw)), "'jku'")


def test_jku_allowlisted_passes(client):
    assert client.get(DISCOVERY, headers=bearer(token(DISCOVERY, headers={"jku": JKU}))).status_code == 200


def test_not_a_jwt(client):
    _refused(client.get(DISCOVERY, headers=bearer("not.a.jwt")), "not a JWT")


@pytest.mark.parametrize("path", [REVIEW, f"{REVIEW}/feedback"])
def test_services_and_feedback_need_the_jwt_too(client, path):
    response = client.post(path, json.dumps(hook_body(prefetched=prefetch())), content_type="application/json")
    _refused(response, "Bearer")


def test_behind_a_proxy_the_public_url_is_the_audience(client, settings):
    settings.B12_CDS_BASE_URL = "https://b12.example.org"
    assert client.get(DISCOVERY, headers=bearer(token(DISCOVERY))).status_code == 401
    raw = token(DISCOVERY, aud="https://b12.example.org/cds-services")
    assert client.get(DISCOVERY, headers=bearer(raw)).status_code == 200


def test_forwarded_proto_counts_only_from_a_trusted_proxy(client, settings):
    """Without SECURE_PROXY_SSL_HEADER an X-Forwarded-Proto header changes nothing: the aud stays http://."""
    https = token(DISCOVERY, aud="https://testserver/cds-services")
    assert client.get(DISCOVERY, headers={**bearer(https), "X-Forwarded-Proto": "https"}).status_code == 401
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    again = token(DISCOVERY, aud="https://testserver/cds-services")
    response = client.get(DISCOVERY, headers={**bearer(again), "X-Forwarded-Proto": "https", "Host": "testserver"})
    assert response.status_code == 200, response.json()


# --- CORS: the registered EHR's origin, on the CDS endpoints only ---


def test_cors_preflight_for_the_registered_origin(client):
    response = client.options(REVIEW, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "authorization" in response.headers["Access-Control-Allow-Headers"]


def test_cors_refused_for_another_origin(client):
    response = client.options(
        REVIEW, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_not_on_the_rest_of_the_site(client):
    response = client.options(
        "/api/v1/recommendation", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    )
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_on_the_answer_of_a_call(client):
    response = client.get(DISCOVERY, headers={**bearer(token(DISCOVERY)), "Origin": ORIGIN})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
