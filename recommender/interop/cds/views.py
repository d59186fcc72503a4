"""CDS Hooks 2.0.1 endpoints: discovery, the services, feedback. Authenticated by the client's JWT on every call
(not a session: csrf_exempt, and let past the login-required middleware); answers are JSON, errors name the field."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from recommender.interop.cds import security, services
from recommender.interop.cds.discovery import SERVICES, discovery_document
from recommender.web.jsonbody import BodyTooLarge, DuplicateKey, read_json


def _errors(status: int, errors: dict[str, list[str]]) -> JsonResponse:
    return JsonResponse({"errors": errors}, status=status)


def _wrong_method(allowed: str) -> JsonResponse:
    response = _errors(405, {"method": [f"Use {allowed}."]})
    response.headers["Allow"] = allowed
    return response


def _refused(refused: security.Unauthorised) -> JsonResponse:
    response = _errors(401, {"auth": [str(refused)]})
    response.headers["WWW-Authenticate"] = 'Bearer realm="cds-services", error="invalid_token"'
    return response


def _authenticated(request: HttpRequest):
    """The registered client, or a 401 response saying why."""
    try:
        return security.client_authenticate(request)
    except security.Unauthorised as refused:
        return _refused(refused)


def _body(request: HttpRequest):
    try:
        return read_json(request)
    except BodyTooLarge as too_large:
        raise services.HookError(413, {"body": [str(too_large)]}) from None
    except DuplicateKey as duplicate:
        raise services.HookError(400, {duplicate.key: [str(duplicate)]}) from None
    except (ValueError, RecursionError):
        raise services.HookError(400, {"body": ["The request body is not valid JSON."]}) from None


def _base_url(request: HttpRequest) -> str:
    endpoint = security.endpoint_url(request)
    return endpoint[: len(endpoint) - len(request.path)]


@csrf_exempt  # authenticated by the client's signed JWT, not a cookie: a forged cross-site request has no JWT
@login_not_required  # the JWT check below is the authentication
@never_cache
def discovery(request: HttpRequest) -> JsonResponse:
    if request.method != "GET":
        return _wrong_method("GET")
    client = _authenticated(request)
    if isinstance(client, JsonResponse):
        return client
    return JsonResponse(discovery_document())


def _hook_call(request: HttpRequest, service_id: str, call) -> JsonResponse:
    """A POST to one of the services: the client's JWT, a known service, then ``call(client, body)`` (the answer
    and the rows to store with the JWT's one use)."""
    if request.method != "POST":
        return _wrong_method("POST")
    with services.call_reads():
        return _verified_call(request, service_id, call)


def _verified_call(request: HttpRequest, service_id: str, call) -> JsonResponse:
    try:
        caller = security.caller_verify(request)
    except security.Unauthorised as refused:
        return _refused(refused)

    def work() -> tuple[dict, list]:
        if service_id not in SERVICES:
            raise services.HookError(404, {"service": [f"No CDS service '{service_id[:64]}': see GET /cds-services."]})
        return call(caller.client, _body(request))

    try:
        return JsonResponse(services.call_once(caller=caller, work=work))
    except security.Unauthorised as refused:
        return _refused(refused)
    except services.HookError as error:
        return _errors(error.status, error.errors)


@csrf_exempt
@login_not_required
@never_cache
def service(request: HttpRequest, service_id: str) -> JsonResponse:
    return _hook_call(
        request,
        service_id,
        lambda client, body: services.hook_answer(
            client=client, service_id=service_id, body=body, base_url=_base_url(request)
        ),
    )


def _stored(rows: list) -> tuple[dict, list]:
    return {"stored": len(rows)}, rows


@csrf_exempt
@login_not_required
@never_cache
def feedback(request: HttpRequest, service_id: str) -> JsonResponse:
    return _hook_call(
        request,
        service_id,
        lambda client, body: _stored(services.feedback_rows(client=client, service_id=service_id, body=body)),
    )
