"""Accounts end, people stay: deactivate an account and end its sessions everywhere, never delete who did what."""

from __future__ import annotations

import logging

from django.db import transaction

from recommender.models import SignInSession

log = logging.getLogger("recommender.auth")


@transaction.atomic
def user_sign_out_everywhere(*, user, by) -> int:
    """End every session of ``user`` (all browsers and devices); the number ended."""
    ended, _ = SignInSession.objects.filter(user=user).delete()
    log.info("signed out everywhere user=%s sessions=%d by=%s", user.get_username(), ended, by.get_username())
    return ended


@transaction.atomic
def user_deactivate(*, user, by) -> int:
    """Stop ``user`` signing in (their name stays on everything they did) and end their sessions."""
    user.is_active = False
    user.save(update_fields=["is_active"])
    log.info("deactivated user=%s by=%s", user.get_username(), by.get_username())
    return user_sign_out_everywhere(user=user, by=by)
