"""Shared fixtures: a user per role, logged-in clients, and Chromium for the browser tests.

Records (patients, plans, doses) come from plain functions in tests/factories.py; the role matrix of who may open
and post what is tests/test_roles.py."""

from __future__ import annotations

import os
import threading
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Group
from django.core.management.sql import emit_post_migrate_signal
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test import Client
from django.test.testcases import LiveServerThread

from recommender.roles import ADMIN, CLINICIAN, NURSE

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """Production hashing (1.5M PBKDF2 rounds) costs about a second a user; tests need no such strength.

    The one place this is set: it covers every test module and the browser tests (their live server runs in this
    process), so no module keeps its own copy."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _plan_start_window_wide(settings):
    """Tests pin calendar dates (a 2024 leap day, month ends, a known Monday) that fall outside the plausible window
    of plan start dates around today. The window itself is tested where it is set back to its default
    (tests/test_patients.py), so everywhere else a pinned date is allowed."""
    settings.B12_PLAN_START_WINDOW_DAYS = 100 * 365


@pytest.fixture(autouse=True)
def _tasks_run_immediately(settings):
    """Background tasks run at once, in the test (production queues them in the database for db_worker)."""
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


def ensure_roles() -> None:
    """The roles as migrations leave them. A transactional test with serialized_rollback flushes the database
    without the post-migrate signal (Django inhibits it then), so a later test may find no groups: re-emit it."""
    if not Group.objects.filter(name=CLINICIAN).exists():
        emit_post_migrate_signal(verbosity=0, interactive=False, db="default")


def pytest_itemcollected(item):
    """A transactional test without serialized_rollback would flush the database with the post-migrate signal, so
    the roles it recreates collide with the next serialized test's restore on that worker (PostgreSQL): refused."""
    marker = item.get_closest_marker("django_db")
    if marker is not None and marker.kwargs.get("transaction") and not marker.kwargs.get("serialized_rollback"):
        raise pytest.UsageError(f"{item.nodeid}: use django_db(transaction=True, serialized_rollback=True)")


@pytest.fixture(autouse=True)
def _roles_present(request):
    """Every test with database access starts with the roles in place (see ensure_roles)."""
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and marker.kwargs.get("serialized_rollback"):
        return  # such a test restores the migrated data itself
    uses_db = marker is not None or {"db", "transactional_db"} & set(request.fixturenames)
    if uses_db:
        request.getfixturevalue("_django_db_helper")  # database access first (pytest-django's own set-up)
        ensure_roles()


def mark_second_factor_verified(client: Client, user) -> None:
    """The client's session has passed the second step (tests.factories.pass_second_step)."""
    from tests.factories import pass_second_step

    session = client.session
    pass_second_step(session, user)
    session.save()


@pytest.fixture(autouse=True)
def _force_login_passes_the_second_step(request, monkeypatch):
    """``client.force_login`` stands for a whole sign-in, second step included (admins and staff need one). A test
    marked ``second_step`` gets the bare force_login, to see the second step asked for."""
    if request.node.get_closest_marker("second_step"):
        return
    original = Client.force_login

    def force_login(self, user, backend=None):
        original(self, user, backend)
        mark_second_factor_verified(self, user)

    monkeypatch.setattr(Client, "force_login", force_login)


def make_user(django_user_model, username: str, role: str | None):
    ensure_roles()
    user = django_user_model.objects.create_user(username=username, password=PASSWORD, first_name=username.title())
    if role:
        user.groups.add(Group.objects.get(name=role))
    if role == ADMIN:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return user


@pytest.fixture
def clinician(db, django_user_model):
    return make_user(django_user_model, "dr_jones", CLINICIAN)


@pytest.fixture
def nurse(db, django_user_model):
    return make_user(django_user_model, "nurse_patel", NURSE)


@pytest.fixture
def admin_user(db, django_user_model):
    return make_user(django_user_model, "admin_lee", ADMIN)


@pytest.fixture
def clinician_client(client, clinician):
    client.force_login(clinician)
    return client


@pytest.fixture
def nurse_client(client, nurse):
    client.force_login(nurse)
    return client


@pytest.fixture
def admin_client_(client, admin_user):
    client.force_login(admin_user)
    return client


# Browser tests: Debian's Chromium, never a downloaded browser.
class InTurnOnASharedConnection(ThreadedWSGIServer):
    """The live server, answering one request at a time when its threads share the test's database connection.

    On SQLite the test database is in memory, so every request thread of the live server is handed the test's one
    connection. A browser sends requests that overlap (an htmx update replaces one still running on the server), and
    two threads on one SQLite connection mix their transactions (the later request fails: a 503) or deadlock (a
    request never answers). Production never shares a connection (a file database, one connection per thread, WAL
    and a busy timeout: tests/test_ops_sqlite.py). Connections are still accepted in parallel, so a browser's idle
    keep-alive or preconnected sockets never block the others; only the application is called in turn.
    """

    turn = threading.Lock()

    def set_app(self, application):
        if not self.connections_override:
            return super().set_app(application)

        def in_turn(environ, start_response):
            with self.turn:
                response = application(environ, start_response)
                try:
                    body = b"".join(response)  # streamed responses read the database too: read them in turn
                finally:
                    if hasattr(response, "close"):
                        response.close()
            return [body]

        return super().set_app(in_turn)


LiveServerThread.server_class = InTurnOnASharedConnection


@pytest.fixture(scope="session")
def live_server(django_db_setup, live_server):
    """pytest-django's live server, started once the test database exists: started earlier, it sees the settings'
    database rather than the in-memory test one, and its threads each open their own connection to the in-memory
    database, which fail with "database table is locked" when two overlap (SQLite's shared cache locks tables and
    does not wait)."""
    return live_server


CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


def pytest_collection_modifyitems(config, items):
    """Browser tests need Chromium. In CI its absence is a failure; on a laptop without it they are skipped loudly."""
    if os.path.exists(CHROMIUM):
        return
    if os.environ.get("CI"):
        raise pytest.UsageError(f"CI needs Chromium at {CHROMIUM} for the browser tests (apt-get install chromium).")
    skip = pytest.mark.skip(reason=f"Chromium not installed at {CHROMIUM} (apt-get install chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def recent_plan(clinician):
    """A plan without neurological involvement that started five days ago: its first loading dose is due."""
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories import make_plan

    return make_plan(clinician, start=timezone.localdate() - timedelta(days=5))


@pytest.fixture
def author(db, django_user_model):
    """A second clinician who recorded the existing records (so the user under test did not)."""
    return make_user(django_user_model, "dr_author", CLINICIAN)


@pytest.fixture
def world(author):
    """A patient (Anna Smith) with an active plan, recorded by ``author``, not by the users under test."""
    from tests.factories import make_patient, make_plan

    patient = make_patient(by=author, family_name="Smith", given_name="Anna")
    plan = make_plan(by=author, patient=patient)
    return SimpleNamespace(patient=patient, plan=plan, assessment=plan.assessment)


@pytest.fixture
def shared(settings):
    """The nodes' shared cache (REDIS_URL in production; Django's memory cache stands in for it here), empty."""
    from django.core.cache import caches

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "shared"}}
    caches["default"].clear()
    yield caches["default"]
    caches["default"].clear()
