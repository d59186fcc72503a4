"""Reads for access: who a token belongs to."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from recommender import shared_cache
from recommender.models import AccessToken
from recommender.roles import ROLES


def calendar_tokens(*, user) -> QuerySet[AccessToken]:
    """The user's own calendar-feed addresses, revoked ones included (the page shows when)."""
    return AccessToken.objects.filter(user=user, purpose=AccessToken.Purpose.CALENDAR)


class _NoSuchToken(Exception):
    """No unrevoked token has this digest: nothing is stored for a guess."""


def _token_unrevoked(*, digest: str, purpose: str) -> AccessToken:
    token = (
        AccessToken.objects.select_related("user")
        # Whether the user has a clinical role, in the same query (roles.has_clinical_role reads it).
        .annotate(clinical_role=Exists(Group.objects.filter(user=OuterRef("user"), name__in=ROLES)))
        .filter(digest=digest, purpose=purpose, revoked_at__isnull=True)
        .first()
    )
    if token is None:
        raise _NoSuchToken
    return token


def access_token_live(*, raw: str, purpose: str) -> AccessToken | None:
    """The live token (not revoked, not expired, of an active user) this secret is, or None.

    Read from the nodes' shared cache when there is one: revoking or issuing a token, and any change to a user or
    their roles, retire every entry at once (recommender/signals.py); the expiry is checked on every request."""
    if not raw:
        return None
    digest = AccessToken.digest_of(raw)
    try:
        token = shared_cache.read_through(
            shared_cache.ACCESS_TOKENS,
            f"{purpose}:{digest}",
            lambda: _token_unrevoked(digest=digest, purpose=purpose),
        )
    except _NoSuchToken:
        return None
    if token.expires_at is not None and token.expires_at <= timezone.now():
        return None
    if not token.user.is_active:
        return None
    token.user._clinical_role = token.clinical_role
    return token


def access_token_user(*, raw: str, purpose: str):
    """The active user a live token stands for, or None (reads only; services.access_token_use also notes the use)."""
    token = access_token_live(raw=raw, purpose=purpose)
    return None if token is None else token.user
