"""A nurse runs an injection clinic on a tablet: the worklist, recording a dose, the next dose appearing."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from recommender.clinic import services as clinic_services
from recommender.guideline.plan_options import MONTHS
from recommender.models import DoseRecord
from tests.browser.conftest import assert_accessible, csp_violations, log_in

TABLET = {"width": 768, "height": 1024}
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _fits_width(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.fixture
def plan(patient, clinician):
    """Neurological involvement, alternate-day loading, started a week ago: its first dose is due, whatever the
    day of the week the suite runs on (so no early-dose reason is asked)."""
    today = timezone.localdate()
    _assessment, plan = clinic_services.assessment_record(
        patient=patient,
        sample_date=today,
        payload={"b12": {"value": 150, "unit": "pg/mL"}, "neurological_involvement": True},
        plan_options={"start_date": today - timedelta(days=7), "maintenance_every": 2, "maintenance_unit": MONTHS},
        by=clinician,
    )
    return plan


def _fill_first_dose(page: Page, batch: str) -> None:
    page.get_by_label("Asked about cobalt allergy or hypersensitivity before this first dose").check()
    page.get_by_label("Baseline blood sample", exact=False).check()
    page.select_option("#id_site", "left_deltoid")
    page.fill("#id_batch", batch)
    page.fill("#id_expiry", "2030-01-31")


def test_nurse_records_a_dose_and_the_next_one_appears(page: Page, live_server, nurse, plan, console_messages):
    page.set_viewport_size(TABLET)
    log_in(page, live_server, nurse)
    page.goto(f"{live_server.url}/worklist/")
    row = page.locator(f'tr[data-plan="{plan.pk}"]')
    expect(row).to_contain_text("RX1001")
    expect(row).to_contain_text("Loading 1")
    assert _fits_width(page), "the worklist scrolls sideways on a tablet"
    assert_accessible(page, "the worklist")

    row.get_by_role("link", name="Record").click()
    expect(page.get_by_role("heading", name="Record loading 1 (alternate days)")).to_be_visible()
    assert _fits_width(page), "the recording form scrolls sideways on a tablet"
    _fill_first_dose(page, "HX2041")
    assert_accessible(page, "the recording form")
    page.get_by_role("button", name="Save record").click()

    page.wait_for_url(f"{live_server.url}/worklist/")
    expect(page.get_by_role("status").filter(has_text="recorded")).to_be_visible()
    row = page.locator(f'tr[data-plan="{plan.pk}"]')
    expect(row).not_to_contain_text("Loading 1 ")
    expect(row).to_contain_text("Loading 2")
    record = DoseRecord.objects.get(plan=plan)
    assert (record.phase, record.number, record.outcome, record.recorded_by) == ("loading", 1, "given", nurse)
    assert csp_violations(console_messages) == []


def test_an_expired_batch_is_refused_on_the_tablet(page: Page, live_server, nurse, plan):
    page.set_viewport_size(TABLET)
    log_in(page, live_server, nurse)
    page.goto(f"{live_server.url}/plans/{plan.pk}/doses/record/")
    page.select_option("#id_site", "right_thigh")
    page.fill("#id_batch", "OLD1")
    page.fill("#id_expiry", "2020-01-31")
    page.get_by_role("button", name="Save record").click()
    expect(page.get_by_text("expired on 31 Jan 2020")).to_be_visible()
    assert not DoseRecord.objects.filter(plan=plan).exists()


def test_a_refused_second_recording_goes_back_to_the_worklist_saying_who_and_when(page: Page, live_server, nurse, plan):
    page.set_viewport_size(TABLET)
    log_in(page, live_server, nurse)
    form_url = f"{live_server.url}/plans/{plan.pk}/doses/record/?next=/worklist/"
    page.goto(form_url)
    second_tab = page.context.new_page()
    second_tab.set_viewport_size(TABLET)
    second_tab.goto(form_url)
    expect(second_tab.get_by_role("heading", name="Record loading 1 (alternate days)")).to_be_visible()

    _fill_first_dose(page, "HX2041")
    page.get_by_role("button", name="Save record").click()
    page.wait_for_url(f"{live_server.url}/worklist/")
    record = DoseRecord.objects.get(plan=plan)
    at = timezone.localtime(record.recorded_at)
    said = f"Loading 1 (alternate days) was already recorded by Nurse_Patel at {at:%H:%M}, {at.day} {at:%b %Y}"

    # The same dose from the second tab: back to the worklist, told who recorded it and when, nothing saved.
    _fill_first_dose(second_tab, "HX2042")
    second_tab.get_by_role("button", name="Save record").click()
    second_tab.wait_for_url(f"{live_server.url}/worklist/")
    expect(second_tab.get_by_role("status").filter(has_text=said)).to_be_visible()
    expect(second_tab.get_by_role("heading", name=re.compile("^Record "))).to_have_count(0)

    # Back, then save again: the browser fetches the form anew (now loading 2) and restores what was typed, or
    # shows its old copy (loading 1). Either way, no second dose is given that day, and the nurse is told why.
    page.go_back()
    assert page.input_value("#id_batch") in ("", "HX2041"), "another dose's batch was filled in"
    if page.input_value("input[name=number]") != "1":
        assert page.input_value("#id_batch") == "", "the next dose's form came back filled in"
    page.get_by_role("button", name="Save record").click()
    page.wait_for_load_state()
    expect(page.get_by_text(re.compile("never given on one day|was already recorded by")).first).to_be_visible()
    assert list(DoseRecord.objects.filter(plan=plan)) == [record]


def test_a_nurse_corrects_the_batch_of_a_dose_given_and_both_records_stay(page: Page, live_server, nurse, plan):
    page.set_viewport_size(TABLET)
    log_in(page, live_server, nurse)
    page.goto(f"{live_server.url}/plans/{plan.pk}/doses/record/")
    _fill_first_dose(page, "HX-WRONG")
    page.get_by_role("button", name="Save record").click()
    page.wait_for_url(f"{live_server.url}/worklist/")

    page.goto(f"{live_server.url}/plans/{plan.pk}/")
    page.get_by_role("link", name="Correct details").click()
    expect(page.get_by_role("heading", name="Correct the details of loading 1 (alternate days)")).to_be_visible()
    assert _fits_width(page), "the correction form scrolls sideways on a tablet"
    assert_accessible(page, "the correction form")
    page.fill("#id_batch", "HX-RIGHT")
    page.fill("#id_reason", "Batch number mistyped.")
    page.get_by_role("button", name="Save corrected record").click()

    page.wait_for_url(f"{live_server.url}/plans/{plan.pk}/")
    expect(page.get_by_role("status").filter(has_text="corrected")).to_be_visible()
    rows = page.locator("section[aria-labelledby=dose-history] tr[data-dose]")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("HX-RIGHT")
    expect(rows.nth(1)).to_contain_text("HX-WRONG")
    expect(rows.nth(1)).to_contain_text("entered in error")
    old, new = DoseRecord.objects.filter(plan=plan).order_by("recorded_at")
    assert (old.entered_in_error, old.replaced_by, new.batch) == (True, new, "HX-RIGHT")
