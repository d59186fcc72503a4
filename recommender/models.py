from __future__ import annotations

import hashlib
import secrets
import uuid

from django.conf import settings
from django.db import models


class AccessToken(models.Model):
    """A secret that stands for a user where a browser session cannot: the JSON API and calendar feeds.

    Only a SHA-256 digest is stored; the token itself is shown once, when it is issued."""

    class Purpose(models.TextChoices):
        API = "api", "JSON API"
        CALENDAR = "calendar", "Calendar subscription"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_tokens")
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    name = models.CharField(max_length=100, blank=True)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} token of {self.user} ({self.name or self.created_at:%Y-%m-%d})"

    @staticmethod
    def digest_of(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    @staticmethod
    def new_secret() -> str:
        return "b12_" + secrets.token_urlsafe(32)
