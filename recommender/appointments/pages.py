"""The plan's calendar file and its bookings with the free slots proposed, built once and kept in the nodes' shared
cache until the plan changes (see recommender/clinic/pages.py: what is kept, what retires it); the proposals also
until any booking changes, since a slot is free only while no other plan has taken it. A calendar app polls the same
file again and again. A session's day list: its rows kept until any booking, plan, patient, dose or the clinic's
calendar changes (a nurse running a session reloads it after each patient)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from django.template.loader import get_template
from django.utils import translation

from recommender import shared_cache
from recommender.injections import calendars
from recommender.injections.selectors import plan_dose_events
from recommender.models import TreatmentPlan

from . import presenters, selectors


def plan_ics(*, plan_id, today: date, now: datetime) -> tuple[TreatmentPlan, bytes]:
    """The plan and its .ics: each appointment booked from ``now`` on at its time and place. The file kept is the
    one for the bookings still to come when it was built; once one of them has passed (later the same day), the file
    is built again from the kept plan, records and bookings, without a query."""
    plan, records, booked, passed_then, body = shared_cache.record_through(
        "plan", plan_id, f"ics:{today.isoformat()}", lambda: _plan_ics(plan_id=plan_id, today=today, now=now)
    )
    upcoming = [appointment for appointment in booked if appointment.starts_at >= now]
    if len(booked) - len(upcoming) != passed_then:
        body = _calendar(plan, records, upcoming, today=today)
    return plan, body


def _plan_ics(*, plan_id, today: date, now: datetime) -> tuple:
    # Not its assessment: only an individualised plan's description reads the decision (one query then).
    plan = TreatmentPlan.objects.get(pk=plan_id)
    if plan.individualised:
        plan.assessment  # noqa: B018 (read now, so that the plan kept has it)
    records = plan_dose_events(plan)
    booked = list(selectors.plan_upcoming(plan=plan, since=selectors.start_of(today)))  # soonest first
    upcoming = [appointment for appointment in booked if appointment.starts_at >= now]
    return plan, records, booked, len(booked) - len(upcoming), _calendar(plan, records, upcoming, today=today)


def _calendar(plan: TreatmentPlan, records: list, upcoming: list, *, today: date) -> bytes:
    return calendars.plan_calendar(plan, today=today, booked=presenters.calendar_bookings(upcoming), records=records)


def day_list_rows(*, session: selectors.SessionDay) -> list[presenters.DayListRow]:
    """The session's booked patients as the day list prints them, whatever the user may do with them (the row
    actions, the CSRF input and what time it is are the request's)."""
    return shared_cache.read_through(
        (shared_cache.CLINIC_LISTS, shared_cache.BOOKINGS, shared_cache.CLINIC_SESSIONS),
        f"day-list:{session.day.isoformat()}:{session.key}:{session.location_id}:{session.start}:{session.end}:"
        f"{translation.get_language()}",
        lambda: _day_list_rows(session),
    )


def _day_list_rows(session: selectors.SessionDay) -> list[presenters.DayListRow]:
    """The rows, each with its cells that are the same for everyone (time, patient, what for) rendered once."""
    cells = get_template("recommender/appointments/day_list.html#row-cells")
    return [
        replace(row, cells=cells.render({"row": row}))
        for row in presenters.day_list_rows(selectors.day_list(session=session))
    ]


def plan_bookings(*, plan_id, today: date, now: datetime) -> dict:
    """The plan's bookings from ``today`` and the first free slot for each dose or review still to book. Kept
    proposals in which a slot has begun by ``now`` are read again (and kept in their place)."""
    return shared_cache.record_through(
        "plan",
        plan_id,
        f"bookings:{today.isoformat()}",
        lambda: _plan_bookings(plan_id=plan_id, today=today),
        also=(shared_cache.BOOKINGS,),
        valid=lambda shown: (
            not any(row.proposal.slot is not None and row.proposal.slot.starts_at <= now for row in shown["proposals"])
        ),
    )


def _plan_bookings(*, plan_id, today: date) -> dict:
    plan = TreatmentPlan.objects.select_related("patient__usual_location").get(pk=plan_id)
    return presenters.plan_bookings(plan, today=today)
