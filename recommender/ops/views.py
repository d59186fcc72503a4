"""Probes for the hospital's monitoring and load balancer: no login, no patient data, no session."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

READY_CACHE_KEY = "ops:readyz"


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """The process is alive and answering. Touches neither the database nor the cache."""
    return HttpResponse("ok\n", content_type="text/plain; charset=utf-8")


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _migrations() -> str:
    executor = MigrationExecutor(connection)
    unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return "ok" if not unapplied else f"{len(unapplied)} unapplied"


def _cache() -> str:
    if not settings.REDIS_URL:
        return "not configured"
    cache.set(READY_CACHE_KEY, "ok", timeout=10)
    return "ok" if cache.get(READY_CACHE_KEY) == "ok" else "unavailable"


@login_not_required
@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready to serve: the database answers, every migration is applied and the shared cache (when configured)
    answers. 200 when all hold, else 503, naming which check failed (never why: no host names or errors)."""
    checks: dict[str, str] = {}
    try:
        checks["database"] = _database()
        checks["migrations"] = _migrations()
    except DatabaseError as error:
        logger.warning("readyz: database unavailable (%s)", error.__class__.__name__)
        checks.setdefault("database", "unavailable")
        checks.setdefault("migrations", "unknown")
    try:
        checks["cache"] = _cache()
    except Exception as error:  # redis-py raises its own ConnectionError/TimeoutError family
        logger.warning("readyz: cache unavailable (%s)", error.__class__.__name__)
        checks["cache"] = "unavailable"
    ready = all(state in {"ok", "not configured"} for state in checks.values())
    return JsonResponse({"status": "ready" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)
