"""At sign-in: the session's second-factor state, and the time the absolute lifetime counts from."""

from __future__ import annotations

import time

from . import twofactor
from .middleware import LAST_SEEN_KEY, SIGNED_IN_KEY, idle_seconds


def on_login(sender, request, user, **kwargs) -> None:
    if request is None or not hasattr(request, "session"):
        return
    now = int(time.time())
    request.session[SIGNED_IN_KEY] = now
    request.session[LAST_SEEN_KEY] = now
    request.session[twofactor.STATE_SESSION_KEY] = twofactor.second_factor_state(user)


def session_timing(request) -> dict:
    """Template context: the idle timeout in seconds, for the warning (static/js/idle.js)."""

    from django.conf import settings

    signed_in = getattr(request, "user", None) is not None and request.user.is_authenticated
    return {"idle_seconds": idle_seconds() if signed_in else 0, "idle_minutes": settings.B12_IDLE_MINUTES}
