"""Headers every page gets: nothing with patient data kept in a cache, no powerful browser features."""

from __future__ import annotations

from django.conf import settings
from django.utils.cache import patch_cache_control

# Responses that can carry patient data: pages, htmx fragments, the API, calendars, exports.
_NO_STORE_TYPES = ("text/html", "application/json", "text/calendar", "text/csv")


class SecurityHeadersMiddleware:
    """``Cache-Control: no-store`` on every page, fragment, JSON, calendar and CSV response (static files are
    served before this middleware and keep their long caching), and the ``Permissions-Policy`` of the settings."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        content_type = response.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type in _NO_STORE_TYPES and "no-store" not in response.get("Cache-Control", ""):
            patch_cache_control(response, no_store=True, private=True)
        policy = getattr(settings, "B12_PERMISSIONS_POLICY", {})
        if policy and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = ", ".join(
                f"{feature}=({' '.join(allowed)})" for feature, allowed in policy.items()
            )
        return response
