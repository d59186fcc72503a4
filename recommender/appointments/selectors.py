"""Reads for booking: the sessions on a day, their free slots, what a plan needs booked next and in which window,
and the day list. Each is a fixed number of queries, however many patients, sessions or appointments there are.

The rules of time are the guideline's (``schedule.next_dose``, ``schedule.monitoring_visits``) and the clinic
calendar's (closures and public holidays): nothing here decides a due date; it only books around one."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from recommender import shared_cache
from recommender.guideline import schedule
from recommender.injections.selectors import (
    ClinicCalendar,
    clinic_calendar_shared,
    closures_read_together,
    plan_dose_events,
    plan_facts,
)
from recommender.models import (
    Appointment,
    ClinicClosure,
    DoseRecord,
    Location,
    Patient,
    Session,
    SessionChange,
    TreatmentPlan,
)
from recommender.prebuilt import Prebuilt

DOSE, REVIEW = Appointment.Kind.DOSE, Appointment.Kind.REVIEW
SEATED = [s.value for s in Appointment.SEATED]
# How far past a full window the first free slot is looked for (a proposal outside the window needs a reason).
SEARCH_BEYOND_WINDOW_DAYS = 42
# How many overdue unbooked doses the day list shows (soonest overdue first); the worklist has them all.
OVERDUE_LIMIT = 200


@dataclass(frozen=True, slots=True)
class SessionDay:
    """One session on one date: a recurring session, or an extra one (``change_id``)."""

    location_id: object
    location_name: str
    day: date
    start: time
    end: time
    slot_minutes: int
    capacity: int
    session_id: object = None
    change_id: object = None

    @property
    def key(self) -> str:
        return f"{self.session_id or self.change_id}"

    @property
    def starts_at(self) -> datetime:
        return _at(self.day, self.start)

    @property
    def ends_at(self) -> datetime:
        return _at(self.day, self.end)

    def slots(self) -> list[datetime]:
        step = timedelta(minutes=self.slot_minutes)
        out, at, end = [], self.starts_at, self.ends_at
        while at + step <= end:
            out.append(at)
            at += step
        return out


def _at(day: date, clock: time) -> datetime:
    return timezone.make_aware(datetime.combine(day, clock))


# A slot as a form posts it back: its local start time.
SLOT_FORMAT = "%Y-%m-%dT%H:%M"


def slot_value(at: datetime) -> str:
    return timezone.localtime(at).strftime(SLOT_FORMAT)


def start_of(day: date) -> datetime:
    return _at(day, time.min)


def sessions_between(
    *, first: date, last: date, location=None, calendar: ClinicCalendar | None = None
) -> list[SessionDay]:
    """The sessions held from ``first`` to ``last`` (at one location, when given), in time order: the recurring
    ones on their weekdays, less those cancelled, plus the extra ones; none on a day the clinic is closed (its own
    closures and the public holidays). Three queries."""
    if calendar is None:
        with closures_read_together(_session_rules_entry(first=first, last=last, location=location)):
            calendar = clinic_calendar_shared()
            rules = _session_rules(first=first, last=last, location=location)
    else:
        rules = _session_rules(first=first, last=last, location=location)
    return _held(rules, first=first, last=last, calendar=calendar)


@dataclass(frozen=True, slots=True)
class _Recurring:
    """A recurring session as the rules keep it (plain values: the rules live in the nodes' shared cache)."""

    id: object
    location_id: object
    location_name: str
    start: time
    end: time
    slot_minutes: int
    capacity: int
    valid_from: date | None
    valid_until: date | None


@dataclass(frozen=True, slots=True)
class _SessionRules:
    """The recurring sessions by weekday, and the one-off changes between two dates, as read from the database."""

    by_weekday: dict[int, list[_Recurring]]
    cancelled: frozenset[tuple[object, date]]
    extra: list[SessionDay]


def _session_rules_entry(*, first: date, last: date, location=None) -> tuple[str, str]:
    """The shared cache's entry of ``_session_rules``: (generation, key)."""
    where = getattr(location, "pk", location) or "all"
    return shared_cache.CLINIC_SESSIONS, f"rules:{where}:{first}:{last}"


def _session_rules(*, first: date, last: date, location=None) -> _SessionRules:
    """The session rules from ``first`` to ``last`` (at one location, when given): two queries, or none while the
    nodes' shared cache holds them (any change to a session, a session change, a location or a closure retires
    them at once: recommender/signals.py)."""
    return shared_cache.read_through(
        *_session_rules_entry(first=first, last=last, location=location),
        lambda: _read_session_rules(first=first, last=last, location=location),
    )


def _read_session_rules(*, first: date, last: date, location=None) -> _SessionRules:
    sessions = Session.objects.select_related("location").filter(location__active=True)
    changes = SessionChange.objects.select_related("location", "session__location").filter(date__range=(first, last))
    if location is not None:
        sessions = sessions.filter(location=location)
        changes = changes.filter(Q(location=location) | Q(session__location=location))
    by_weekday: dict[int, list[_Recurring]] = {}
    for s in sessions:
        by_weekday.setdefault(s.weekday, []).append(
            _Recurring(
                s.id,
                s.location_id,
                s.location.name,
                s.start,
                s.end,
                s.slot_minutes,
                s.capacity,
                s.valid_from,
                s.valid_until,
            )
        )
    cancelled, extra = set(), []
    for c in changes:
        if c.kind == SessionChange.Kind.CANCEL:
            cancelled.add((c.session_id, c.date))
        elif c.location.active:
            extra.append(
                SessionDay(
                    c.location_id, c.location.name, c.date, c.start, c.end, c.slot_minutes, c.capacity, None, c.id
                )
            )
    return _SessionRules(by_weekday, frozenset(cancelled), extra)


def _held(rules: _SessionRules, *, first: date, last: date, calendar: ClinicCalendar) -> list[SessionDay]:
    """The sessions the rules hold from ``first`` to ``last`` (within the dates the rules were read for), in time
    order. No query."""
    out = []
    day = first
    while day <= last:
        if not calendar.get(day):
            for s in rules.by_weekday.get(day.weekday(), ()):
                if (s.id, day) in rules.cancelled or (s.valid_from and day < s.valid_from):
                    continue
                if s.valid_until and day > s.valid_until:
                    continue
                out.append(
                    SessionDay(s.location_id, s.location_name, day, s.start, s.end, s.slot_minutes, s.capacity, s.id)
                )
        day += timedelta(days=1)
    out.extend(c for c in rules.extra if first <= c.day <= last and not calendar.get(c.day))
    return sorted(out, key=lambda s: (s.starts_at, s.location_name))


def sessions_on(day: date, *, location=None) -> list[SessionDay]:
    """The sessions held on ``day`` (for a nurse's home page: today's sessions)."""
    return sessions_between(first=day, last=day, location=location)


def session_on(*, day: date, key: str) -> SessionDay | None:
    """The session ``key`` as held on ``day`` (what ``sessions_on(day)`` would list under that key), else None: a
    recurring session on its weekday, within its dates and not cancelled that day, or an extra session of that day;
    none on a day the clinic is closed. No query while the nodes' shared cache holds the day's sessions; else one
    query (two for an extra session)."""
    if shared_cache.is_shared():
        return next((s for s in sessions_on(day) if s.key == key), None)
    try:
        pk = uuid.UUID(key)
    except ValueError:
        return None
    closure = ClinicClosure.objects.filter(date=day).values("reason")[:1]
    cancelled = SessionChange.objects.filter(session=OuterRef("pk"), date=day, kind=SessionChange.Kind.CANCEL)
    recurring = (
        Session.objects.filter(pk=pk, weekday=day.weekday(), location__active=True)
        .filter(
            Q(valid_from__isnull=True) | Q(valid_from__lte=day), Q(valid_until__isnull=True) | Q(valid_until__gte=day)
        )
        .annotate(cancelled=Exists(cancelled), closure=Subquery(closure))
        .select_related("location")
        .first()
    )
    if recurring is not None:
        if recurring.cancelled or _closed(day, recurring.closure):
            return None
        s = recurring
        return SessionDay(s.location_id, s.location.name, day, s.start, s.end, s.slot_minutes, s.capacity, s.id)
    extra = (
        SessionChange.objects.filter(pk=pk, date=day, kind=SessionChange.Kind.EXTRA, location__active=True)
        .annotate(closure=Subquery(closure))
        .select_related("location")
        .first()
    )
    if extra is None or _closed(day, extra.closure):
        return None
    c = extra
    return SessionDay(c.location_id, c.location.name, day, c.start, c.end, c.slot_minutes, c.capacity, None, c.id)


def _closed(day: date, closure_reason: str | None) -> bool:
    """Whether the clinic is closed on ``day``, as the clinic calendar says, given its own closure read for it."""
    own = {day: closure_reason} if closure_reason is not None else {}
    return bool(ClinicCalendar(holidays_code=settings.B12_HOLIDAYS, own=own).get(day))


def seats_taken(*, location_id, first: datetime, last: datetime, at_least: int = 1) -> Counter:
    """How many seats each slot start has taken at a location between two times, for the slots with at least
    ``at_least`` taken (one query)."""
    return _seats_taken_within(location_id=location_id, spans=[(first, last)], at_least=at_least)


def _seats_taken_within(*, location_id, spans: list[tuple[datetime, datetime]], at_least: int) -> Counter:
    """``seats_taken`` over several spans of time at once (one query)."""
    within = Q()
    for first, last in spans:
        within |= Q(starts_at__range=(first, last))
    rows = _SEATS_TAKEN.filter(within, location_id=location_id).filter(n__gte=at_least)
    return Counter(dict(rows))


# Seats taken by slot start (the conditions on the appointments go to WHERE, the count's to HAVING).
_SEATS_TAKEN = Prebuilt(
    lambda: (
        Appointment.objects.filter(status__in=SEATED)
        .values("starts_at")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("starts_at", "n")
    )
)


def seats_taken_on(day: date) -> Counter:
    """Seats taken on ``day`` by (location id, slot start), at every location (one query)."""
    rows = (
        Appointment.objects.filter(starts_at__range=(start_of(day), _at(day, time.max)), status__in=SEATED)
        .values("location_id", "starts_at")
        .annotate(n=Count("id"))
        .order_by()
    )
    return Counter({(row["location_id"], row["starts_at"]): row["n"] for row in rows})


@dataclass(frozen=True, slots=True)
class Slot:
    session: SessionDay
    starts_at: datetime
    taken: int

    @property
    def free(self) -> int:
        return max(0, self.session.capacity - self.taken)


def slots_between(*, location, first: date, last: date, calendar: ClinicCalendar | None = None) -> list[Slot]:
    """Every slot of the location's sessions from ``first`` to ``last`` with its seats taken (four queries)."""
    sessions = sessions_between(first=first, last=last, location=location, calendar=calendar)
    if not sessions:
        return []
    taken = seats_taken(
        location_id=location.pk, first=_at(first, time.min), last=_at(last, time.max.replace(microsecond=0))
    )
    return [Slot(s, at, taken[at]) for s in sessions for at in s.slots()]


def slot_at(*, location, starts_at: datetime) -> Slot | None:
    """The slot of a session at the location starting exactly at ``starts_at``, if there is one (open day)."""
    day = timezone.localtime(starts_at).date()
    return next((s for s in slots_between(location=location, first=day, last=day) if s.starts_at == starts_at), None)


@dataclass(frozen=True, slots=True)
class Due:
    """A dose or review to book: what, when the guideline has it due, and the days it may be booked on."""

    kind: str
    phase: str
    number: int
    due_on: date
    earliest: date
    latest: date
    note: str = ""

    def in_window(self, day: date) -> bool:
        return self.earliest <= day <= self.latest


@dataclass
class PlanBookings:
    """A plan's bookings as the schedule needs them: the live ones, and the doses already recorded."""

    booked: list[Appointment] = field(default_factory=list)
    records: list[schedule.DoseEvent] = field(default_factory=list)


def window_for(*, kind: str, phase: str, due_on: date) -> tuple[date, date]:
    """The days a dose or review may be booked on without a reason. A loading dose keeps its rhythm: from its
    due date (never sooner: the schedule already keeps one clear day and three in any seven days) until the day
    before the rhythm's next dose would be due. Maintenance doses and reviews: the configured days around it."""
    if kind == DOSE and phase == schedule.LOADING:
        return due_on, due_on + timedelta(days=schedule.ALTERNATE_DAY_GAP - 1)
    before = timedelta(days=settings.B12_BOOKING_WINDOW_BEFORE_DAYS)
    after = timedelta(days=settings.B12_BOOKING_WINDOW_AFTER_DAYS)
    return due_on - before, due_on + after


def plan_live_bookings(plan: TreatmentPlan) -> list[Appointment]:
    return list(
        Appointment.objects.filter(plan=plan, status=Appointment.Status.BOOKED)
        .select_related("location")
        .order_by("starts_at")
    )


def _projected(records: list[schedule.DoseEvent], booked: list[Appointment], today: date) -> list:
    """The recorded doses, and the booked doses not yet recorded as if given on their booked day (so the next one
    keeps the rhythm after them). A booking in the past with no record is not counted: that dose is still due."""
    given = {(r.phase, r.number) for r in records if r.given}
    events = list(records)
    for a in booked:
        day = timezone.localtime(a.starts_at).date()
        if a.kind == DOSE and (a.phase, a.number) not in given and day >= today:
            events.append(schedule.DoseEvent(a.phase, a.number, day))
    return events


def _dose_rank(appointment: Appointment) -> tuple[bool, int]:
    """The order of a plan's doses: the loading course, then maintenance (each numbered from 1)."""
    return appointment.phase != schedule.LOADING, appointment.number


def later_dose_too_soon(
    plan: TreatmentPlan, *, moving: Appointment, to_day: date, today: date
) -> tuple[Appointment, date] | None:
    """Moving a booked dose to ``to_day``: the first dose booked after it that would then come sooner than the
    schedule allows (one clear day in loading, never two doses a day, the maintenance interval), with the first day
    it could be; None when every later booking keeps the rhythm."""
    if moving.kind != DOSE:
        return None
    facts = plan_facts(plan)
    others = [a for a in plan_live_bookings(plan) if a.kind == DOSE and a.pk != moving.pk]
    before = [a for a in others if _dose_rank(a) < _dose_rank(moving)]
    events = _projected(plan_dose_events(plan), before, today)
    events.append(schedule.DoseEvent(moving.phase, moving.number, to_day))
    for later in sorted((a for a in others if _dose_rank(a) > _dose_rank(moving)), key=_dose_rank):
        day = timezone.localtime(later.starts_at).date()
        due = schedule.next_dose(facts, events)
        if (due.phase, due.number) == (later.phase, later.number) and day < due.due:
            return later, due.due
        events.append(schedule.DoseEvent(later.phase, later.number, day))
    return None


def next_dose_to_book(
    plan: TreatmentPlan,
    *,
    today: date,
    booked: list[Appointment],
    facts: schedule.PlanFacts,
    records: list[schedule.DoseEvent],
    replacing: Appointment | None = None,
) -> Due | None:
    """The first dose of the plan not booked yet (the one ``replacing`` books, when moving), with its window."""
    if plan.status != TreatmentPlan.Status.ACTIVE:
        return None
    others = [a for a in booked if replacing is None or a.pk != replacing.pk]
    dose = schedule.next_dose(facts, _projected(records, others, today))
    earliest, latest = window_for(kind=DOSE, phase=dose.phase, due_on=dose.due)
    return Due(DOSE, dose.phase, dose.number, dose.due, earliest, latest, dose.note)


def next_review_to_book(
    plan: TreatmentPlan,
    *,
    today: date,
    booked: list[Appointment],
    facts: schedule.PlanFacts,
    seen: set[int],
    replacing: Appointment | None = None,
) -> Due | None:
    """The first monitoring review not booked or held yet whose window has not passed."""
    if plan.status != TreatmentPlan.Status.ACTIVE:
        return None
    taken = seen | {a.number for a in booked if a.kind == REVIEW and (replacing is None or a.pk != replacing.pk)}
    horizon = schedule.add_months(today, 24)
    after = timedelta(days=settings.B12_BOOKING_WINDOW_AFTER_DAYS)
    for number, visit in enumerate(schedule.monitoring_visits(facts, until=horizon), start=1):
        if number in taken or visit.on + after < today:
            continue
        earliest, latest = window_for(kind=REVIEW, phase="", due_on=visit.on)
        return Due(REVIEW, "", number, visit.on, earliest, latest)
    return None


HELD = (Appointment.Status.ATTENDED, Appointment.Status.DNA)


def plan_appointments(plan: TreatmentPlan) -> list[Appointment]:
    """The plan's live bookings and its appointments held (attended or not), soonest first (one query): what
    ``plan_to_book`` reads, and the plan page's list of bookings."""
    return list(
        Appointment.objects.filter(plan=plan, status__in=[Appointment.Status.BOOKED, *HELD])
        .select_related("location")
        .order_by("starts_at")
    )


def plan_to_book(
    plan: TreatmentPlan,
    *,
    today: date,
    replacing: Appointment | None = None,
    calendar=None,
    appointments: list[Appointment] | None = None,
) -> list[Due]:
    """What the plan needs booked next: its next unbooked dose and its next unbooked review (each, if any).
    ``appointments``: the plan's, as ``plan_appointments`` reads them, when already read."""
    if plan.status != TreatmentPlan.Status.ACTIVE:
        return []
    calendar = calendar or clinic_calendar_shared()
    facts = plan_facts(plan, calendar=calendar)
    if appointments is None:
        appointments = plan_appointments(plan)
    booked = [a for a in appointments if a.status == Appointment.Status.BOOKED]
    records = plan_dose_events(plan)
    seen = {a.number for a in appointments if a.kind == REVIEW and a.status in HELD}
    out = [
        next_dose_to_book(plan, today=today, booked=booked, facts=facts, records=records, replacing=replacing),
        next_review_to_book(plan, today=today, booked=booked, facts=facts, seen=seen, replacing=replacing),
    ]
    return [d for d in out if d is not None]


def due_to_book(plan: TreatmentPlan, *, kind: str, phase: str, number: int, today: date, replacing=None) -> Due | None:
    """The dose or review named, if it is the one the plan needs booked next (else the form was stale)."""
    return next(
        (
            d
            for d in plan_to_book(plan, today=today, replacing=replacing)
            if (d.kind, d.phase, d.number) == (kind, phase, number)
        ),
        None,
    )


@dataclass(frozen=True, slots=True)
class Proposal:
    due: Due
    location: Location
    slot: Slot | None
    in_window: bool


def default_location(patient: Patient) -> Location | None:
    if patient.usual_location_id and patient.usual_location.active:
        return patient.usual_location
    return Location.objects.filter(active=True).order_by("name").first()


def _search_span(due: Due, today: date) -> tuple[date, date]:
    """The days a proposal looks at: from the due date (never in the past) to well past the window."""
    first = max(due.due_on, today)
    return first, max(due.latest, first) + timedelta(days=SEARCH_BEYOND_WINDOW_DAYS)


def slot_proposal(*, due: Due, location: Location, today: date, calendar=None) -> Proposal:
    """The first free slot on or after the due date (never in the past) inside the window, else the first free
    one after the window (booking it needs a reason), else none. A fixed number of queries."""
    return slot_proposals(dues=[due], location=location, today=today, calendar=calendar)[0]


# A proposal looks at the first fortnight of its search first (where a clinic that is not full has a free slot), and
# at the rest of the search only for a due that found none there.
FIRST_SEARCH_DAYS = 14


def slot_proposals(*, dues: list[Due], location: Location, today: date, calendar=None) -> list[Proposal]:
    """``slot_proposal`` for each of ``dues`` at one location: three queries however many (four without a
    calendar), the sessions and the full slots of every search read at once; one more when a due has no free slot
    in the first ``FIRST_SEARCH_DAYS`` of its search (the full slots of the rest of the searches)."""
    if not dues:
        return []
    calendar = calendar or clinic_calendar_shared()
    spans = [_search_span(due, today) for due in dues]
    rules = _session_rules(first=min(f for f, _ in spans), last=max(last for _, last in spans), location=location)
    now = timezone.now()

    def search(parts: list[tuple[int, date, date]]) -> dict[int, Proposal]:
        """For each (due, first day, last day): the first free slot in those days."""
        sessions = {i: _held(rules, first=first, last=last, calendar=calendar) for i, first, last in parts}
        capacities = [s.capacity for held_then in sessions.values() for s in held_then]
        taken = Counter()
        if capacities:
            # Only the full slots' counts are read: a proposal needs no more, and a year of bookings is then a
            # handful of rows, not one per slot.
            taken = _seats_taken_within(
                location_id=location.pk,
                spans=[(start_of(first), _at(last, time.max.replace(microsecond=0))) for _, first, last in parts],
                at_least=min(capacities),
            )
        return {i: _first_free(dues[i], location, sessions[i], taken, now) for i, _, _ in parts}

    near = timedelta(days=FIRST_SEARCH_DAYS)
    found = search([(i, first, min(last, first + near - timedelta(days=1))) for i, (first, last) in enumerate(spans)])
    rest = [(i, first + near, last) for i, (first, last) in enumerate(spans) if found[i].slot is None]
    if rest := [(i, first, last) for i, first, last in rest if first <= last]:
        found |= search(rest)
    return [found[i] for i in range(len(dues))]


def _first_free(due: Due, location: Location, sessions: list[SessionDay], taken: Counter, now: datetime) -> Proposal:
    for session in sessions:
        for at in session.slots():
            slot = Slot(session, at, taken[at])
            if slot.free and at > now:
                return Proposal(due, location, slot, due.in_window(session.day))
    return Proposal(due, location, None, False)


def free_slots(*, due: Due, location: Location, today: date, limit: int = 60) -> list[Slot]:
    """Free slots to choose from: inside the window first, then up to ``SEARCH_BEYOND_WINDOW_DAYS`` after it."""
    first = max(due.earliest, today)
    last = max(due.latest, first) + timedelta(days=SEARCH_BEYOND_WINDOW_DAYS)
    now = timezone.now()
    return [s for s in slots_between(location=location, first=first, last=last) if s.free and s.starts_at > now][:limit]


@dataclass(frozen=True, slots=True)
class Booked:
    """One booking of a day list as read: plain values, no model instances (a session holds dozens)."""

    id: object
    plan_id: object
    kind: str
    phase: str
    number: int
    status: str
    starts_at: datetime
    overbook_reason: str
    plan_status: str
    plan_next_phase: str
    plan_next_number: int
    plan_loading_doses: int | None
    family_name: str
    given_name: str
    date_of_birth: date
    hospital_number: str
    recorded: str | None  # the outcome of the dose recorded for it since it was booked (not in error), if any


# The columns of Booked, in its order (its last field, ``recorded``, is worked out from the dose records).
_BOOKED_COLUMNS = (
    "id", "plan_id", "kind", "phase", "number", "status", "starts_at", "overbook_reason",
    "plan__status", "plan__next_phase", "plan__next_number", "plan__loading_doses",
    "plan__patient__family_name", "plan__patient__given_name", "plan__patient__date_of_birth",
    "plan__patient__hospital_number",
)  # fmt: skip


def _day_list_rows() -> QuerySet:
    latest_record = DoseRecord.objects.filter(
        plan_id=OuterRef("plan_id"), phase=OuterRef("phase"), number=OuterRef("number"), entered_in_error=False
    ).order_by("-recorded_at")
    return (
        Appointment.objects.annotate(
            record_outcome=Subquery(latest_record.values("outcome")[:1]),
            record_at=Subquery(latest_record.values("recorded_at")[:1]),
        )
        .order_by("starts_at", "seat")
        .values_list(*_BOOKED_COLUMNS, "booked_at", "record_outcome", "record_at")
    )


_DAY_LIST_ROWS = Prebuilt(_day_list_rows)


def day_list(*, session: SessionDay) -> list[Booked]:
    """The patients booked into a session, in slot order (then seat), with what each is booked for and the dose
    recorded for it since it was booked, if one was. One query."""
    rows = _DAY_LIST_ROWS.filter(
        location_id=session.location_id,
        starts_at__gte=session.starts_at,
        starts_at__lt=session.ends_at,
        status__in=SEATED,
    )
    out = []
    for *columns, booked_at, outcome, recorded_at in rows:
        since_booked = columns[2] == DOSE and recorded_at is not None and recorded_at >= booked_at
        out.append(Booked(*columns, recorded=outcome if since_booked else None))
    return out


def overdue_unbooked(*, on: date, limit: int = OVERDUE_LIMIT) -> QuerySet[TreatmentPlan]:
    """Active plans whose next dose was due before ``on`` and has no booking: none hides behind the day list."""
    booked = Appointment.objects.filter(
        plan=OuterRef("pk"),
        kind=DOSE,
        status=Appointment.Status.BOOKED,
        phase=OuterRef("next_phase"),
        number=OuterRef("next_number"),
        starts_at__gte=_at(on, time.min),
    )
    return (
        TreatmentPlan.objects.filter(status=TreatmentPlan.Status.ACTIVE, next_due_on__lt=on)
        .filter(~Exists(booked))
        .select_related("patient")
        .order_by("next_due_on", "id")[:limit]
    )


def plan_upcoming(*, plan: TreatmentPlan, since: datetime) -> QuerySet[Appointment]:
    """The plan's booked appointments from ``since`` on, soonest first (for the plan page and the card)."""
    return (
        Appointment.objects.filter(plan=plan, status=Appointment.Status.BOOKED, starts_at__gte=since)
        .select_related("location")
        .order_by("starts_at")
    )


def appointment_detail(*, appointment_id) -> Appointment:
    return Appointment.objects.select_related("plan__patient", "location", "booked_by").get(pk=appointment_id)


def appointment_trail(*, appointment: Appointment) -> list[Appointment]:
    """The bookings this one was moved from, oldest first, then itself: who, when, from where, why."""
    trail = [appointment]
    while trail[0].moved_from_id:
        trail.insert(0, Appointment.objects.select_related("location", "booked_by").get(pk=trail[0].moved_from_id))
    return trail
