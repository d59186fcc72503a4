"""Each role's first screen over the demo clinic, the header search with and without JavaScript, and axe on every
page a role reaches from it (and the admin's main pages, and the error pages)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from recommender.management.commands.demo_clinic import load_demo_clinic
from recommender.models import Patient
from tests.conftest import PASSWORD

from .conftest import TIMEOUT_MS, assert_accessible, csp_violations, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def demo_clinic(clinician, nurse):
    load_demo_clinic(clinician=clinician, nurse=nurse)


def visit_all(page: Page, live_server, paths: list[str], console_messages: list[str]) -> None:
    for path in paths:
        page.goto(f"{live_server.url}{path}")
        assert_accessible(page, path)
    assert not csp_violations(console_messages), "\n".join(csp_violations(console_messages))


def test_clinician_home_over_the_demo_clinic(page: Page, live_server, clinician, demo_clinic, console_messages):
    log_in(page, live_server, clinician)
    expect(page.get_by_role("heading", name="Waiting for a decision from you")).to_be_visible()
    awaited = page.locator("section.home-list").filter(has=page.get_by_role("heading", name="MMA result awaited"))
    expect(awaited.get_by_role("listitem")).to_have_count(3)
    expect(page.get_by_role("heading", name="Monitoring due or overdue")).to_be_visible()
    expect(page.get_by_text("Overdue").first).to_be_visible()
    assert_accessible(page, "the clinician's home")
    # Into a patient from the list, and on through the pages a clinician uses.
    awaited.get_by_role("link").first.click()
    expect(page.locator(".patient-banner")).to_contain_text("PUDDLEBY, Horace")
    patient = Patient.objects.get(hospital_number="DEMO001")
    plan = Patient.objects.get(hospital_number="DEMO011").plans.get()
    visit_all(
        page,
        live_server,
        [
            f"/patients/{patient.pk}/",
            f"/patients/{patient.pk}/assess/",
            f"/plans/{plan.pk}/",
            f"/plans/{plan.pk}/calendar/",
            "/patients/?q=demo",
            "/search/?q=pudd",
            "/worklist/",
            "/no-such-page/",
        ],
        console_messages,
    )


def test_nurse_home_over_the_demo_clinic(page: Page, live_server, nurse, demo_clinic, console_messages):
    log_in(page, live_server, nurse)
    expect(page.get_by_role("heading", name="Injections")).to_be_visible()
    overdue = page.locator("section.home-list").filter(has=page.get_by_role("heading", name="Overdue"))
    expect(overdue.get_by_role("listitem")).to_have_count(3)
    dnas = page.locator("section.home-list").filter(has=page.get_by_role("heading", name="Did not attend"))
    expect(dnas).to_contain_text("SCATTERBROOK")
    assert_accessible(page, "the nurse's home")
    plan = Patient.objects.get(hospital_number="DEMO015").plans.get()
    visit_all(
        page,
        live_server,
        [f"/plans/{plan.pk}/doses/record/", "/worklist/", "/account/calendar-feed/"],
        console_messages,
    )


def test_admin_home_over_the_demo_clinic(page: Page, live_server, admin_user, demo_clinic, console_messages):
    admin_user.is_superuser = True
    admin_user.save()
    log_in(page, live_server, admin_user)
    expect(page.get_by_role("heading", name="The service")).to_be_visible()
    expect(page.get_by_text("Staff training day (demo)")).to_be_visible()
    expect(page.locator('[data-state="stable"]')).to_have_text("2")
    assert_accessible(page, "the admin's home")
    visit_all(
        page,
        live_server,
        [
            "/admin/",
            "/admin/recommender/patient/",
            "/admin/recommender/labprofile/",
            "/admin/recommender/clinicclosure/",
            "/admin/auth/user/",
        ],
        console_messages,
    )


def test_search_as_you_type_then_straight_to_the_patient(page: Page, live_server, clinician, demo_clinic):
    log_in(page, live_server, clinician)
    box = page.get_by_role("searchbox", name="Find a patient")
    box.press_sequentially("gobb", delay=30)
    live = page.locator("#search-live")
    expect(live.get_by_role("link", name="GOBBLEDY, Ethel")).to_be_visible()
    assert_accessible(page, "the live search results")
    box.fill("DEMO010")
    box.press("Enter")
    expect(page.locator(".patient-banner")).to_contain_text("GOBBLEDY, Ethel")
    box = page.get_by_role("searchbox", name="Find a patient")
    box.fill("30/1/1946")  # Fiddlewick's date of birth, day first
    box.press("Enter")
    expect(page.get_by_role("heading", name="Patients matching “30/1/1946”")).to_be_visible()
    expect(page.get_by_role("link", name="DEMO004")).to_be_visible()


def test_search_works_without_javascript(browser: Browser, live_server, nurse, demo_clinic):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", nurse.username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("searchbox", name="Find a patient").fill("crumpet")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("heading", name="Patients matching “crumpet”")).to_be_visible()
    page.get_by_role("link", name="DEMO005").click()
    expect(page.locator(".patient-banner")).to_contain_text("CRUMPETSHIRE, Basil")
    nhs = Patient.objects.get(hospital_number="DEMO007").nhs_number_display
    page.get_by_role("searchbox", name="Find a patient").fill(nhs)
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator(".patient-banner")).to_contain_text("BRAMBLEWOOD, Percy")
    context.close()
