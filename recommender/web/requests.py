"""Where a request came from and which request it is: the client address and a request id for the logs."""

from __future__ import annotations

import contextvars
import ipaddress
import re
import uuid

from django.conf import settings

# The id of the request being served, for log lines written far from the request (services, signals).
current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# An id sent by a proxy or load balancer is kept when it is plainly an id; anything else is replaced.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR, or behind a trusted proxy (DJANGO_BEHIND_PROXY) the address that proxy
    appended last to X-Forwarded-For (earlier entries are whatever the client claimed)."""
    raw = request.META.get("REMOTE_ADDR", "")
    if getattr(settings, "B12_BEHIND_PROXY", False):
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if forwarded:
            raw = forwarded[-1]
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None


def request_id_from(header: str | None) -> str:
    return header if header and _SAFE_ID.match(header) else uuid.uuid4().hex


class RequestIdMiddleware:
    """Gives every request an id (request.id, the X-Request-ID response header, every log line of the request)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.id = request_id_from(request.headers.get("X-Request-ID"))
        token = current_request_id.set(request.id)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        response.headers["X-Request-ID"] = request.id
        return response
