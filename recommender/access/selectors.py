"""Reads for access: who a token belongs to."""

from __future__ import annotations

from django.db.models import QuerySet

from recommender.models import (
    AccessToken,
)


def calendar_tokens(*, user) -> QuerySet[AccessToken]:
    """The user's own calendar-feed addresses, revoked ones included (the page shows when)."""
    return AccessToken.objects.filter(user=user, purpose=AccessToken.Purpose.CALENDAR)


def access_token_user(*, raw: str, purpose: str):
    """The active user a token stands for, or None."""
    if not raw:
        return None
    token = (
        AccessToken.objects.select_related("user")
        .filter(digest=AccessToken.digest_of(raw), purpose=purpose, revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    return token.user
