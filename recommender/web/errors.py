"""Error pages in plain words, and the guard that keeps control characters away from the database.

Pages answer 400, 403, 404, 405 and 500 with a styled page that links home; under /api/ they answer JSON in the
contract's shape, ``{"errors": {"<what>": ["<message>"]}}``."""

from __future__ import annotations

import logging
import re

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent, ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.template import loader

from .context_processors import site_shell
from .jsonbody import too_large_message
from .plaintext import CONTROL_IN_TEXT, control_character_message

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
LOGIN_USERNAME_MAX = 150  # django.contrib.auth's username length; django-axes stores up to 255

# C0 control characters: PostgreSQL refuses NUL in text, and none of them belongs in a clinical record.
_CONTROL = re.compile(r"[\x00-\x1f]")
# Typed text may keep tab and line breaks (a reason written over two lines): the app's one rule (plaintext.py).
_CONTROL_IN_TEXT = CONTROL_IN_TEXT
_FORM_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}

MESSAGES = {
    400: "The request could not be understood.",
    403: "You do not have permission to do that.",
    404: "There is no page at this address.",
    405: "This address does not accept that kind of request.",
    500: "Something went wrong on our side. Nothing was saved by the failed request.",
}
_API_KEYS = {400: "request", 403: "permission", 404: "path", 405: "method", 500: "server"}


# Endpoints for other systems, whose errors are JSON: the JSON API and the CDS Hooks service.
MACHINE_PREFIXES = (API_PREFIX, "/cds-services")


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(MACHINE_PREFIXES)


def api_error(status: int, message: str | None = None, *, key: str | None = None) -> JsonResponse:
    return JsonResponse({"errors": {key or _API_KEYS[status]: [message or MESSAGES[status]]}}, status=status)


def error_page(request: HttpRequest | None, status: int, *, detail: str = "", **context) -> HttpResponse:
    """The styled page for ``status``; rendered without the request (no session, no database) when there is none."""
    template = loader.get_template(f"{status}.html")
    context = {"status": status, "message": MESSAGES[status], "detail": detail, **context}
    if request is None:
        context |= site_shell(None)  # the stylesheets and the home link, without the context processors
    return HttpResponse(template.render(context, request), status=status)


def control_character_field(request: HttpRequest) -> str | None:
    """The name of the first header, query field or form field name holding a control character ("address" for the
    path). Form values are the forms' business (plaintext.PlainTextMixin: the message sits at the field and what was
    typed stays); ``form_value_with_control_character`` covers the pages whose forms are not the app's."""
    if _CONTROL.search(request.path_info):
        return "address"
    for key, value in request.META.items():  # headers are logged and stored (django-axes keeps the user agent)
        if key.startswith("HTTP_") and isinstance(value, str) and _CONTROL_IN_TEXT.search(value):
            return key.removeprefix("HTTP_").replace("_", "-").title()
    for key, values in request.GET.lists():
        if _CONTROL.search(key) or any(_CONTROL.search(value) for value in values):
            return key
    if request.method == "POST" and request.content_type in _FORM_TYPES:
        request.body  # noqa: B018 (read and kept, so that a view may still read the raw body after the fields)
        for key in request.POST:
            if _CONTROL.search(key):
                return key
    return None


def form_value_with_control_character(request: HttpRequest) -> str | None:
    """The first posted field whose value holds a control character."""
    if request.method == "POST" and request.content_type in _FORM_TYPES:
        for key, values in request.POST.lists():
            if any(_CONTROL_IN_TEXT.search(value) for value in values):
                return key
    return None


def _app_view(request: HttpRequest, view_func) -> bool:
    """A page of this app (not the admin's): its forms apply the control-character rule themselves, next to the
    field."""
    module = getattr(view_func, "__module__", "") or ""
    match = request.resolver_match
    in_admin = match is not None and match.namespace == "admin"
    return module.startswith("recommender.") and not in_admin and module != "recommender.admin"


def _printable(name: str) -> str:
    return _CONTROL.sub("?", name)[:60]


