"""Behind the hospital's reverse proxy (DJANGO_BEHIND_PROXY): the client's address is the one the proxy saw."""

from __future__ import annotations

from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The last address in X-Forwarded-For: the one our proxy appended. Earlier ones came from the client and may
    be forged; without the header (a request that did not pass the proxy), the connection's own address."""
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    return hops[-1] if hops else request.META.get("REMOTE_ADDR")
