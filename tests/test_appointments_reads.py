"""Booking's fast reads (issue 17, performance) say what the plain reads say: a session looked up by its key as the
day's sessions list it, every due's first free slot found in one read as the slot-by-slot search finds it, and a
day list's rows showing each dose recorded since the booking."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from recommender.appointments import selectors, services
from recommender.models import Appointment, ClinicClosure, DoseRecord, SessionChange
from tests.factories import give, make_location, make_plan, make_sessions, next_weekday

PROPERTY_SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
DAYS = 21


@pytest.fixture(autouse=True)
def _no_public_holidays(settings):
    settings.B12_HOLIDAYS = ""


def _at(day: date, clock: time) -> datetime:
    return timezone.make_aware(datetime.combine(day, clock))


@PROPERTY_SETTINGS
@given(
    weekdays=st.sets(st.integers(0, 6), min_size=1, max_size=4),
    valid=st.lists(st.tuples(st.none() | st.integers(0, DAYS), st.none() | st.integers(0, DAYS)), min_size=4),
    closed=st.sets(st.integers(0, DAYS - 1), max_size=3),
    cancelled=st.sets(st.integers(0, DAYS - 1), max_size=3),
    extra=st.sets(st.integers(0, DAYS - 1), max_size=3),
    inactive=st.booleans(),
)
def test_a_session_looked_up_by_its_key_is_the_one_the_days_sessions_list(
    db, weekdays, valid, closed, cancelled, extra, inactive
):
    start = next_weekday(timezone.localdate(), 0)
    with transaction.atomic():
        location, elsewhere = make_location(), make_location("Hilltop Clinic", active=not inactive)
        sessions = make_sessions(location, weekdays=sorted(weekdays)) + make_sessions(elsewhere, weekdays=[1])
        for session, (since, until) in zip(sessions, valid, strict=False):
            session.valid_from = start + timedelta(days=since) if since is not None else None
            session.valid_until = start + timedelta(days=until) if until is not None else None
            session.save()
        for offset in closed:
            ClinicClosure.objects.create(date=start + timedelta(days=offset), reason="Training day")
        for offset in cancelled:
            day = start + timedelta(days=offset)
            for session in (s for s in sessions if s.weekday == day.weekday()):
                SessionChange.objects.create(kind="cancel", date=day, session=session, reason="Nurse off sick")
        changes = [
            SessionChange.objects.create(
                kind="extra",
                date=start + timedelta(days=offset),
                location=(location, elsewhere)[offset % 2],
                start=time(14),
                end=time(15),
                slot_minutes=15,
                capacity=1,
                reason="Catch-up",
            )
            for offset in extra
        ]
        keys = [str(s.pk) for s in sessions] + [str(c.pk) for c in changes] + ["not-a-session"]
        for day in (start + timedelta(days=i) for i in range(DAYS)):
            held = {s.key: s for s in selectors.sessions_on(day)}
            for key in keys:
                assert selectors.session_on(day=day, key=key) == held.get(key), (day, key)
        transaction.set_rollback(True)


def test_no_session_on_a_public_holiday_by_its_key(db, settings):
    settings.B12_HOLIDAYS = "GB-ENG"
    christmas = date(timezone.localdate().year + 1, 12, 25)
    session = make_sessions(make_location(), weekdays=[christmas.weekday()])[0]
    assert selectors.sessions_on(christmas) == []
    assert selectors.session_on(day=christmas, key=str(session.pk)) is None
    assert selectors.session_on(day=christmas - timedelta(days=7), key=str(session.pk)) is not None


def _first_free_slot_by_hand(due: selectors.Due, location, today: date) -> selectors.Slot | None:
    """The first free slot as a nurse would find it: every slot's seats counted, walked one by one."""
    first = max(due.due_on, today)
    last = max(due.latest, first) + timedelta(days=selectors.SEARCH_BEYOND_WINDOW_DAYS)
    now = timezone.now()
    return next(
        (s for s in selectors.slots_between(location=location, first=first, last=last) if s.free and s.starts_at > now),
        None,
    )


