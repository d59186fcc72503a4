"""Booking invariants (issue 17), whatever nurses try: no slot over its capacity (unless overbooked with a reason),
every booking inside its window or carrying a reason, none on a closed day, a loading course booked slot by slot
keeps its rhythm; and on PostgreSQL, two nurses taking the last place at once make one booking."""

from __future__ import annotations

import contextlib
import itertools
from datetime import date, datetime, time, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommender.appointments import selectors, services
from recommender.guideline import schedule
from recommender.injections.selectors import clinic_calendar
from recommender.models import Appointment, ClinicClosure, SessionChange
from tests.conftest import NURSE, make_user
from tests.factories import at_once, make_location, make_plan, make_sessions, next_weekday, only_postgresql

PROPERTY_SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@pytest.fixture(autouse=True)
def _no_public_holidays(settings):
    settings.B12_HOLIDAYS = ""


def _at(day: date, clock: time) -> datetime:
    return timezone.make_aware(datetime.combine(day, clock))


attempt = st.tuples(
    st.integers(0, 2),  # which patient
    st.integers(0, 20),  # days after the due date... or before it (negative shift below)
    st.integers(0, 5),  # which slot of the session (09:00 … 09:50)
    st.booleans(),  # overbook
    st.booleans(),  # give a reason for overbooking
    st.booleans(),  # give a reason for booking outside the window
    st.integers(-10, 0),  # a shift before the due date
)


@PROPERTY_SETTINGS
@given(
    capacity=st.integers(1, 2),
    closed=st.sets(st.integers(0, 20), max_size=4),
    cancelled=st.sets(st.integers(0, 20), max_size=2),
    attempts=st.lists(attempt, min_size=1, max_size=12),
)
def test_no_slot_over_capacity_every_booking_in_window_or_with_a_reason_none_on_a_closed_day(
    clinician, nurse, capacity, closed, cancelled, attempts
):
    start = next_weekday(timezone.localdate(), 0)
    with transaction.atomic():
        location = make_location()
        sessions = make_sessions(location, weekdays=range(7), end=time(10), capacity=capacity)
        for offset in closed:
            ClinicClosure.objects.create(date=start + timedelta(days=offset), reason="Training day")
        for offset in cancelled:
            day = start + timedelta(days=offset)
            SessionChange.objects.create(
                kind="cancel", date=day, session=sessions[day.weekday()], reason="Nurse off sick"
            )
        plans = [make_plan(clinician, start=start) for _ in range(3)]
        for who, after, slot, overbook, overbook_why, window_why, before in attempts:
            plan = plans[who]
            due = next(d for d in selectors.plan_to_book(plan, today=timezone.localdate()) if d.kind == "dose")
            day = max(due.due_on + timedelta(days=after + before), timezone.localdate() + timedelta(days=1))
            with contextlib.suppress(ValidationError):  # refusals are the point: the invariants hold either way
                services.appointment_book(
                    plan=plan,
                    kind=due.kind,
                    phase=due.phase,
                    number=due.number,
                    location=location,
                    starts_at=_at(day, time(9, 10 * slot)),
                    overbook=overbook,
                    overbook_reason="Only time they can come." if overbook_why else "",
                    window_reason="Away until then." if window_why else "",
                    by=nurse,
                )
        calendar = clinic_calendar()
        seated = list(Appointment.objects.filter(status__in=selectors.SEATED))
        per_slot = {}
        for a in seated:
            per_slot.setdefault(a.starts_at, []).append(a)
            day = timezone.localtime(a.starts_at).date()
            assert not calendar.get(day), f"booked on a closed day {day}"
            assert (day - start).days not in cancelled, f"booked into a cancelled session on {day}"
            earliest, latest = selectors.window_for(kind=a.kind, phase=a.phase, due_on=a.due_on)
            assert earliest <= day <= latest or a.window_reason, f"{a} outside its window without a reason"
        for at, booked in per_slot.items():
            plain = [a for a in booked if not a.overbook_reason]
            assert len(plain) <= capacity, f"{len(plain)} booked into {at} (capacity {capacity})"
            assert sorted(a.seat for a in booked) == list(range(1, len(booked) + 1))
        transaction.set_rollback(True)


@PROPERTY_SETTINGS
@given(
    weekdays=st.sets(st.integers(0, 4), min_size=3, max_size=5),
    choices=st.lists(st.integers(0, 50), min_size=6, max_size=6),
)
def test_a_loading_course_booked_slot_by_slot_keeps_its_rhythm(clinician, nurse, settings, weekdays, choices):
    """Whichever free slot inside each dose's window the nurse picks: never two doses a day, at least one clear day
    between two doses where the clinic's days allow one (the schedule's own course), never more than three in any
    seven days."""
    settings.B12_CLINIC_DAYS = sorted(weekdays)
    start = next_weekday(timezone.localdate(), min(weekdays))
    with transaction.atomic():
        location = make_location()
        make_sessions(location, weekdays=sorted(weekdays), end=time(10), capacity=1)
        plan = make_plan(clinician, start=start)
        days = []
        for choice in choices:
            due = next(d for d in selectors.plan_to_book(plan, today=timezone.localdate()) if d.kind == "dose")
            if due.phase != "loading":
                break
            in_window = [
                s
                for s in selectors.free_slots(due=due, location=location, today=timezone.localdate())
                if due.in_window(s.session.day)
            ]
            assert in_window, f"no free slot in the window of {due}"
            slot = in_window[choice % len(in_window)]
            services.appointment_book(
                plan=plan,
                kind=due.kind,
                phase=due.phase,
                number=due.number,
                location=location,
                starts_at=slot.starts_at,
                by=nurse,
            )
            days.append(slot.session.day)
        assert len(days) == 6
        course = schedule.fixed_loading_dates(start, frozenset(weekdays))
        clear_day = min(b - a for a, b in itertools.pairwise(course)).days >= 2
        assert all((b - a).days >= (2 if clear_day else 1) for a, b in itertools.pairwise(days)), days
        assert all((days[i + 3] - days[i]).days >= 7 for i in range(len(days) - 3)), days
        transaction.set_rollback(True)


@only_postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_nurses_booking_the_last_place_at_the_same_moment_make_one_booking(clinician, nurse, django_user_model):
    other_nurse = make_user(django_user_model, "nurse_okoro", NURSE)
    start = next_weekday(timezone.localdate(), 0)
    location = make_location()
    make_sessions(location, weekdays=[0], start=time(9), end=time(9, 10), capacity=1)  # one place only
    plans = [make_plan(clinician, start=start) for _ in range(2)]

    def booking(plan, by):
        return lambda: services.appointment_book(
            plan=plan,
            kind="dose",
            phase="loading",
            number=1,
            location=location,
            starts_at=_at(start, time(9)),
            by=by,
        )

    outcomes = at_once(booking(plans[0], nurse), booking(plans[1], other_nurse))
    booked = [o for o in outcomes if isinstance(o, Appointment)]
    refused = [o for o in outcomes if isinstance(o, ValidationError)]
    assert (len(booked), len(refused)) == (1, 1), outcomes
    message = " ".join(refused[0].messages)
    assert "just booked the last place" in message or "is full" in message, message
    assert Appointment.objects.count() == 1
