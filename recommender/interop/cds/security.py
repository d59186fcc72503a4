"""The client's JWT, checked on every call (CDS Hooks 2.0.1 "Trusting CDS Clients"): signed ES384 or RS384 with a
key of a registered, active client; ``aud`` the exact endpoint URL; ``exp`` in the near future; ``jti`` used once.

Any failure raises ``Unauthorised`` with a reason for the client's developer (never which part of a key was wrong
beyond what the client sent)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from recommender import shared_cache
from recommender.models import CdsClient, CdsJwtUse

ALGORITHMS = ("ES384", "RS384")
# The key type each algorithm needs: an RSA key can never verify an ES384 token, nor an EC key an RS384 one.
_KEY_TYPE = {"ES384": "EC", "RS384": "RSA"}
REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "jti")
_SWEEP_ONE_IN = 50


class Unauthorised(Exception):
    pass


def endpoint_url(request: HttpRequest) -> str:
    """The URL the client called, as the JWT's ``aud`` must name it: ``B12_CDS_BASE_URL`` when set (a proxy that
    rewrites the host), else the request's own scheme and host (SECURE_PROXY_SSL_HEADER and USE_X_FORWARDED_HOST
    apply behind a trusted proxy)."""
    base = settings.B12_CDS_BASE_URL
    if base:
        return base.rstrip("/") + request.path
    return request.build_absolute_uri(request.path)


def _bearer(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorised("Send the client's signed JWT as 'Authorization: Bearer <jwt>'.")
    return token.strip()


def _header_and_issuer(token: str) -> tuple[dict, str]:
    try:  # header and claims in one parse: which client, which key (nothing is trusted before the signature check)
        unverified = jwt.decode_complete(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise Unauthorised("The bearer token is not a JWT.") from None
    header, claims = unverified["header"], unverified["payload"]
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise Unauthorised(f"The JWT's algorithm must be ES384 or RS384, not {str(alg)[:20]!r}.")
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise Unauthorised("The JWT has no issuer ('iss').")
    return header, issuer


@dataclass(frozen=True, slots=True)
class Registered:
    """An active client with its public keys loaded, by the ``kid`` and algorithm a JWT names."""

    client: CdsClient
    keys: dict[tuple[str, str], tuple]
    unusable: frozenset[tuple[str, str]]  # registered under this kid for this algorithm, but not loadable


def _registered(client: CdsClient) -> Registered:
    keys: dict[tuple[str, str], list] = {}
    unusable = set()
    for jwk in client.jwks.get("keys", []):
        for alg, kty in _KEY_TYPE.items():
            if jwk.get("kty") != kty or jwk.get("crv", "P-384") != "P-384" or not isinstance(jwk.get("kid"), str):
                continue
            try:
                keys.setdefault((jwk["kid"], alg), []).append(jwt.PyJWK(jwk, algorithm=alg).key)
            except jwt.PyJWTError:
                unusable.add((jwk["kid"], alg))
    return Registered(client, {pair: tuple(found) for pair, found in keys.items()}, frozenset(unusable))


def clients_registered() -> dict[str, Registered]:
    """Every active client by issuer, its keys loaded (loading an EC key checks its point: not on every call).
    Kept in each process while the clients are unchanged: any change to a client (deactivated, keys replaced) is
    seen by the next request on every node (recommender/shared_cache.py; without a shared cache, read every time)."""
    return shared_cache.process_through(
        shared_cache.CDS_CLIENTS,
        "active",
        lambda: {client.issuer: _registered(client) for client in CdsClient.objects.filter(active=True)},
    )


def _key(registered: Registered, header: dict) -> tuple:
    jku = header.get("jku")
    if jku is not None and jku not in registered.client.allowed_jku:
        raise Unauthorised("The JWT's 'jku' is not a key-set URL registered for this issuer.")
    kid, alg = header.get("kid"), header["alg"]
    if not isinstance(kid, str) or not kid:
        raise Unauthorised("The JWT's header must name its key ('kid').")
    keys = registered.keys.get((kid, alg))
    if keys:
        return keys
    if (kid, alg) in registered.unusable:
        raise Unauthorised("The issuer's registered key cannot verify this algorithm.")
    raise Unauthorised("No registered key of this issuer matches the JWT's 'kid' and algorithm.")


def _verified_claims(token: str, keys: tuple, alg: str, audience: str) -> dict:
    leeway = settings.B12_CDS_JWT_LEEWAY_SECONDS
    last_error: jwt.PyJWTError | None = None
    for key in keys:
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=audience,
                leeway=leeway,
                options={"require": list(REQUIRED_CLAIMS), "strict_aud": True},
            )
        except jwt.InvalidSignatureError as error:
            last_error = error
            continue
        except jwt.ExpiredSignatureError:
            raise Unauthorised("The JWT has expired.") from None
        except jwt.InvalidAudienceError:
            raise Unauthorised(f"The JWT's 'aud' must be this endpoint's URL exactly: {audience}") from None
        except jwt.MissingRequiredClaimError as missing:
            raise Unauthorised(f"The JWT must carry the '{missing.claim}' claim.") from None
        except jwt.PyJWTError as error:
            raise Unauthorised(f"The JWT is not valid: {error}.") from None
    raise Unauthorised("The JWT's signature does not verify with the issuer's registered keys.") from last_error


@dataclass(frozen=True, slots=True)
class Caller:
    """A registered client whose JWT verified (signature, audience, expiry), its one use not yet recorded."""

    client: CdsClient
    issuer: str
    jti: str
    keep_until: datetime


def _jti(claims: dict) -> tuple[str, datetime]:
    """The JWT id and how long to keep it: until the token expires (it must expire soon)."""
    jti = claims["jti"]
    if not isinstance(jti, str) or not jti or len(jti) > 255:
        raise Unauthorised("The JWT's 'jti' must be a non-empty string (at most 255 characters).")
    lifetime = settings.B12_CDS_JWT_MAX_LIFETIME_SECONDS
    expires_at = datetime.fromtimestamp(claims["exp"], tz=UTC)
    if expires_at > timezone.now() + timedelta(seconds=lifetime + settings.B12_CDS_JWT_LEEWAY_SECONDS):
        raise Unauthorised(f"The JWT must expire within {lifetime} seconds of being sent.")
    return jti, expires_at + timedelta(seconds=settings.B12_CDS_JWT_LEEWAY_SECONDS)


def caller_verify(request: HttpRequest) -> Caller:
    """The registered client whose JWT this request carries, or Unauthorised. The JWT's use is not recorded yet:
    that is done with whatever the call stores, in the same commit (services.call_once; discovery: jti_record_now)."""
    token = _bearer(request)
    header, issuer = _header_and_issuer(token)
    registered = clients_registered().get(issuer)
    if registered is None:
        raise Unauthorised("The JWT's issuer is not a registered CDS Hooks client.")
    claims = _verified_claims(token, _key(registered, header), header["alg"], endpoint_url(request))
    jti, keep_until = _jti(claims)
    return Caller(registered.client, issuer, jti, keep_until)


JTI_CONSTRAINT = CdsJwtUse._meta.constraints[0].name  # the unique (issuer, jti) that refuses a replay
REPLAYED = "This JWT has been used already ('jti' replayed); sign a new one per call."


def jti_row(caller: Caller) -> CdsJwtUse:
    """The record of the JWT's one use, kept until the token expires (unsaved)."""
    return CdsJwtUse(issuer=caller.issuer, jti=caller.jti, expires_at=caller.keep_until)


