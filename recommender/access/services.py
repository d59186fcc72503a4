"""Writes for access: API and calendar-feed tokens."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from recommender.models import (
    AccessToken,
)


@transaction.atomic
def access_token_issue(*, user, purpose: str, name: str = "") -> tuple[AccessToken, str]:
    """Issue a token; returns the record and the secret, which is never stored and cannot be shown again."""
    raw = AccessToken.new_secret()
    token = AccessToken(user=user, purpose=purpose, name=name, digest=AccessToken.digest_of(raw))
    token.full_clean()
    token.save()
    return token, raw


@transaction.atomic
def access_token_revoke(*, token: AccessToken) -> AccessToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token
