"""Keyboard alone: the clinician's assessment journey and the nurse's dose recording, with Tab, typing, Space and
Enter only, and a visible focus on every control reached on the way."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from recommender.clinic import services
from recommender.guideline.plan_options import MONTHS
from recommender.models import DoseRecord, TreatmentPlan
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

MAX_TABS = 120
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

FOCUS_VISIBLE = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
  return outline || style.boxShadow !== "none";
}"""


def tab_to(page: Page, selector: str) -> None:
    """Press Tab until the focus is on ``selector``; every stop on the way shows where the focus is."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            assert page.evaluate(FOCUS_VISIBLE), f"the focus on {selector} is not visible"
            return
    raise AssertionError(f"{selector} cannot be reached with the Tab key")


def sign_in_by_keyboard(page: Page, live_server, user) -> None:
    page.goto(f"{live_server.url}/login/")
    tab_to(page, "#id_username")
    page.keyboard.type(user.username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/")


def test_clinician_assesses_and_starts_a_plan_by_keyboard_alone(page: Page, live_server, clinician, patient):
    sign_in_by_keyboard(page, live_server, clinician)
    # The header's search box, an exact hospital number, Enter: the patient.
    tab_to(page, "#header-q")
    page.keyboard.type(patient.hospital_number)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/patients/{patient.pk}/")
    tab_to(page, f"a[href='/patients/{patient.pk}/assess/']")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/patients/{patient.pk}/assess/")

    tab_to(page, "#id_b12_value")
    page.keyboard.type("150")
    tab_to(page, "#id_b12_unit")
    page.keyboard.type("pg")  # a select's type-ahead: "pg/mL"
    tab_to(page, "#id_neurological_involvement")
    page.keyboard.press("Space")
    results = page.locator("#results")
    expect(results.locator("#loading-text")).to_contain_text("alternate days")
    # A red flag is said in words, not by its colour alone.
    expect(results.locator(".red-flag").first).to_contain_text("Red flag")

    # A radio group is one Tab stop; the arrow keys move within it and choose.
    tab_to(page, "input[name='maintenance_choice']")
    for _ in range(5):
        if page.evaluate("document.activeElement.value") == "2":
            break
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Space")
    expect(page.get_by_label("every 2 months", exact=True)).to_be_checked()
    tab_to(page, "#save-button")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/plans/{UUID}/$"))
    plan = TreatmentPlan.objects.get(patient=patient)
    assert (plan.maintenance_every, plan.maintenance_unit, plan.loading_pattern) == (2, MONTHS, "alternate_days")


def test_an_error_is_announced_and_takes_the_focus(page: Page, live_server, clinician, patient):
    sign_in_by_keyboard(page, live_server, clinician)
    page.goto(f"{live_server.url}/patients/{patient.pk}/assess/")
    tab_to(page, "#id_b12_value")
    page.keyboard.type("-5")
    tab_to(page, "#save-button")
    page.keyboard.press("Enter")
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_have_attribute("role", "alert")
    expect(summary).to_contain_text("B12")


@pytest.fixture
def due_plan(patient, clinician):
    """Alternate-day loading started a week ago: its first dose is due whatever the day."""
    today = timezone.localdate()
    _assessment, plan = services.assessment_record(
        patient=patient,
        sample_date=today,
        payload={"b12": {"value": 150, "unit": "pg/mL"}, "neurological_involvement": True},
        plan_options={"start_date": today - timedelta(days=7), "maintenance_every": 2, "maintenance_unit": MONTHS},
        by=clinician,
    )
    return plan


def test_nurse_records_a_dose_by_keyboard_alone(page: Page, live_server, nurse, due_plan):
    sign_in_by_keyboard(page, live_server, nurse)
    tab_to(page, "a[href='/worklist/']")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/worklist/")
    tab_to(page, f"a[href^='/plans/{due_plan.pk}/doses/record/']")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Record loading 1 (alternate days)")).to_be_visible()

    tab_to(page, "#id_allergy_checked")
    page.keyboard.press("Space")
    tab_to(page, "#id_baseline_sample_taken")
    page.keyboard.press("Space")
    tab_to(page, "#id_site")
    page.keyboard.type("Left d")  # a select's type-ahead: "Left deltoid"
    tab_to(page, "#id_batch")
    page.keyboard.type("HX2077")
    tab_to(page, "#id_expiry")
    page.keyboard.type("31/01/2030")
    tab_to(page, "button[type='submit']:not(.btn-outline-light)")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/worklist/")
    record = DoseRecord.objects.get(plan=due_plan)
    assert (record.outcome, record.site, record.batch, record.recorded_by) == ("given", "left_deltoid", "HX2077", nurse)
