"""A database that is down, hung or locked is an outage, not a bug: pages answer a plain 503 page and the API a JSON
503, with Retry-After, one log line each and no trace. The connect and statement timeouts in settings bound how
long a request waits; Django drops the broken connection after the request, so service resumes by itself."""

from __future__ import annotations

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader

from recommender.web import errors
from recommender.web.context_processors import site_shell

logger = logging.getLogger(__name__)

UNAVAILABLE = "The service is unavailable, try again shortly."
RETRY_AFTER_SECONDS = 30


def is_database_outage(error: BaseException | None) -> bool:
    """Whether ``error`` (or what caused it) is the database failing to connect or answer in time."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, OperationalError | InterfaceError):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def service_unavailable(request: HttpRequest) -> HttpResponse:
    """The 503 answer, built without the database (no session, no user, no context processors)."""
    if errors.is_api(request):
        response = JsonResponse({"errors": {"service": [UNAVAILABLE]}}, status=503)
    else:
        context = {"status": 503, "message": UNAVAILABLE, **site_shell(None)}  # the stylesheets and links
        page = loader.get_template("503.html").render(context)
        response = HttpResponse(page, status=503)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: an outage answers 503; anything else is the usual 500 page."""
    error = sys.exc_info()[1]
    if not is_database_outage(error):
        return errors.server_error(request)
    logger.warning("database unavailable: %s %s (%s)", request.method, request.path, error.__class__.__name__)
    response = service_unavailable(request)
    response._has_been_logged = True  # one line above, rather than Django's traceback for every request
    return response