def jti_sweep() -> None:
    """Now and then, not on every call: the ids of expired tokens go."""
    if secrets.randbelow(_SWEEP_ONE_IN) == 0:
        CdsJwtUse.objects.filter(expires_at__lt=timezone.now()).delete()


def jti_record(caller: Caller) -> None:
    """Record the JWT id until the token expires; a second use (on any node) hits the unique constraint and is
    Unauthorised. Inside a transaction, a refused insert ends it: let the Unauthorised out of the atomic block."""
    try:
        jti_row(caller).save(force_insert=True)
    except IntegrityError:
        raise Unauthorised(REPLAYED) from None
    jti_sweep()


def jti_record_now(caller: Caller) -> None:
    """``jti_record`` for a call that stores nothing else: one INSERT in autocommit."""
    if transaction.get_connection().in_atomic_block:
        with transaction.atomic():  # a savepoint, so that a refused insert leaves the outer transaction usable
            jti_record(caller)
    else:
        jti_record(caller)  # one INSERT in autocommit: no BEGIN and COMMIT round trips


def client_authenticate(request: HttpRequest) -> CdsClient:
    """The registered client whose JWT authenticates this request (a call that stores nothing: discovery), its
    use recorded, or Unauthorised."""
    caller = caller_verify(request)
    jti_record_now(caller)
    return caller.client


def jwks_load(text: str) -> dict:
    """A JWKS from a file's text, checked: public EC P-384 or RSA keys that PyJWT can use. Raises ValueError."""
    try:
        jwks = json.loads(text)
    except ValueError:
        raise ValueError("The key set is not JSON.") from None
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not keys:
        raise ValueError('A JSON Web Key Set is an object with a list of keys: {"keys": [...]}.')
    for number, key in enumerate(keys, 1):
        if not isinstance(key, dict) or key.get("kty") not in _KEY_TYPE.values() or key.get("crv", "P-384") != "P-384":
            raise ValueError(f"Key {number}: only EC (P-384) and RSA keys are accepted.")
        if not key.get("kid"):
            raise ValueError(f"Key {number} has no 'kid': the client's JWTs name their key by it.")
        if any(private in key for private in ("d", "p", "q")):
            raise ValueError(f"Key {number} is a private key: register the public keys only.")
        try:
            jwt.PyJWK(key, algorithm="ES384" if key["kty"] == "EC" else "RS384")
        except jwt.PyJWTError as error:
            raise ValueError(f"Key {number} cannot be used: {error}.") from None
    return jwks
