"""Forms for access: which feed address to revoke."""

from __future__ import annotations

from django import forms

from recommender.web.plaintext import PlainTextForm


class TokenRevokeForm(PlainTextForm):
    """A revoke button posts the token's id; anything that is not an id names no token."""

    token = forms.UUIDField()
