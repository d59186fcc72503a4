"""A nurse runs an injection clinic on a tablet: the worklist, recording a dose, the next dose appearing."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from recommender.models import DoseRecord
from tests.browser.conftest import assert_accessible, csp_violations, log_in

TABLET = {"width": 768, "height": 1024}
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _fits_width(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


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
    page.select_option("#id_site", "left_deltoid")
    page.fill("#id_batch", "HX2041")
    page.fill("#id_expiry", "2030-01-31")
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