class ControlCharacterCookiesMiddleware:
    """Forgets any cookie holding a control character, before the session middleware looks its key up (a NUL in
    the session cookie would otherwise fail the query on PostgreSQL). The request goes on as without that cookie."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for name in [name for name, value in request.COOKIES.items() if _CONTROL.search(name + value)]:
            del request.COOKIES[name]
        return self.get_response(request)


class ErrorPagesMiddleware:
    """Refuses input holding control characters (400) before any view or query sees it, and gives the bare 405 of
    ``require_POST`` and friends a page (or JSON under /api/), keeping its Allow header.

    Sits after the CSP middleware, so that the pages it renders carry the nonce and the policy."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            field = control_character_field(request)
        except RequestDataTooBig:
            return too_large(request)
        except TooManyFieldsSent as too_many:
            return self._refused(request, str(too_many), key="body")
        if field is not None:
            return self._refused(request, control_character_message(_printable(field)), key=_printable(field))
        response = self.get_response(request)
        if isinstance(response, HttpResponseNotAllowed) and not response.content:
            allow = response.headers.get("Allow", "")
            if is_api(request):
                page = api_error(405, f"This address accepts {allow or 'no other method'}.")
            else:
                page = error_page(request, 405, allowed=[m.strip() for m in allow.split(",") if m.strip()])
            page.headers["Allow"] = allow
            return page
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        """An admin action on a selection holding an id that cannot be a key of the model (Django's admin would
        fail converting it): refused in words, nothing done. Form values with control characters posted to a page
        that is not the app's (the admin, sign-in): refused here, as the app's forms refuse them."""
        if not _app_view(request, view_func):
            field = form_value_with_control_character(request)
            if field is not None:
                return self._refused(request, control_character_message(_printable(field)), key=_printable(field))
        match = request.resolver_match
        if request.method != "POST" or match is None or match.namespace != "admin":
            return None
        model = admin_changelist_model(match.url_name or "")
        if model is None:
            return None
        try:
            for value in request.POST.getlist(ACTION_CHECKBOX_NAME):
                model._meta.pk.to_python(value)
        except ValidationError:
            return self._refused(
                request, "The selection names records that do not exist; reload the list and try again.", key="_"
            )
        return None

    @staticmethod
    def _refused(request: HttpRequest, message: str, *, key: str) -> HttpResponse:
        if is_api(request):
            return api_error(400, message, key=key)
        return error_page(request, 400, detail=message)


def admin_changelist_model(url_name: str):
    """The model whose admin list this URL name is, or None."""
    from django.contrib import admin

    for model in admin.site._registry:
        if url_name == f"{model._meta.app_label}_{model._meta.model_name}_changelist":
            return model
    return None


def too_large(request: HttpRequest) -> HttpResponse:
    """413: JSON under /api/ (a client reads the reason), the 400 page's words elsewhere."""
    if is_api(request):
        return JsonResponse({"errors": {"body": [too_large_message()]}}, status=413)
    page = error_page(request, 400, detail=too_large_message())
    page.status_code = 413
    return page


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if isinstance(exception, RequestDataTooBig):
        return too_large(request)
    if is_api(request):
        return api_error(400)
    detail = str(exception) if isinstance(exception, SuspiciousOperation) and str(exception) else ""
    try:
        return error_page(request, 400, detail=detail)
    except Exception:  # a malformed request may break the page's own lookups (host, session): plain page then
        logger.exception("400 page rendered without the request")
        return error_page(None, 400, detail=detail)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api(request):
        return api_error(403)
    return error_page(request, 403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api(request):
        return api_error(404)
    return error_page(request, 404, request_path=request.path)


def server_error(request: HttpRequest) -> HttpResponse:
    """Rendered without the request: the database (sessions, users) may be what failed."""
    if is_api(request):
        return api_error(500)
    return error_page(None, 500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if is_api(request):
        return api_error(403, "The request's security token is missing or out of date.", key="csrf")
    return error_page(
        request,
        403,
        detail="The form's security token is missing or out of date (the page may have been open a long time). "
        "Go back, reload the page and submit it again.",
    )


def add_service_error(error: ValidationError, *forms: Form | None) -> None:
    """Show a service's ValidationError on the forms of a combined save: each field's message on the form that has
    the field, the rest on the last form as a whole (a field no posted form has must not turn into a 500)."""
    present = [form for form in forms if form is not None]
    fallback = present[-1]
    if not hasattr(error, "error_dict"):
        fallback.add_error(None, error)
        return
    for field, field_errors in error.error_dict.items():
        owner = next((form for form in present if field in form.fields), None)
        if owner is not None:
            owner.add_error(field, field_errors)
        else:
            fallback.add_error(None, field_errors)


def login_username(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """The username django-axes records for a login attempt, cut to a length its table can hold: a pasted
    300-character "username" is a failed login, not a database error (PostgreSQL enforces the column's length)."""
    username = (credentials or {}).get("username") if credentials else request.POST.get("username")
    return username[:LOGIN_USERNAME_MAX] if isinstance(username, str) else username
