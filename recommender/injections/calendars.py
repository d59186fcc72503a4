"""iCalendar (RFC 5545) exports, built with the icalendar library. No patient name or result in any title.

How a plan that runs for life stays a bounded file, and still agrees with the app date for date:
- Loading doses are single events (at most the fixed course, or alternate-day doses up to the next review).
  A dose recorded as not given is offered again under the same number: its event (same UID) moves.
- Maintenance and monitoring are each ONE recurring event: an RRULE for the series as the guideline counts it
  (anchor + k × interval, month ends clamped), without end. Dates that move off a closed day (weekend, public
  holiday, clinic closure) are written as EXDATE (the rule's date) + RDATE (the open day it moves to), only within
  a rolling window: ``selectors.SCHEDULE_WINDOW_MONTHS`` (24) ahead of today and ``PAST_DAYS`` behind it.
  Beyond the window a client shows the rule's dates; a fresh download moves the window. The file's size depends
  on the closures inside the window, never on how long the plan has run or how many doses were given.
- UIDs are stable (plan id + what the event is); SEQUENCE is the plan's calendar_sequence (raised by every dose
  recorded and plan change) plus the number of changes ever made to the clinic's closures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

from django.utils import timezone
from icalendar import Calendar, Event, vRecur

from recommender.guideline import DEFAULT_RULESET, schedule
from recommender.injections.selectors import (
    SCHEDULE_WINDOW_MONTHS,
    clinic_calendar_shared,
    closures_read_together,
    closures_version,
    plan_dose_events,
    plan_facts,
)
from recommender.models import TreatmentPlan
from recommender.ruleset_words import RULESET_WORDS as WORDS
from recommender.vocabulary import Phase, dose_label

PRODID = "-//B12 clinic//Treatment plan calendar//EN"
DOMAIN = "b12-clinic"
# Moved dates are written this far back too, so that a dose just overdue still shows on its open day.
PAST_DAYS = 92
# A bound on the loading doses projected up to the horizon (alternate days for years of calendar at most).
LOADING_PROJECTION_LIMIT = 1000
MONITORING_TEXT = (
    "Review: symptoms first. Tests: serum B12 and total homocysteine (seed target below {target} µmol/L). "
    "Re-testing B12 on treatment is uninformative per British haematology guidance, and the homocysteine target has "
    "no guideline support. Do not titrate injections on B12 or MMA."
)


@dataclass(frozen=True, slots=True)
class BookedVisit:
    """A dose or review booked at a time and place (the caller's bookings: this module reads none itself)."""

    kind: str  # "dose" | "review"
    phase: str
    number: int
    due_on: date
    starts_at: datetime
    ends_at: datetime
    place: str
    uid: str


def _booked_event(visit: BookedVisit, summary: str, *, sequence: int, stamp: datetime, uid: str) -> Event:
    """A booked appointment: at its time and place, no longer all-day."""
    event = Event()
    event.add("uid", f"{uid}@{DOMAIN}")
    event.add("summary", summary)
    event.add("dtstart", visit.starts_at.astimezone(UTC))
    event.add("dtend", visit.ends_at.astimezone(UTC))
    event.add("dtstamp", stamp)
    event.add("sequence", sequence)
    event.add("location", visit.place)
    return event


def _calendar(name: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    return cal


# icalendar folds a content line of this many octets or more (RFC 5545: a line takes at most 75 octets).
_FOLD_OCTETS = 75


def ical_bytes(cal: Calendar) -> bytes:
    """``cal.to_ical()``, the same bytes, with icalendar's folding applied only to the lines that need it: icalendar 7
    folds every content line character by character, and almost every line of a plan's calendar is shorter than
    the 75 octets a line may take unfolded (a tenth of the .ics request went there)."""
    out = []
    for line in cal.content_lines():
        if line:
            encoded = line.encode()
            out.append(encoded if len(encoded) < _FOLD_OCTETS else line.to_ical())
    return b"\r\n".join(out) + b"\r\n"


def _event(uid: str, summary: str, day: date, *, sequence: int, stamp: datetime, description: str = "") -> Event:
    event = Event()
    event.add("uid", f"{uid}@{DOMAIN}")
    event.add("summary", summary)
    event.add("dtstart", day)
    event.add("dtend", day + timedelta(days=1))
    event.add("dtstamp", stamp)
    event.add("sequence", sequence)
    event.add("transp", "TRANSPARENT")
    if description:
        event.add("description", description)
    return event


def _loading_event(plan, number: int, day: date, facts, seq: int, stamp: datetime) -> Event:
    if plan.loading_pattern == schedule.THREE_TIMES_WEEKLY:
        title = f"Vitamin B12 injection: {dose_label(Phase.LOADING, number, facts.loading_doses)}"
        description = f"{WORDS.drug_dose} {WORDS.route}."
    else:
        title = f"Vitamin B12 injection: {dose_label(Phase.LOADING, number)}"
        description = f"{WORDS.drug_dose} {WORDS.route}, alternate days until no further improvement."
    return _event(f"{plan.id}-loading-{number}", title, day, sequence=seq, stamp=stamp, description=description)


def _recurring(
    event: Event,
    series: schedule.Series,
    move: Callable[[date], date],
    *,
    window: tuple[date, date],
    booked: frozenset[date] = frozenset(),
) -> Event:
    """The series as an RRULE, and within the window each date that moves off a closed day as EXDATE + RDATE;
    a date ``booked`` at a time (its own event) is only excluded."""
    parts = schedule.recurrence(series.anchor, series.every, series.unit)
    if series.until is not None:
        parts["UNTIL"] = series.until
    event.add("rrule", vRecur(parts))
    excluded, added = [], []
    for nominal in series.dates(until=window[1]):
        if nominal < window[0]:
            continue
        moved = move(nominal)
        if moved in booked:
            excluded.append(nominal)
        elif moved != nominal:
            excluded.append(nominal)
            added.append(moved)
    if excluded:
        event.add("exdate", excluded)
    if added:
        event.add("rdate", sorted(set(added)))
    return event


def _maintenance_description(plan: TreatmentPlan) -> str:
    text = f"{WORDS.drug_dose} {WORDS.route}, {plan.interval_text}, lifelong."
    if plan.individualised:
        offer = plan.assessment.decided.offer()
        low, high = (offer.min_months, offer.max_months) if offer else (None, None)
        span = f"every {low} months" if low == high else f"every {low} to {high} months"
        text += (
            f" Individualised regimen: {plan.interval_text}. The guideline's range for this plan: {span}."
            f" Clinician's reason: {plan.individualised_reason}"
        )
    return text


class _PlanCalendar(NamedTuple):
    """What every event of a plan's calendar is built from."""

    plan: TreatmentPlan
    facts: schedule.PlanFacts
    records: list
    today: date
    window: tuple[date, date]
    seq: int
    stamp: datetime
    booked: tuple[BookedVisit, ...] = ()

    def event(self, uid: str, title: str, day: date, **extra) -> Event:
        return _event(uid, title, day, sequence=self.seq, stamp=self.stamp, **extra)

    def booked_on(self, kind: str, phase: str = "") -> frozenset[date]:
        """The due dates already booked at a time (their all-day occurrence gives way to the appointment)."""
        return frozenset(b.due_on for b in self.booked if b.kind == kind and (not phase or b.phase == phase))


def _booked_events(c: _PlanCalendar) -> list[Event]:
    """Each booked dose or review at its time and place."""
    events = []
    for visit in c.booked:
        if visit.kind == "dose" and visit.phase == schedule.LOADING:
            loading = _loading_event(c.plan, visit.number, visit.due_on, c.facts, c.seq, c.stamp)
            summary, uid = str(loading["summary"]), f"{c.plan.id}-loading-{visit.number}"
        elif visit.kind == "dose":
            summary, uid = f"Vitamin B12 injection: {Phase.MAINTENANCE.label}", f"{c.plan.id}-{visit.uid}"
        else:
            summary, uid = "B12 follow-up review", f"{c.plan.id}-{visit.uid}"
        events.append(_booked_event(visit, summary, sequence=c.seq, stamp=c.stamp, uid=uid))
    return events


def _loading_events(c: _PlanCalendar) -> list[Event]:
    """Loading doses given (on their day) and still to come, and for alternate days the next review."""
    plan, facts = c.plan, c.facts
    fixed = plan.loading_pattern == schedule.THREE_TIMES_WEEKLY
    if not fixed and not (plan.loading_pattern == schedule.ALTERNATE_DAYS and plan.loading_ended_on is None):
        return []
    # Doses given keep their day; a dose not given is offered again under its number (its event moves).
    events = [
        _loading_event(plan, record.number, record.on, facts, c.seq, c.stamp)
        for record in c.records
        if record.phase == schedule.LOADING and record.given
    ]
    if fixed:
        horizon = c.today + timedelta(days=400)
    else:
        until = c.today + timedelta(days=400)
        review = next((d for d in schedule.loading_reviews(facts, until=until) if d >= c.today), None)
        # Up to the review, that day included: a dose the day after it is the clinician's to decide.
        horizon = review if review is not None else c.today + timedelta(days=1)
    booked = {b.number for b in c.booked if b.kind == "dose" and b.phase == schedule.LOADING}
    # Doses still to come up to the horizon (at most the fixed course; alternate-day doses long overdue only
    # from the window's start, so the file stays bounded); a booked one is shown at its appointment instead.
    for dose in schedule.upcoming_doses(facts, c.records, until=horizon, limit=LOADING_PROJECTION_LIMIT):
        wanted = dose.phase == schedule.LOADING and (fixed or dose.due >= c.window[0])
        if wanted and dose.number not in booked:
            events.append(_loading_event(plan, dose.number, dose.due, facts, c.seq, c.stamp))
    if not fixed:
        for day in [d for d in schedule.loading_reviews(facts, until=horizon) if d >= c.today][:1]:
            events.append(
                c.event(
                    f"{plan.id}-loading-review",
                    "B12 loading review: is there further improvement?",
                    day,
                    description="A clinician decides whether alternate-day loading continues.",
                )
            )
    return events


def _maintenance_events(c: _PlanCalendar) -> list[Event]:
    """Lifelong maintenance as one recurring event, once the series has a first date."""
    series = schedule.maintenance_series(c.facts, c.records)
    if series is None:
        return []
    event = c.event(
        f"{c.plan.id}-maintenance",
        f"Vitamin B12 injection: {Phase.MAINTENANCE.label}",
        series.first_date,
        description=_maintenance_description(c.plan),
    )
    booked = c.booked_on("dose", schedule.MAINTENANCE)
    return [_recurring(event, series, c.facts.dose_day, window=c.window, booked=booked)]


def _monitoring_events(c: _PlanCalendar) -> list[Event]:
    """Follow-up reviews until stable (withdrawn when the plan was stable before the first), then yearly."""
    mon = DEFAULT_RULESET.monitoring
    description = MONITORING_TEXT.format(target=mon.homocysteine_target_umol_l)
    until_stable, after_stable = schedule.monitoring_series(c.facts)
    reviews, booked = c.facts.reviews, c.booked_on("review")
    first_text = (
        f"first after {reviews.first_months} month{'s' if reviews.first_months != 1 else ''}, then "
        if reviews.first_months != reviews.every_months_until_stable
        else ""
    )
    before_uid = f"{c.plan.id}-monitoring-{reviews.every_months_until_stable}m"
    before_title = f"B12 follow-up review ({first_text}every {reviews.every_months_until_stable} months until stable)"
    if until_stable is None:
        # Stable before the first visit: the series a client may hold is withdrawn.
        event = c.event(before_uid, before_title, schedule.add_months(c.plan.start_date, reviews.first_months))
        event.add("status", "CANCELLED")
        events = [event]
    else:
        event = c.event(before_uid, before_title, until_stable.first_date, description=description)
        events = [_recurring(event, until_stable, c.facts.open_day, window=c.window, booked=booked)]
    if after_stable is not None:
        event = c.event(
            f"{c.plan.id}-monitoring-{reviews.every_months_after_stable}m",
            "B12 follow-up review (yearly)",
            after_stable.first_date,
            description=description,
        )
        events.append(_recurring(event, after_stable, c.facts.open_day, window=c.window, booked=booked))
    return events


def plan_calendar(
    plan: TreatmentPlan,
    *,
    today: date | None = None,
    booked: list[BookedVisit] = (),
    records: list[schedule.DoseEvent] | None = None,
) -> bytes:
    """The plan as a patient or clinic calendar: loading doses and review prompts as events, lifelong
    maintenance and monitoring as recurring events. Its size does not grow with the time the plan has run.
    A dose or review ``booked`` at a time shows at that time and place instead of on its all-day date.
    ``records``: the plan's ``plan_dose_events`` when the caller has read them already."""
    today = today or timezone.localdate()
    with closures_read_together():
        calendar, closures_seen = clinic_calendar_shared(), closures_version()
    c = _PlanCalendar(
        plan=plan,
        facts=plan_facts(plan, calendar=calendar),
        records=plan_dose_events(plan) if records is None else records,
        today=today,
        window=(today - timedelta(days=PAST_DAYS), schedule.add_months(today, SCHEDULE_WINDOW_MONTHS)),
        # Raised by the plan's own changes and by every change to the clinic's closures (dates may move).
        seq=plan.calendar_sequence + closures_seen,
        stamp=plan.created_at.astimezone(UTC) if plan.created_at else datetime.now(UTC),
        booked=tuple(booked),
    )
    cal = _calendar("B12 treatment plan")
    cancelled = plan.status != TreatmentPlan.Status.ACTIVE
    for event in [*_booked_events(c), *_loading_events(c), *_maintenance_events(c), *_monitoring_events(c)]:
        if cancelled and "status" not in event:
            event.add("status", "CANCELLED")
        cal.add_component(event)
    return ical_bytes(cal)


def worklist_calendar(plans, *, name: str, site: str) -> bytes:
    """A nurse's subscription feed: each active plan's next dose. Calendar apps are third parties: no patient
    name, number or result goes into the feed, only a link that needs a login to the clinic."""
    cal = _calendar(name)
    stamp = datetime.now(UTC).replace(microsecond=0)
    for plan in plans:
        cal.add_component(
            _event(
                f"{plan.id}-{plan.next_phase}-{plan.next_number}",
                f"B12 injection due: {dose_label(plan.next_phase, plan.next_number, plan.loading_doses)}",
                plan.next_due_on,
                sequence=plan.calendar_sequence,
                stamp=stamp,
                description=(
                    f"{WORDS.drug_dose} {WORDS.route_short}. "
                    f"Open in the B12 clinic: {site.rstrip('/')}/plans/{plan.id}/"
                ),
            )
        )
    return ical_bytes(cal)
