"""The injection selectors (recommender/injections/selectors.py): the clinic's calendar, the worklist, a plan's
schedule and month; data only, no words."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from recommender.guideline import schedule
from recommender.injections import selectors as injections_selectors
from tests.factories import ENGLAND_2027, give, make_plan


@override_settings(B12_HOLIDAYS="GB-ENG")
@pytest.mark.parametrize("day", list(ENGLAND_2027), ids=[v for v in ENGLAND_2027.values()])
def test_defect_bank_holidays_are_closed_days_and_never_booked(db, day):
    calendar = injections_selectors.clinic_calendar()
    assert calendar.get(day), f"{day} should be a public holiday in England"
    # A daily individualised series running through 2027 at a Monday-to-Friday clinic never lands on one.
    plan = schedule.PlanFacts(date(2026, 12, 1), "", schedule.Interval(1, schedule.DAYS), closures=calendar)
    records = [schedule.DoseEvent(schedule.MAINTENANCE, 1, date(2026, 12, 31))]
    dues = [d.due for d in schedule.upcoming_doses(plan, records, until=date(2027, 12, 31), limit=400)]
    assert day not in dues
    assert schedule.next_open_day(day, schedule.MONDAY_TO_FRIDAY, calendar) in dues, "the next open day is"


@pytest.mark.parametrize(
    ("code", "closed", "open_"),
    [
        ("GB-SCT", date(2027, 1, 4), date(2027, 3, 29)),  # 2 January (substitute Monday) closed; Easter Monday open
        ("GB-NIR", date(2027, 3, 17), date(2027, 1, 4)),  # St Patrick's Day
        ("FR", date(2027, 7, 14), date(2027, 8, 30)),
        ("", None, date(2027, 12, 27)),
    ],
)
def test_the_holidays_setting_picks_the_nation(db, settings, code, closed, open_):
    settings.B12_HOLIDAYS = code
    calendar = injections_selectors.clinic_calendar()
    if closed:
        assert calendar.get(closed)
    assert not calendar.get(open_)


def test_the_worklist_holds_active_plans_due_by_the_horizon_soonest_first(clinician):
    today = timezone.localdate()
    soon = make_plan(clinician, start=today + timedelta(days=2))
    later = make_plan(clinician, start=today + timedelta(days=30))
    overdue = make_plan(clinician, start=today - timedelta(days=3))
    assert list(injections_selectors.worklist(on=today, days_ahead=7)) == [overdue, soon]
    assert later in injections_selectors.worklist(on=today, days_ahead=40)


def test_the_month_events_are_data_without_words(clinician, nurse):
    plan = make_plan(clinician, start=date(2025, 3, 3))
    give(plan, nurse)
    month = injections_selectors.plan_month_events(plan=plan, month=date(2025, 3, 17))
    assert month["month"] == date(2025, 3, 1)
    events = [e for day in month["events"].values() for e in day]
    assert {"kind": "given", "phase": "loading", "number": 1, "outcome": "given"} in events
    assert all("label" not in e for e in events)
    assert {e["kind"] for e in events} <= {"given", "missed", "due", "visit", "review"}


def test_plans_and_doses_come_with_what_their_pages_name(clinician, nurse, django_assert_num_queries):
    plan = make_plan(clinician)
    dose = give(plan, nurse)
    with django_assert_num_queries(1):
        found = injections_selectors.plans_with_patient().get(pk=plan.pk)
        assert found.patient.hospital_number and found.assessment.sample_date
    with django_assert_num_queries(1):
        found = injections_selectors.doses_with_plan().get(pk=dose.pk)
        assert found.plan.patient.hospital_number and found.recorded_by.username


def test_the_plan_pages_did_not_attend_dates_come_with_its_schedule_active_or_ended(db, clinician, nurse):
    """An active plan's missed doses come from the schedule's one read of its records; an ended plan's from their
    own query: the same dates either way, oldest first."""
    from tests.factories import miss, miss_on_its_day

    plan = make_plan(clinician, start=timezone.localdate() - timedelta(days=60))
    give(plan, nurse)
    first = plan.next_due_on
    miss(plan, nurse)
    second = plan.next_due_on
    miss_on_its_day(plan, nurse)  # offered again from the next open day: missed on that day
    expected = injections_selectors.plan_did_not_attend(plan=plan)
    assert expected == [first, second]
    assert injections_selectors.plan_schedule(plan=plan, today=timezone.localdate())["dnas"] == expected
    plan.status = plan.Status.ENDED
    assert injections_selectors.plan_schedule(plan=plan, today=timezone.localdate())["dnas"] == expected


def test_the_plan_page_reads_the_plans_records_twice_whatever_their_number(clinician_client, clinician, nurse):
    """The latest few for the table, and every one (four values each) for the schedule and the missed doses."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    plan = make_plan(clinician, start=timezone.localdate() - timedelta(days=60))
    give(plan, nurse)
    with CaptureQueriesContext(connection) as queries:
        assert clinician_client.get(reverse("plan-detail", args=[plan.pk])).status_code == 200
    assert len([q for q in queries.captured_queries if 'FROM "recommender_doserecord"' in q["sql"]]) == 2
