"""Reads for access: who a token belongs to."""

from __future__ import annotations

from recommender.models import (
    AccessToken,
)


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
