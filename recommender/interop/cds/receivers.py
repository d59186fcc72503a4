"""CORS for the CDS Hooks endpoints: a browser-based EHR at a registered, active client's origin may call them;
no other origin, and no other path of the site (django-cors-headers asks this receiver)."""

from __future__ import annotations

import re

from django.conf import settings

from recommender.interop.cds.security import clients_registered


def cors_allow_registered_origin(sender, request, **kwargs) -> bool:
    if not re.match(settings.CORS_URLS_REGEX, request.path_info):
        return False
    origin = request.headers.get("Origin", "").rstrip("/")
    return bool(origin) and any(registered.client.origin == origin for registered in clients_registered().values())
