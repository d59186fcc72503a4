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

from django.utils import timezone
from icalendar import Calendar, Event, vRecur

from recommender.guideline import DEFAULT_RULESET, schedule
from recommender.injections.selectors import SCHEDULE_WINDOW_MONTHS, closures_version, plan_dose_events, plan_facts
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
        every = (plan.assessment.decision.get("maintenance") or {}).get("every_months") or {}
        low, high = every.get("min"), every.get("max")
        span = f"every {low} months" if low == high else f"every {low} to {high} months"
        text += (
            f" Individualised regimen: {plan.interval_text}. The guideline's range for this plan: {span}."
            f" Clinician's reason: {plan.individualised_reason}"
        )
    return text


def plan_calendar(plan: TreatmentPlan, *, today: date | None = None, booked: list[BookedVisit] = ()) -> bytes:
    """The plan as a patient or clinic calendar: loading doses and review prompts as events, lifelong
    maintenance and monitoring as recurring events. Its size does not grow with the time the plan has run.
    A dose or review ``booked`` at a time shows at that time and place instead of on its all-day date."""
    today = today or timezone.localdate()
    window = (today - timedelta(days=PAST_DAYS), schedule.add_months(today, SCHEDULE_WINDOW_MONTHS))
    stamp = plan.created_at.astimezone(UTC) if plan.created_at else datetime.now(UTC)
    # Raised by the plan's own changes and by every change to the clinic's closures (dates may move).
    seq = plan.calendar_sequence + closures_version()
    cal = _calendar("B12 treatment plan")
    facts = plan_facts(plan)
    records = plan_dose_events(plan)
    cancelled = plan.status != TreatmentPlan.Status.ACTIVE
    events: list[Event] = []
    booked_doses = {(b.phase, b.number) for b in booked if b.kind == "dose"}
    for visit in booked:
        if visit.kind == "dose" and visit.phase == schedule.LOADING:
            loading = _loading_event(plan, visit.number, visit.due_on, facts, seq, stamp)
            summary, uid = str(loading["summary"]), f"{plan.id}-loading-{visit.number}"
        elif visit.kind == "dose":
            summary, uid = "Vitamin B12 injection (maintenance)", f"{plan.id}-{visit.uid}"
        else:
            summary, uid = "B12 follow-up review", f"{plan.id}-{visit.uid}"
        events.append(_booked_event(visit, summary, sequence=seq, stamp=stamp, uid=uid))
    booked_maintenance = frozenset(b.due_on for b in booked if b.kind == "dose" and b.phase == schedule.MAINTENANCE)
    booked_reviews = frozenset(b.due_on for b in booked if b.kind == "review")

    if plan.loading_pattern == schedule.THREE_TIMES_WEEKLY or (
        plan.loading_pattern == schedule.ALTERNATE_DAYS and plan.loading_ended_on is None
    ):
        fixed = plan.loading_pattern == schedule.THREE_TIMES_WEEKLY
        # Doses given keep their day; a dose not given is offered again under its number (its event moves).
        for record in (r for r in records if r.phase == schedule.LOADING and r.given):
            events.append(_loading_event(plan, record.number, record.on, facts, seq, stamp))
        if fixed:
            horizon = today + timedelta(days=400)
        else:
            review = next(
                (d for d in schedule.loading_reviews(facts, until=today + timedelta(days=400)) if d >= today), None
            )
            horizon = (review or today) + timedelta(days=1)
        # Doses still to come up to the horizon (at most the fixed course; alternate-day doses long overdue only
        # from the window's start, so the file stays bounded).
        for dose in schedule.upcoming_doses(facts, records, until=horizon, limit=LOADING_PROJECTION_LIMIT):
            wanted = dose.phase == schedule.LOADING and (fixed or dose.due >= window[0])
            if wanted and (schedule.LOADING, dose.number) not in booked_doses:
                events.append(_loading_event(plan, dose.number, dose.due, facts, seq, stamp))
        if not fixed:
            reviews = [d for d in schedule.loading_reviews(facts, until=horizon) if d >= today][:1]
            for day in reviews:
                events.append(
                    _event(
                        f"{plan.id}-loading-review",
                        "B12 loading review: is there further improvement?",
                        day,
                        sequence=seq,
                        stamp=stamp,
                        description="A clinician decides whether alternate-day loading continues.",
                    )
                )

    series = schedule.maintenance_series(facts, records)
    if series is not None:
        event = _event(
            f"{plan.id}-maintenance",
            f"Vitamin B12 injection: {Phase.MAINTENANCE.label}",
            series.first_date,
            sequence=seq,
            stamp=stamp,
            description=_maintenance_description(plan),
        )
        events.append(_recurring(event, series, facts.dose_day, window=window, booked=booked_maintenance))

    mon = DEFAULT_RULESET.monitoring
    description = MONITORING_TEXT.format(target=mon.homocysteine_target_umol_l)
    until_stable, after_stable = schedule.monitoring_series(facts)
    reviews = facts.reviews
    first_text = (
        f"first after {reviews.first_months} month{'s' if reviews.first_months != 1 else ''}, then "
        if reviews.first_months != reviews.every_months_until_stable
        else ""
    )
    before_uid = f"{plan.id}-monitoring-{reviews.every_months_until_stable}m"
    before_title = f"B12 follow-up review ({first_text}every {reviews.every_months_until_stable} months until stable)"
    if until_stable is None:
        # Stable before the first visit: the series a client may hold is withdrawn.
        first = schedule.add_months(plan.start_date, reviews.first_months)
        event = _event(before_uid, before_title, first, sequence=seq, stamp=stamp)
        event.add("status", "CANCELLED")
        events.append(event)
    else:
        event = _event(
            before_uid, before_title, until_stable.first_date, sequence=seq, stamp=stamp, description=description
        )
        events.append(_recurring(event, until_stable, facts.open_day, window=window, booked=booked_reviews))
    if after_stable is not None:
        event = _event(
            f"{plan.id}-monitoring-{reviews.every_months_after_stable}m",
            "B12 follow-up review (yearly)",
            after_stable.first_date,
            sequence=seq,
            stamp=stamp,
            description=description,
        )
        events.append(_recurring(event, after_stable, facts.open_day, window=window, booked=booked_reviews))

    for event in events:
        if cancelled and "status" not in event:
            event.add("status", "CANCELLED")
        cal.add_component(event)
    return cal.to_ical()


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
    return cal.to_ical()