@PROPERTY_SETTINGS
@given(
    capacity=st.integers(1, 2),
    full_days=st.sets(st.integers(0, 50), max_size=12),
    seats=st.lists(st.tuples(st.integers(0, 50), st.integers(0, 5)), max_size=12),
    dues=st.lists(st.tuples(st.integers(-5, 60), st.integers(0, 10), st.integers(0, 20)), min_size=1, max_size=3),
)
# The first fortnight of both searches full: the first free slots are found in the rest of them.
@example(capacity=1, full_days=set(range(0, 24)), seats=[], dues=[(0, 0, 10), (3, 2, 30)])
@example(capacity=2, full_days=set(range(0, 16)), seats=[(16, 0), (17, 5)], dues=[(1, 1, 1)])
def test_every_dues_first_free_slot_read_at_once_is_the_one_found_slot_by_slot(
    clinician, nurse, capacity, full_days, seats, dues
):
    today = timezone.localdate()
    start = next_weekday(today, 0)
    with transaction.atomic():
        location = make_location()
        make_sessions(location, weekdays=range(5), end=time(10), capacity=capacity)
        plan = make_plan(clinician, start=start)
        taken = {(day, slot) for day in full_days for slot in range(6)} | set(seats)
        for number, (day, slot) in enumerate(sorted(taken), start=1):
            at = _at(start + timedelta(days=day), time(9, 10 * slot))
            if at.weekday() < 5:
                for seat in range(1, capacity + 1 if (day in full_days) else 2):
                    Appointment.objects.create(
                        plan=plan, kind="review", number=number * 10 + seat, due_on=at.date(), location=location,
                        starts_at=at, slot_minutes=10, seat=seat, capacity=capacity, booked_by=nurse,
                    )  # fmt: skip
        wanted = []
        for offset, before, after in dues:
            due_on = start + timedelta(days=offset)
            wanted.append(
                selectors.Due(
                    "dose", "maintenance", 1, due_on, due_on - timedelta(days=before), due_on + timedelta(days=after)
                )
            )
        proposals = selectors.slot_proposals(dues=wanted, location=location, today=today)
        for due, proposal in zip(wanted, proposals, strict=True):
            by_hand = _first_free_slot_by_hand(due, location, today)
            assert proposal.due == due
            assert (proposal.slot.starts_at if proposal.slot else None) == (by_hand.starts_at if by_hand else None)
            assert proposal.in_window == (by_hand is not None and due.in_window(by_hand.session.day))
        transaction.set_rollback(True)


def test_the_day_list_shows_the_dose_recorded_since_the_booking_not_one_before_or_in_error(clinician, nurse, client):
    start = next_weekday(timezone.localdate(), 0)
    location = make_location()
    make_sessions(location, capacity=3)
    today = timezone.localdate()
    plans = [make_plan(clinician, start=today, family_name=name) for name in ("Ash", "Birch", "Cedar")]
    for plan in plans:
        due = next(d for d in selectors.plan_to_book(plan, today=timezone.localdate()) if d.kind == "dose")
        services.appointment_book(
            plan=plan, kind=due.kind, phase=due.phase, number=due.number, location=location,
            starts_at=_at(start, time(9)), window_reason="Away until then.", by=nurse,
        )  # fmt: skip
    ash, birch, cedar = plans
    give(ash, nurse, on=today)
    wrong = give(birch, nurse, on=today)
    DoseRecord.objects.filter(pk=wrong.pk).update(entered_in_error=True)
    older = give(cedar, nurse, on=today)
    Appointment.objects.filter(plan=cedar).update(booked_at=older.recorded_at + timedelta(seconds=1))
    session = selectors.sessions_on(start)[0]
    client.force_login(nurse)
    page = client.get(reverse("appointment-day-list", args=[start.isoformat(), session.key]))
    outcomes = {row.plan_id: row.outcome for row in page.context["rows"]}
    assert outcomes == {ash.pk: "given", birch.pk: "", cedar.pk: ""}
    assert page.content.decode().count(">Given</span>") == 1


