"""The JSON front door: POST /api/v1/recommendation (stateless) and its OpenAPI description."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from recommender.access import services as access_services
from recommender.guideline import InvalidAssessment
from recommender.interop.decisions import recommendation_for
from recommender.interop.openapi import openapi_document
from recommender.models import AccessToken
from recommender.roles import has_clinical_role
from recommender.web.jsonbody import BodyTooLarge, DuplicateKey, read_json

_UNAUTHORISED = {"errors": {"auth": ["Log in, or send an API token as 'Authorization: Bearer <token>'."]}}
_NO_ROLE = {
    "errors": {"permission": ["This account has no clinical role (clinician, nurse or admin): ask an admin for one."]}
}


def _api_user(request: HttpRequest):
    """The session's user, else the user of a valid bearer token, else None."""
    if request.user.is_authenticated:
        return request.user
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() == "bearer":
        return access_services.access_token_use(raw=raw.strip(), purpose=AccessToken.Purpose.API)
    return None


def _refused(user) -> JsonResponse | None:
    """401 JSON for no one, 403 JSON for an account without a clinical role (staff alone is not one), else None."""
    if user is None:
        response = JsonResponse(_UNAUTHORISED, status=401)
        response.headers["WWW-Authenticate"] = 'Bearer realm="b12"'
        return response
    if not has_clinical_role(user):
        return JsonResponse(_NO_ROLE, status=403)
    return None


def errors_response(errors: dict[str, list[str]]) -> JsonResponse:
    return JsonResponse({"errors": errors}, status=400)


@csrf_exempt  # stateless and read-only: a forged request can change nothing and cannot read the answer
@login_not_required  # answers 401 JSON itself rather than redirecting to the login page
@never_cache
def recommendation(request: HttpRequest) -> JsonResponse:
    refused = _refused(_api_user(request))
    if refused is not None:
        return refused
    if request.method != "POST":
        response = JsonResponse({"errors": {"method": ["Use POST with a JSON body."]}}, status=405)
        response.headers["Allow"] = "POST"
        return response
    try:
        payload = read_json(request)  # numbers exactly as written (Decimal); no duplicate keys
    except BodyTooLarge as too_large:
        return JsonResponse({"errors": {"body": [str(too_large)]}}, status=413)
    except DuplicateKey as duplicate:
        return errors_response({duplicate.key: [str(duplicate)]})
    except (ValueError, RecursionError):
        return errors_response({"body": ["The request body is not valid JSON."]})
    try:
        recommendation = recommendation_for(payload)
    except InvalidAssessment as invalid:
        return errors_response(invalid.errors)
    return JsonResponse(recommendation.as_dict())


@login_not_required
def openapi(request: HttpRequest) -> JsonResponse:
    refused = _refused(_api_user(request))
    if refused is not None:
        return refused
    return JsonResponse(openapi_document(request.build_absolute_uri("/")))
