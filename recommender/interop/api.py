"""The JSON front door: POST /api/v1/recommendation (stateless) and its OpenAPI description."""

from __future__ import annotations

import json
from decimal import Decimal

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from recommender.access.selectors import access_token_user
from recommender.clinic import selectors as clinic_selectors
from recommender.guideline import InvalidAssessment, decide, parse_assessment
from recommender.interop.openapi import openapi_document
from recommender.models import AccessToken

_UNAUTHORISED = {"errors": {"auth": ["Log in, or send an API token as 'Authorization: Bearer <token>'."]}}


def _api_user(request: HttpRequest):
    """The session's user, else the user of a valid bearer token, else None."""
    if request.user.is_authenticated:
        return request.user
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() == "bearer":
        return access_token_user(raw=raw.strip(), purpose=AccessToken.Purpose.API)
    return None


def _unauthorised() -> JsonResponse:
    response = JsonResponse(_UNAUTHORISED, status=401)
    response.headers["WWW-Authenticate"] = 'Bearer realm="b12"'
    return response


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number")


def errors_response(errors: dict[str, list[str]]) -> JsonResponse:
    return JsonResponse({"errors": errors}, status=400)


@csrf_exempt  # stateless and read-only: a forged request can change nothing and cannot read the answer
@login_not_required  # answers 401 JSON itself rather than redirecting to the login page
@never_cache
def recommendation(request: HttpRequest) -> JsonResponse:
    user = _api_user(request)
    if user is None:
        return _unauthorised()
    if request.method != "POST":
        response = JsonResponse({"errors": {"method": ["Use POST with a JSON body."]}}, status=405)
        response.headers["Allow"] = "POST"
        return response
    try:
        # Numbers are read exactly as written (Decimal), so that 179.6 is compared as 179.6.
        payload = json.loads(request.body, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return errors_response({"body": ["The request body is not valid JSON."]})
    errors: dict[str, list[str]] = {}
    profile = clinic_selectors.lab_profile_default()
    if isinstance(payload, dict) and "profile" in payload:
        ref = payload.pop("profile")
        profile = clinic_selectors.lab_profile_by_ref(ref) if isinstance(ref, str) and ref else None
        if profile is None:
            errors["profile"] = ["No lab profile by that name or id; leave it out to use the default thresholds."]
    try:
        assessment = parse_assessment(payload)
    except InvalidAssessment as invalid:
        errors = {**invalid.errors, **errors}
    if errors:
        return errors_response(errors)
    return JsonResponse(decide(assessment, thresholds=clinic_selectors.thresholds_for(profile)).as_dict())


@login_not_required
def openapi(request: HttpRequest) -> JsonResponse:
    if _api_user(request) is None:
        return _unauthorised()
    return JsonResponse(openapi_document(request.build_absolute_uri("/")))
