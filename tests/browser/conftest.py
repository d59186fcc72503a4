"""Browser-only fixtures: a logged-in page through the real login form, console capture, axe, and records.

Every browser test is marked ``django_db(transaction=True, serialized_rollback=True)``: the live server reads the
database from another thread, so the test's writes must be committed; a transactional test ends with a flush, which
deletes the roles and their permissions that data migrations wrote, so each test restores them first.
"""

from __future__ import annotations

import os
from datetime import date

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.db import connection
from django.utils import timezone
from playwright.sync_api import Page, expect

from recommender.clinic import services as clinic_services
from recommender.guideline.plan_options import MONTHS
from tests.conftest import PASSWORD

# Playwright's sync API runs an event loop in the test's thread; Django's ORM refuses to run there without this.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

TIMEOUT_MS = 10_000
BLOCKING_IMPACTS = {"serious", "critical"}


@pytest.fixture(scope="session", autouse=True)
def migrated_data(django_db_setup, django_db_blocker) -> str:
    """The database as the migrations left it (roles, their permissions), serialised when it was created.

    Autouse and session-scoped so that it runs before Playwright starts: see ``restore_migrated_data``.
    """
    contents = getattr(connection, "_test_serialized_contents", None)
    if contents is None:
        with django_db_blocker.unblock():
            contents = connection.creation.serialize_db_to_string()
    return contents


@pytest.fixture(autouse=True)
def restore_migrated_data(transactional_db, migrated_data) -> None:
    """Make serialized_rollback work under Playwright.

    Once Playwright's sync API runs its event loop in this thread, Django hands out another connection object (its
    connections are per thread, but per context while a loop is running), one without the serialised contents. With
    the contents missing, pytest-django silently skips the restore before a test, and the flush after it runs the
    post-migrate handlers, which recreate content types under new ids. So the contents go on that connection, and
    the first time they are missing they are also loaded here.
    """
    if not hasattr(connection, "_test_serialized_contents"):
        connection._test_serialized_contents = migrated_data
        connection.creation.deserialize_db_from_string(migrated_data)


@pytest.fixture
def page(page: Page) -> Page:
    """pytest-playwright's page, with a timeout that fails fast instead of after 30 s."""
    page.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    return page


def log_in(page: Page, live_server, user) -> None:
    """Sign in through the real form at /login/ (and, for staff and the admin group, the code of an authenticator
    set up beforehand: tests/browser/test_two_step_sign_in.py drives the set-up itself) and wait for the home page."""
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from recommender.access.twofactor import second_factor_required

    device = None
    if second_factor_required(user):
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
            user=user, name="browser tests", confirmed=True
        )
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if device is not None:
        page.wait_for_url(f"{live_server.url}/login/verify/**")
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        page.fill("#id_token", f"{totp.token():0{device.digits}d}")
        page.press("#id_token", "Enter")
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


@pytest.fixture
def console_messages(page: Page) -> list[str]:
    """Everything the page logs to the console, and uncaught errors, from now until the test ends."""
    messages: list[str] = []
    page.on("console", lambda message: messages.append(f"console.{message.type}: {message.text}"))
    page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
    return messages


def csp_violations(messages: list[str]) -> list[str]:
    return [m for m in messages if "content security policy" in m.lower()]


def _describe(violation: dict) -> str:
    lines = [f"- {violation['id']} ({violation['impact']}): {violation['help']}"]
    for node in violation["nodes"]:
        lines.append(f"    {node.get('target')}: {node.get('html', '')[:200]}")
        lines.extend(f"      {line}" for line in node.get("failureSummary", "").splitlines())
    return "\n".join(lines)


def assert_accessible(page: Page, what: str) -> None:
    """Run axe-core on the page as it is now; fail on any serious or critical violation."""
    results = Axe().run(page)
    blocking = [v for v in results.response["violations"] if v.get("impact") in BLOCKING_IMPACTS]
    report = "\n".join(_describe(v) for v in blocking)
    assert not blocking, f"axe found serious or critical violations on {what}:\n{report}"


@pytest.fixture
def patient(clinician):
    return clinic_services.patient_create(
        hospital_number="rx1001", family_name="Okafor", given_name="Ada", date_of_birth=date(1948, 5, 17), by=clinician
    )


@pytest.fixture
def plan(patient, clinician):
    """A deficient result with neurological involvement, its assessment and its plan (every 2 months)."""
    today = timezone.localdate()
    _assessment, plan = clinic_services.assessment_record(
        patient=patient,
        sample_date=today,
        payload={"b12": {"value": 150, "unit": "pg/mL"}, "neurological_involvement": True},
        plan_options={"start_date": today, "maintenance_every": 2, "maintenance_unit": MONTHS},
        by=clinician,
    )
    return plan
