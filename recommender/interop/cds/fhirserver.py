"""Fetching what the EHR did not prefetch from its FHIR server (CDS Hooks 2.0.1: the service may query
``fhirServer`` with the ``fhirAuthorization`` access token). HTTPS only, no redirects, a time and size limit."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from decimal import Decimal
from urllib.parse import quote, urlsplit

from django.conf import settings

MAX_BYTES = 2 * 1024 * 1024


class FetchFailed(Exception):
    pass


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def server_url_error(server: object) -> str:
    """Why a fhirServer cannot be queried, or "" when it can."""
    if not isinstance(server, str) or not server:
        return "fhirServer must be a URL."
    parts = urlsplit(server)
    if parts.scheme != "https" or not parts.netloc or parts.username or parts.password:
        return "fhirServer must be an https:// URL without credentials in it."
    return ""


def fhir_get(url: str, access_token: str | None) -> object:
    """One FHIR read or search, parsed with exact decimals. Raises FetchFailed."""
    headers = {"Accept": "application/fhir+json"}
    if access_token:
        headers["Authorization"] = f"Bearer {access_token}"
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (https only: server_url_error)
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=settings.B12_CDS_FHIR_TIMEOUT_SECONDS) as answer:
            body = answer.read(MAX_BYTES + 1)
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise FetchFailed(f"The FHIR server did not answer {url.split('?')[0]} ({error}).") from None
    if len(body) > MAX_BYTES:
        raise FetchFailed("The FHIR server's answer is too large.")
    try:
        return json.loads(body, parse_float=Decimal)
    except ValueError:
        raise FetchFailed("The FHIR server's answer is not JSON.") from None


def prefetch_fetch(body: Mapping, templates: dict[str, str], keys: list[str], patient_id: str) -> dict:
    """The resources of the prefetch ``keys``, read from the hook's fhirServer. Raises FetchFailed."""
    server = body.get("fhirServer")
    if problem := server_url_error(server):
        raise FetchFailed(problem)
    authorization = body.get("fhirAuthorization")
    token = authorization.get("access_token") if isinstance(authorization, Mapping) else None
    fetched = {}
    for key in keys:
        query = templates[key].replace("{{context.patientId}}", quote(patient_id, safe=""))
        fetched[key] = fhir_get(f"{server.rstrip('/')}/{query}", token if isinstance(token, str) else None)
    return fetched
