"""Reads for access: who a token belongs to."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from recommender.models import AccessToken
from recommender.roles import ROLES


def calendar_tokens(*, user) -> QuerySet[AccessToken]:
    """The user's own calendar-feed addresses, revoked ones included (the page shows when)."""
    return AccessToken.objects.filter(user=user, purpose=AccessToken.Purpose.CALENDAR)


def access_token_live(*, raw: str, purpose: str) -> AccessToken | None:
    """The live token (not revoked, not expired, of an active user) this secret is, or None."""
    if not raw:
        return None
    token = (
        AccessToken.objects.select_related("user")
        # Whether the user has a clinical role, in the same query (roles.has_clinical_role reads it).
        .annotate(clinical_role=Exists(Group.objects.filter(user=OuterRef("user"), name__in=ROLES)))
        .filter(digest=AccessToken.digest_of(raw), purpose=purpose, revoked_at__isnull=True)
        .exclude(expires_at__lte=timezone.now())
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    token.user._clinical_role = token.clinical_role
    return token


def access_token_user(*, raw: str, purpose: str):
    """The active user a live token stands for, or None (reads only; services.access_token_use also notes the use)."""
    token = access_token_live(raw=raw, purpose=purpose)
    return None if token is None else token.user