def test_with_the_shared_cache_a_proposal_reads_no_sessions_and_any_change_to_them_is_seen_at_once(
    shared, clinician, nurse, client, django_assert_num_queries
):
    start = next_weekday(timezone.localdate(), 0)
    location = make_location()
    monday = make_sessions(location)[0]
    plan = make_plan(clinician, start=start)
    plan.patient.usual_location = location
    plan.patient.save()
    client.force_login(nurse)
    url = reverse("appointment-plan", args=[plan.pk])

    def proposed() -> datetime:
        page = client.get(url, headers={"HX-Request": "true"})
        return page.context["proposals"][0].proposal.slot.starts_at

    assert proposed() == _at(start, time(9))
    with django_assert_num_queries(1):  # the session with its user: the proposal itself comes from the shared cache
        assert proposed() == _at(start, time(9))
    cancel = SessionChange.objects.create(kind="cancel", date=start, session=monday, reason="Nurse off sick")
    assert proposed() == _at(start + timedelta(days=2), time(9))
    tuesday = start + timedelta(days=1)
    extra = SessionChange.objects.create(
        kind="extra", date=tuesday, location=location, start=time(14), end=time(15), slot_minutes=15, capacity=1,
        reason="Catch-up",
    )  # fmt: skip
    assert proposed() == _at(tuesday, time(14))
    cancel.delete()
    assert proposed() == _at(start, time(9))
    closure = ClinicClosure.objects.create(date=start, reason="Training day")
    assert proposed() == _at(tuesday, time(14))
    extra.start = time(13)
    extra.save()
    assert proposed() == _at(tuesday, time(13))
    closure.delete()
    monday.start = time(8)
    monday.save()
    assert proposed() == _at(start, time(8))


def test_with_the_shared_cache_a_day_list_reads_only_the_session_and_a_cancelled_session_is_gone_at_once(
    shared, clinician, nurse, client, django_assert_num_queries
):
    start = next_weekday(timezone.localdate(), 0)
    monday = make_sessions(make_location())[0]
    url = reverse("appointment-day-list", args=[start.isoformat(), str(monday.pk)])
    client.force_login(nurse)
    assert client.get(url).status_code == 200
    with django_assert_num_queries(1):  # the session with its user (the bookings' rows are kept)
        assert client.get(url).status_code == 200
    assert client.get(reverse("appointment-day-list", args=[start.isoformat(), "not-a-session"])).status_code == 404
    SessionChange.objects.create(kind="cancel", date=start, session=monday, reason="Nurse off sick")
    assert client.get(url).status_code == 404


def test_a_proposal_reads_the_full_slots_of_its_first_fortnight_and_the_rest_only_when_that_is_full(clinician, nurse):
    today = timezone.localdate()
    start = next_weekday(today + timedelta(days=1), 0)
    location = make_location()
    make_sessions(location, weekdays=range(5), end=time(9, 20), capacity=1)  # two slots a weekday
    plan = make_plan(clinician, start=start)
    due = selectors.Due("dose", "maintenance", 1, start, start, start + timedelta(days=7))

    def proposed() -> tuple[datetime | None, int]:
        reads = []

        def count(execute, sql, params, many, context):
            if 'COUNT("recommender_appointment"."id")' in sql:
                reads.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            proposal = selectors.slot_proposal(due=due, location=location, today=today)
        return (proposal.slot.starts_at if proposal.slot else None), len(reads)

    assert proposed() == (_at(start, time(9)), 1)
    for day in range(selectors.FIRST_SEARCH_DAYS):
        for number, clock in enumerate((time(9), time(9, 10))):
            at = _at(start + timedelta(days=day), clock)
            if at.weekday() < 5:
                Appointment.objects.create(
                    plan=plan, kind="review", number=day * 10 + number, due_on=at.date(), location=location,
                    starts_at=at, slot_minutes=10, seat=1, capacity=1, booked_by=nurse,
                )  # fmt: skip
    after = start + timedelta(days=selectors.FIRST_SEARCH_DAYS)
    assert proposed() == (_at(after, time(9)), 2), "the first free slot after the full fortnight, one more read"
