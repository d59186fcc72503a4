"""Writes for access: API and calendar-feed tokens."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from recommender.access.selectors import access_token_live
from recommender.models import AccessToken

# How finely a token's last use is kept: one small write a minute per token at most, not one per request.
TOKEN_USE_RESOLUTION = timedelta(minutes=1)


@transaction.atomic
def access_token_issue(*, user, purpose: str, name: str = "", expires_at=None) -> tuple[AccessToken, str]:
    """Issue a token; returns the record and the secret, which is never stored (only its SHA-256 digest) and cannot
    be shown again. A user has one live calendar address: issuing a new one revokes the old."""
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    if purpose == AccessToken.Purpose.CALENDAR:
        live = AccessToken.objects.select_for_update().filter(user=user, purpose=purpose, revoked_at__isnull=True)
        for old in live:
            old.revoked_at = timezone.now()
            old.save(update_fields=["revoked_at"])
    raw = AccessToken.new_secret()
    token = AccessToken(user=user, purpose=purpose, name=name, digest=AccessToken.digest_of(raw), expires_at=expires_at)
    token.full_clean()
    token.save()
    return token, raw


def access_token_use(*, raw: str, purpose: str):
    """The user a live token stands for (or None), noting when the token was last used."""
    token = access_token_live(raw=raw, purpose=purpose)
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= TOKEN_USE_RESOLUTION:
        token.last_used_at = now
        token.save(update_fields=["last_used_at"])
    return token.user


@transaction.atomic
def access_token_revoke(*, token: AccessToken) -> AccessToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token
