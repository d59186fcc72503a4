"""/healthz and /readyz: no sign-in, no patient data; /healthz never touches the database, /readyz names what is
not ready and answers 503 then."""

from __future__ import annotations

import json

import pytest
from django.db import OperationalError
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.migration import Migration

from recommender.ops import views as ops_views
from tests.factories import make_patient


def test_healthz_answers_without_sign_in_or_database(client):
    """No django_db mark: pytest-django refuses any database access here, so a query would fail the test."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_is_ready_with_the_database_migrated(client, clinician):
    make_patient(by=clinician, family_name="Zebedee")
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "cache": "not configured"},
    }
    assert "Zebedee" not in response.content.decode()


@pytest.mark.django_db
def test_readyz_is_not_ready_while_a_migration_is_unapplied(client, monkeypatch):
    real_plan = MigrationExecutor.migration_plan

    def one_unapplied(self, targets, clean_start=False):
        return [*real_plan(self, targets, clean_start), (Migration("9999_pending", "recommender"), False)]

    monkeypatch.setattr(MigrationExecutor, "migration_plan", one_unapplied)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["migrations"] == "1 unapplied"


@pytest.mark.django_db
def test_readyz_is_not_ready_while_the_database_is_down(client, monkeypatch):
    def down():
        raise OperationalError("could not connect to server at db.internal:5432")

    monkeypatch.setattr(ops_views, "_database", down)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "unavailable"
    assert "db.internal" not in response.content.decode()


@pytest.mark.django_db
def test_readyz_is_not_ready_while_the_configured_cache_is_down(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # the discard port: nothing listens there
    settings.CACHES = {
        "default": {
            "BACKEND": "recommender.ops.redis_cache.SharedRedisCache",
            "LOCATION": settings.REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    response = client.get("/readyz")
    assert response.status_code == 503
    assert json.loads(response.content)["checks"]["cache"] == "unavailable"


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_accept_only_get(client, path):
    assert client.post(path).status_code == 405


def test_a_redis_url_without_the_redis_client_stops_start_up(settings, monkeypatch):
    from recommender.ops.checks import shared_cache_client_installed

    settings.REDIS_URL = "redis://cache.internal:6379/0"
    assert shared_cache_client_installed() == []
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    [error] = shared_cache_client_installed()
    assert error.id == "ops.E001"
    assert "REDIS_URL" in error.msg
