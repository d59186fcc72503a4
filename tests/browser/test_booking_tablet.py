"""A nurse runs today's session on a tablet (issue 17): opens the day list, records the first patient's dose with
the existing dose form, books that patient's next dose into the proposed slot; the day list and the plan page
agree."""

from __future__ import annotations

import re
from datetime import time, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from recommender.appointments import selectors, services
from recommender.models import Appointment, DoseRecord
from tests.browser.conftest import assert_accessible, csp_violations, log_in
from tests.factories import make_location, make_sessions

TABLET = {"width": 820, "height": 1180}
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def todays_session(settings, plan, nurse):
    """Sessions every day, all day (whatever the hour the suite runs), and the patient booked into today's."""
    settings.B12_HOLIDAYS = ""
    location = make_location("Riverside Surgery")
    make_sessions(location, weekdays=range(7), start=time(0, 0), end=time(23, 50), capacity=1)
    due = next(d for d in selectors.plan_to_book(plan, today=timezone.localdate()) if d.kind == "dose")
    slot = selectors.slot_proposal(due=due, location=location, today=timezone.localdate()).slot
    services.appointment_book(
        plan=plan,
        kind=due.kind,
        phase=due.phase,
        number=due.number,
        location=location,
        starts_at=slot.starts_at,
        window_reason="Overdue: first session we have.",
        by=nurse,
    )
    return selectors.sessions_on(timezone.localdate())[0]


@pytest.fixture
def plan(patient, clinician):
    """Alternate-day loading started a week ago: its first dose is overdue, whatever day the suite runs on."""
    from recommender.clinic import services as clinic_services
    from recommender.guideline.plan_options import MONTHS

    today = timezone.localdate()
    _assessment, plan = clinic_services.assessment_record(
        patient=patient,
        sample_date=today,
        payload={"b12": {"value": 150, "unit": "pg/mL"}, "neurological_involvement": True},
        plan_options={"start_date": today - timedelta(days=7), "maintenance_every": 2, "maintenance_unit": MONTHS},
        by=clinician,
    )
    return plan


def test_nurse_runs_todays_session_records_a_dose_and_books_the_next(
    page: Page, live_server, nurse, plan, todays_session, console_messages
):
    page.set_viewport_size(TABLET)
    log_in(page, live_server, nurse)
    page.goto(f"{live_server.url}/worklist/")
    page.get_by_role("link", name="Sessions and day lists").click()
    page.get_by_role("link", name="Riverside Surgery").click()
    row = page.locator(f'tr[data-plan="{plan.pk}"]').first
    expect(row).to_contain_text("OKAFOR, Ada")
    expect(row).to_contain_text("Born 17 May 1948")
    expect(row).to_contain_text("RX1001")
    expect(row).to_contain_text("Loading 1 (alternate days)")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the day list scrolls sideways"
    assert_accessible(page, "the day list")
    day_list_url = page.url

    row.get_by_role("link", name=re.compile("^Record loading 1")).click()
    page.get_by_label("Asked about cobalt allergy or hypersensitivity before this first dose").check()
    page.get_by_label("Baseline blood sample", exact=False).check()
    page.select_option("#id_site", "left_deltoid")
    page.fill("#id_batch", "HX2041")
    page.fill("#id_expiry", "2030-01-31")
    page.get_by_role("button", name="Save record").click()

    # Straight to the patient's bookings: the next dose is proposed in the first free slot.
    page.wait_for_url(f"{live_server.url}/appointments/plans/{plan.pk}/")
    proposal = page.locator('[data-proposal="dose-loading-2"]')
    expect(proposal).to_contain_text("First free slot")
    assert_accessible(page, "the plan's bookings")
    proposal.get_by_role("button", name="Book").click()
    expect(page.get_by_role("status").filter(has_text="Loading 2 (alternate days) booked")).to_be_visible()

    booked = Appointment.objects.get(plan=plan, number=2, status="booked")
    at = timezone.localtime(booked.starts_at)
    shown = f"{at:%a %d %b %Y} at {at:%H:%M}"
    assert DoseRecord.objects.get(plan=plan).outcome == "given"

    # The plan page shows the booking (loaded into it), at the same time as the day list of that session.
    page.goto(f"{live_server.url}/plans/{plan.pk}/")
    booked_item = page.locator(f'[data-appointment="{booked.pk}"]')
    expect(booked_item).to_contain_text("Loading 2 (alternate days)")
    expect(booked_item).to_contain_text(shown)
    session = next(s for s in selectors.sessions_on(at.date()) if s.starts_at <= booked.starts_at < s.ends_at)
    page.goto(f"{live_server.url}/appointments/sessions/{at:%Y-%m-%d}/{session.key}/")
    next_row = page.locator(f'tr[data-appointment="{booked.pk}"]')
    expect(next_row).to_contain_text(f"{at:%H:%M}")
    expect(next_row).to_contain_text("OKAFOR, Ada")
    expect(next_row).to_contain_text("Loading 2 (alternate days)")

    # Today's day list now says the first dose was given.
    page.goto(day_list_url)
    expect(page.locator(f'tr[data-plan="{plan.pk}"]').first.locator(".outcome")).to_have_text("Given")
    assert csp_violations(console_messages) == []
