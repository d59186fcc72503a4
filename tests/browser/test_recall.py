"""Issue 16: a nurse marks a dose "did not attend" and records a contact attempt from the recall list; the recall
pages, the letter and the clinic dashboard pass axe."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from recommender.clinic import services as clinic_services
from recommender.guideline.plan_options import MONTHS
from recommender.models import ContactAttempt, DoseRecord
from tests.browser.conftest import assert_accessible, csp_violations, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def plan(patient, clinician):
    """Started three weeks ago and its first dose never recorded: on the recall list."""
    today = timezone.localdate()
    _assessment, plan = clinic_services.assessment_record(
        patient=patient,
        sample_date=today - timedelta(days=21),
        payload={"b12": {"value": 150, "unit": "pg/mL"}},
        plan_options={"start_date": today - timedelta(days=21), "maintenance_every": 2, "maintenance_unit": MONTHS},
        by=clinician,
    )
    return plan


def test_a_nurse_marks_did_not_attend_and_records_a_contact_from_the_recall_list(
    page: Page, live_server, nurse, plan, console_messages
):
    log_in(page, live_server, nurse)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Recall").click()
    expect(page.get_by_role("heading", name="Recall list")).to_be_visible()
    row = page.locator(f'tr[data-plan="{plan.pk}"]')
    expect(row).to_contain_text("OKAFOR, Ada")
    expect(row).to_contain_text("Not yet recorded")
    expect(row.locator(".next-action")).to_have_text("Record the dose, or mark did not attend")
    assert_accessible(page, "the recall list")

    row.get_by_role("button", name="Did not attend: Loading 1 of 6 for OKAFOR, Ada").click()
    expect(page.get_by_role("status").filter(has_text="recorded: did not attend")).to_be_visible()
    row = page.locator(f'tr[data-plan="{plan.pk}"]')
    expect(row).not_to_contain_text("Not yet recorded")
    expect(row.locator(".next-action")).to_have_text("Phone the patient")
    record = DoseRecord.objects.get(plan=plan)
    assert (record.outcome, record.recorded_by) == ("missed", nurse)

    row.get_by_role("link", name="Record contact with OKAFOR, Ada").click()
    expect(page.get_by_role("heading", name="Record a contact attempt")).to_be_visible()
    assert_accessible(page, "the contact attempt form")
    page.get_by_label("Phone").check()
    page.get_by_label("What came of it").select_option("message")
    page.get_by_label("Note").fill("Voicemail: asked to ring the clinic.")
    page.get_by_role("button", name="Save contact attempt").click()

    expect(page.get_by_role("heading", name="Recall list")).to_be_visible()
    row = page.locator(f'tr[data-plan="{plan.pk}"]')
    expect(row.locator(".last-contact")).to_contain_text("Phone: left a message")
    expect(row.locator(".next-action")).to_have_text("Phone again")
    attempt = ContactAttempt.objects.get(patient=plan.patient)
    assert (attempt.outcome, attempt.recorded_by) == ("message", nurse)
    assert not csp_violations(console_messages), "\n".join(csp_violations(console_messages))


def test_the_recall_letter_and_the_dashboard_are_accessible(page: Page, live_server, nurse, plan, console_messages):
    log_in(page, live_server, nurse)
    page.goto(f"{live_server.url}/recall/patients/{plan.patient.pk}/letter/")
    expect(page.get_by_role("heading", name="Please book your next injection")).to_be_visible()
    assert_accessible(page, "the recall letter")
    page.emulate_media(media="print")
    height = page.evaluate("document.querySelector('.recall-letter').getBoundingClientRect().height")
    assert height < 1122, "the letter is longer than one A4 page (297 mm at 96 dpi)"
    page.emulate_media(media="screen")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Clinic dashboard")).to_be_visible()
    expect(page.locator("svg.dashboard-chart")).to_have_count(3)
    assert_accessible(page, "the clinic dashboard")
    assert not csp_violations(console_messages), "\n".join(csp_violations(console_messages))
