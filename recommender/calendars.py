"""iCalendar (RFC 5545) exports, built with the icalendar library. No patient name or result in any title."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.utils import timezone
from icalendar import Calendar, Event, vRecur

from .guideline import DEFAULT_RULESET, schedule
from .models import TreatmentPlan
from .selectors import plan_dose_events, plan_facts

PRODID = "-//B12 clinic//Treatment plan calendar//EN"
DOMAIN = "b12-clinic"
MONITORING_TEXT = (
    "Review: symptoms first. Tests: serum B12 and total homocysteine (seed target below {target} µmol/L). "
    "Re-testing B12 on treatment is uninformative per British haematology guidance, and the homocysteine target has "
    "no guideline support. Do not titrate injections on B12 or MMA."
)


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
        title = f"Vitamin B12 injection (loading {number} of {facts.loading_doses})"
        description = "Hydroxocobalamin 1 mg intramuscular."
    else:
        title = f"Vitamin B12 injection (loading {number}, alternate days)"
        description = "Hydroxocobalamin 1 mg intramuscular, alternate days until no further improvement."
    return _event(f"{plan.id}-loading-{number}", title, day, sequence=seq, stamp=stamp, description=description)


def _rrule(series: schedule.Series) -> vRecur:
    parts = schedule.recurrence(series.anchor, series.every, series.unit)
    if series.until is not None:
        parts["UNTIL"] = series.until
    return vRecur(parts)


def plan_calendar(plan: TreatmentPlan, *, today: date | None = None) -> bytes:
    """The plan as a patient or clinic calendar: loading doses and review prompts as events, lifelong
    maintenance and monitoring as recurring events. Its size does not grow with the time the plan has run."""
    today = today or timezone.localdate()
    stamp = plan.created_at.astimezone(UTC) if plan.created_at else datetime.now(UTC)
    seq = plan.calendar_sequence
    cal = _calendar("B12 treatment plan")
    facts = plan_facts(plan)
    records = plan_dose_events(plan)
    cancelled = plan.status != TreatmentPlan.Status.ACTIVE
    events: list[Event] = []

    if plan.loading_pattern == schedule.THREE_TIMES_WEEKLY or (
        plan.loading_pattern == schedule.ALTERNATE_DAYS and plan.loading_ended_on is None
    ):
        fixed = plan.loading_pattern == schedule.THREE_TIMES_WEEKLY
        # Doses recorded keep their day (a dose not given is withdrawn); the rest follow the schedule.
        for record in (r for r in records if r.phase == schedule.LOADING):
            event = _loading_event(plan, record.number, record.on, facts, seq, stamp)
            if not record.given:
                event.add("status", "CANCELLED")
            events.append(event)
        if fixed:
            horizon = today + timedelta(days=400)
        else:
            review = next(
                (d for d in schedule.loading_reviews(facts, until=today + timedelta(days=400)) if d >= today), None
            )
            horizon = (review or today) + timedelta(days=1)
        for dose in schedule.upcoming_doses(facts, records, until=horizon, limit=facts.loading_doses or 8):
            if dose.phase == schedule.LOADING:
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
            "Vitamin B12 injection (maintenance)",
            series.first,
            sequence=seq,
            stamp=stamp,
            description=f"Hydroxocobalamin 1 mg intramuscular, {plan.interval_text}, lifelong.",
        )
        event.add("rrule", _rrule(series))
        events.append(event)

    mon = DEFAULT_RULESET.monitoring
    description = MONITORING_TEXT.format(target=mon.homocysteine_target_umol_l)
    monitoring = {s.every: s for s in schedule.monitoring_series(plan.start_date, plan.stable_on)}
    for every, title in (
        (mon.every_months_until_stable, "B12 follow-up review (every 3 months until stable)"),
        (mon.every_months_after_stable, "B12 follow-up review (yearly)"),
    ):
        series = monitoring.get(every)
        if series is None:
            if every != mon.every_months_until_stable:
                continue
            # Stable before the first 3-monthly visit: the series a client may hold is withdrawn.
            first = schedule.add_months(plan.start_date, every)
            event = _event(f"{plan.id}-monitoring-{every}m", title, first, sequence=seq, stamp=stamp)
            event.add("status", "CANCELLED")
        else:
            event = _event(
                f"{plan.id}-monitoring-{every}m",
                title,
                series.first,
                sequence=seq,
                stamp=stamp,
                description=description,
            )
            event.add("rrule", _rrule(series))
        events.append(event)

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
        phase = "loading" if plan.next_phase == schedule.LOADING else "maintenance"
        cal.add_component(
            _event(
                f"{plan.id}-{plan.next_phase}-{plan.next_number}",
                f"B12 injection due ({phase} dose {plan.next_number})",
                plan.next_due_on,
                sequence=plan.calendar_sequence,
                stamp=stamp,
                description=f"Hydroxocobalamin 1 mg IM. Open in the B12 clinic: {site.rstrip('/')}/plans/{plan.id}/",
            )
        )
    return cal.to_ical()
