"""Start-up checks for running the service (run by ``manage.py check``, ``runserver`` and ``migrate``)."""

from __future__ import annotations

import importlib.util

from django.conf import settings
from django.core.checks import Error, register


@register()
def shared_cache_client_installed(app_configs=None, **kwargs) -> list[Error]:
    """REDIS_URL without the redis client would only fail at the first request that reads the cache."""
    if settings.REDIS_URL and importlib.util.find_spec("redis") is None:
        return [
            Error(
                "REDIS_URL is set but the 'redis' package is not installed.",
                hint="pip install -r requirements.txt (it pins redis), or unset REDIS_URL.",
                id="ops.E001",
            )
        ]
    return []
