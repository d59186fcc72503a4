"""Session guards: the second factor before anything else, and the idle timeout.

Both sit after django-otp's middleware and before LoginRequiredMiddleware (see settings.MIDDLEWARE)."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from . import twofactor

# Pages a signed-in but not yet verified user may open.
SECOND_FACTOR_STEPS = {"logout", "two-factor-verify", "two-factor-setup", "admin:logout"}
LAST_SEEN_KEY = "b12_last_seen"
SIGNED_IN_KEY = "b12_signed_in"
# A request counts as activity at most this often (seconds), so a session is not written on every request.
ACTIVITY_RESOLUTION = 15


def _go(request: HttpRequest, url: str) -> HttpResponse:
    """A whole-page redirect: HX-Redirect for htmx (a panel must not swap in a sign-in page)."""
    if getattr(request, "htmx", False):
        return HttpResponseClientRedirect(url)
    return HttpResponseRedirect(url)


def _next(request: HttpRequest) -> str:
    htmx = getattr(request, "htmx", False)
    return (htmx.current_url_abs_path if htmx else None) or request.get_full_path()


class SecondFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        user = request.user
        if not user.is_authenticated or user.is_verified():
            return None
        state = twofactor.session_state(request)
        if state == twofactor.NONE:
            return None
        match = request.resolver_match
        name = match.view_name if match else ""
        if name in SECOND_FACTOR_STEPS:
            return None
        if request.path_info.startswith("/api/"):
            return JsonResponse({"errors": {"auth": ["Finish signing in (the second step) first."]}}, status=401)
        step = "two-factor-verify" if state == twofactor.VERIFY else "two-factor-setup"
        return _go(request, f"{reverse(step)}?{urlencode({'next': _next(request)})}")


def idle_seconds() -> int:
    return int(settings.B12_IDLE_MINUTES) * 60


class IdleTimeoutMiddleware:
    """Signs a session out after B12_IDLE_MINUTES without a request (and after SESSION_COOKIE_AGE whatever the
    activity: the absolute lifetime). The next page goes to sign-in saying why; an htmx request gets HX-Redirect,
    and the sign-in page says that what was typed was not saved."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = int(time.time())
            session = request.session
            signed_in = session.setdefault(SIGNED_IN_KEY, now)
            last_seen = session.get(LAST_SEEN_KEY, now)
            idle = now - last_seen > idle_seconds()
            if idle or now - signed_in > settings.SESSION_COOKIE_AGE:
                return self._signed_out(request, "idle" if idle else "expired")
            if now - last_seen >= ACTIVITY_RESOLUTION or LAST_SEEN_KEY not in session:
                session[LAST_SEEN_KEY] = now
        return self.get_response(request)

    @staticmethod
    def _signed_out(request: HttpRequest, why: str) -> HttpResponse:
        htmx = bool(getattr(request, "htmx", False))
        next_url = _next(request)
        logout(request)
        if request.path_info.startswith("/api/"):
            return JsonResponse({"errors": {"auth": ["The session has ended; sign in again."]}}, status=401)
        query = {"next": next_url, "ended": why}
        if htmx or request.method == "POST":
            query["unsaved"] = "1"
        return _go(request, f"{reverse(settings.LOGIN_URL)}?{urlencode(query)}")
