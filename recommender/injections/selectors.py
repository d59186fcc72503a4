"""Reads for injections: doses, the worklist, the clinic's calendar and each plan's schedule."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import NamedTuple
from uuid import UUID

import holidays
from django.conf import settings
from django.db.models import QuerySet
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from recommender import shared_cache
from recommender.guideline import DEFAULT_RULESET, schedule
from recommender.models import (
    Assessment,
    ClinicClosure,
    DoseRecord,
    TreatmentPlan,
)
from recommender.prebuilt import Prebuilt


def worklist(*, on: date, days_ahead: int = 7) -> QuerySet[TreatmentPlan]:
    """Active plans with a dose due by ``on`` + ``days_ahead`` (overdue ones included), soonest first.
    One indexed query on the plan's next due date, however many doses have been recorded."""
    return (
        TreatmentPlan.objects.filter(
            status=TreatmentPlan.Status.ACTIVE, next_due_on__lte=on + timedelta(days=days_ahead)
        )
        .select_related("patient")
        .only(
            "id",
            "next_due_on",
            "next_phase",
            "next_number",
            "next_due_note",
            "loading_pattern",
            "loading_doses",
            "calendar_sequence",
            "patient__id",
            "patient__hospital_number",
            "patient__family_name",
            "patient__given_name",
            "patient__date_of_birth",
            "patient__nhs_number",
        )
        .order_by("next_due_on", "id")
    )


class WorklistLine(NamedTuple):
    """A line of the worklist page as read: the plan's next dose and its patient's identification, plain values (a
    page holds fifty; as model instances, plans and patients cost it 0.65 ms more)."""

    pk: UUID
    next_due_on: date
    next_phase: str
    next_number: int
    next_due_note: str
    loading_doses: int | None
    calendar_sequence: int
    hospital_number: str
    family_name: str
    given_name: str
    date_of_birth: date
    nhs_number: str


_WORKLIST_LINES = Prebuilt(
    lambda: (
        TreatmentPlan.objects.filter(status=TreatmentPlan.Status.ACTIVE)
        .order_by("next_due_on", "id")
        .values_list(
            "id",
            "next_due_on",
            "next_phase",
            "next_number",
            "next_due_note",
            "loading_doses",
            "calendar_sequence",
            "patient__hospital_number",
            "patient__family_name",
            "patient__given_name",
            "patient__date_of_birth",
            "patient__nhs_number",
        )
    )
)


def worklist_lines(*, on: date, days_ahead: int = 7) -> QuerySet:
    """``worklist`` for the worklist page, each plan as a tuple of ``WorklistLine``'s values, in the same order
    (counted without its patients by ``worklist_count``)."""
    return _WORKLIST_LINES.filter(next_due_on__lte=on + timedelta(days=days_ahead))


def worklist_count(*, on: date, days_ahead: int = 7) -> QuerySet[TreatmentPlan]:
    """The plans ``worklist_lines`` lists, for counting them: ``worklist``, whose COUNT leaves its patients out
    (Django drops select_related there; the lines' columns would keep the join)."""
    return worklist(on=on, days_ahead=days_ahead)


def plans_with_patient() -> QuerySet[TreatmentPlan]:
    """Plans with their patient (and assessment) at hand, for a page that names both."""
    return TreatmentPlan.objects.select_related("patient", "assessment")


def plans_with_patient_only() -> QuerySet[TreatmentPlan]:
    """Plans with their patient, for a page that names the patient but not the decision (whose JSON is large)."""
    return TreatmentPlan.objects.select_related("patient")


def doses_with_plan() -> QuerySet[DoseRecord]:
    """Dose records with their plan, patient and recorder at hand."""
    return DoseRecord.objects.select_related("plan__patient", "recorded_by")


def _in_dose_order(doses: QuerySet[DoseRecord]) -> QuerySet[DoseRecord]:
    """Loading before maintenance, by number; a dose recorded more than once (not given, then given; a
    correction) in the order recorded. The phases' values sort in the course's order ("loading" < "maintenance",
    tests/test_page_speed.py), so the order is the ``dose_course_order`` index's: the first rows are read, not
    the whole history sorted."""
    return doses.order_by("phase", "number", "recorded_at")


def plan_doses(*, plan: TreatmentPlan) -> QuerySet[DoseRecord]:
    """The plan's records, latest dose first; a correction just above the record it replaced."""
    return _in_dose_order(plan.doses.select_related("recorded_by")).reverse()


# The plan page shows the latest records; the rest are on the plan's "all doses" page.
PLAN_PAGE_DOSES = 10


def plan_recent_doses(*, plan: TreatmentPlan, limit: int = PLAN_PAGE_DOSES) -> tuple[list[DoseRecord], bool]:
    """The plan's latest ``limit`` records in the plan page's order (one bounded query), and whether there are
    older ones."""
    rows = list(plan_doses(plan=plan)[: limit + 1])
    return rows[:limit], len(rows) > limit


def latest_live_of(records: list[DoseRecord]) -> DoseRecord | None:
    """Among records in ``plan_doses`` order (latest first), the latest not entered in error: the one a nurse may
    still mark entered in error (``dose_latest_record`` when it is among them)."""
    return next((record for record in records if not record.entered_in_error), None)


def dose_latest_record(*, plan: TreatmentPlan, phase: str | None = None, number: int | None = None):
    """The plan's latest live record in the order of the course (of one dose, when phase and number are given)."""
    doses = plan.doses.filter(entered_in_error=False).select_related("recorded_by")
    if phase is not None:
        doses = doses.filter(phase=phase, number=number)
    return _in_dose_order(doses).last()


def plan_did_not_attend(*, plan: TreatmentPlan) -> list[date]:
    """The due dates of the plan's doses the patient did not attend (records entered in error aside), oldest first."""
    return list(_did_not_attend().filter(plan=plan).values_list("due_date", flat=True))


def patient_did_not_attend(*, patient) -> list[date]:
    """The due dates of every dose the patient did not attend, on any of their plans, oldest first."""
    return list(_DID_NOT_ATTEND_DUE.filter(plan__patient_id=patient.pk))


_DID_NOT_ATTEND_DUE = Prebuilt(lambda: _did_not_attend().values_list("due_date", flat=True))


def _did_not_attend() -> QuerySet[DoseRecord]:
    return DoseRecord.objects.filter(outcome=DoseRecord.Outcome.MISSED, entered_in_error=False).order_by(
        "due_date", "recorded_at"
    )


def plan_first_dose_due(*, plan: TreatmentPlan) -> bool:
    """No dose of the plan has been given yet (records entered in error do not count)."""
    return not plan.doses.filter(outcome=DoseRecord.Outcome.GIVEN, entered_in_error=False).exists()


def _record_day(record: DoseRecord) -> date:
    return timezone.localdate(record.given_at or record.recorded_at)


def dose_neighbours(*, record: DoseRecord) -> tuple[date | None, date | None]:
    """The dates of the live records just before and just after ``record`` in the course."""
    live = list(_in_dose_order(record.plan.doses.filter(entered_in_error=False)))
    at = next(i for i, r in enumerate(live) if r.pk == record.pk)
    before = _record_day(live[at - 1]) if at > 0 else None
    after = _record_day(live[at + 1]) if at + 1 < len(live) else None
    return before, after


def clinic_days() -> frozenset[int]:
    return frozenset(settings.B12_CLINIC_DAYS)


def holiday_code_parts(code: str) -> tuple[str, str | None]:
    """("GB", "ENG") from "GB-ENG"; ("FR", None) from "FR"."""
    country, _, subdiv = code.strip().upper().partition("-")
    return country, subdiv or None


@lru_cache(maxsize=256)
def public_holidays(code: str, year: int) -> dict[date, str]:
    """The public holidays of the clinic's nation in one year (cached: the set is built once per year and code)."""
    if not code:
        return {}
    country, subdiv = holiday_code_parts(code)
    try:
        return dict(holidays.country_holidays(country, subdiv=subdiv, years=year))
    except (ValueError, OverflowError):
        return {}  # a year the package cannot compute (far past or future): no public holidays known


class ClinicCalendar:
    """The clinic's closed dates as the schedule reads them (``get(day)`` → reason or None): the public holidays
    of the configured nation, and the clinic's own closures (admins manage those)."""

    def __init__(self, *, holidays_code: str, own: dict[date, str]) -> None:
        self.holidays_code = holidays_code
        self.own = own

    def get(self, day: date, default=None):
        return self.own.get(day) or public_holidays(self.holidays_code, day.year).get(day, default)


def clinic_calendar() -> ClinicCalendar:
    """One query for the clinic's own closures; public holidays come from the per-year cache. What a service reads
    in its transaction before it decides a date; pages read ``clinic_calendar_shared``."""
    own = dict(ClinicClosure.objects.values_list("date", "reason"))
    return ClinicCalendar(holidays_code=settings.B12_HOLIDAYS, own=own)


# The closures' two entries in the shared cache, retired together by any closure saved or removed.
_CLOSURES_ENTRY = (shared_cache.CLINIC_SESSIONS, "closures")
_CLOSURES_VERSION_ENTRY = (shared_cache.CLINIC_SESSIONS, "closures-version")


def clinic_calendar_shared() -> ClinicCalendar:
    """The clinic calendar (its closures and the public holidays), its closures read once for every node while
    none changes (from the shared cache when there is one; else one query, as ``clinic_calendar``): for pages.
    A closure saved or removed retires the entry on every node (recommender/signals.py)."""
    own = shared_cache.read_through(*_CLOSURES_ENTRY, lambda: dict(ClinicClosure.objects.values_list("date", "reason")))
    return ClinicCalendar(holidays_code=settings.B12_HOLIDAYS, own=own)


def closures_version() -> int:
    """Rises with every change to the clinic's closures (their history only grows): calendars add it to SEQUENCE.
    Kept in the shared cache with the closures, and retired with them."""
    return shared_cache.read_through(*_CLOSURES_VERSION_ENTRY, lambda: ClinicClosure.history.count())


def closures_read_together(*also: tuple[str, str]):
    """A block in which ``clinic_calendar_shared`` and ``closures_version`` (and the entries ``also`` names) cost one
    read of the shared cache."""
    return shared_cache.prefetched(_CLOSURES_ENTRY, _CLOSURES_VERSION_ENTRY, *also)


def plan_reviews(plan: TreatmentPlan) -> schedule.Reviews:
    """The plan's review intervals: its own first review (from its decision: 1 month in pregnancy) and the ruleset's
    3-monthly until stable, yearly after."""
    mon = DEFAULT_RULESET.monitoring
    return schedule.Reviews(
        first_months=plan.first_review_months or mon.every_months_until_stable,
        every_months_until_stable=mon.every_months_until_stable,
        every_months_after_stable=mon.every_months_after_stable,
        loading_review_days=DEFAULT_RULESET.neuro_loading_review_days,
    )


def plan_facts(plan: TreatmentPlan, *, calendar: ClinicCalendar | None = None) -> schedule.PlanFacts:
    return schedule.PlanFacts(
        start=plan.start_date,
        loading_pattern=plan.loading_pattern,
        interval=schedule.Interval(plan.maintenance_every, plan.maintenance_unit),
        loading_ended_on=plan.loading_ended_on,
        clinic_days=clinic_days(),
        loading_doses=plan.loading_doses or 0,
        closures=calendar if calendar is not None else clinic_calendar(),
        doses_on_closed_days=plan.doses_on_closed_days,
        reviews=plan_reviews(plan),
        stable_on=plan.stable_on,
    )


def plan_next_visit(plan: TreatmentPlan, *, calendar: ClinicCalendar | None = None) -> date | None:
    """The plan's first monitoring visit not yet done, from its facts and the patient's latest results (one query)."""
    if plan.status != TreatmentPlan.Status.ACTIVE:
        return None
    results_on = (
        Assessment.objects.filter(patient_id=plan.patient_id)
        .order_by("-sample_date")
        .values_list("sample_date", flat=True)
        .first()
    )
    visit = schedule.next_monitoring_visit(plan_facts(plan, calendar=calendar), results_on=results_on)
    return visit.on if visit else None


def plan_dose_events(plan: TreatmentPlan) -> list[schedule.DoseEvent]:
    """The plan's doses as the schedule sees them (records entered in error do not count), each on its day in the
    clinic's time zone (the database works the day out: a long history costs no time zone arithmetic here)."""
    return _dose_events(_dose_days(plan))


# (phase, number, outcome, day, due date) of a record not entered in error.
type DoseDay = tuple[str, int, str, date, date]


def _record_day_sql() -> TruncDate:
    """``_record_day`` in SQL: the clinic's date of the time given (else of the time recorded)."""
    return TruncDate(Coalesce("given_at", "recorded_at"), tzinfo=timezone.get_current_timezone())


_DOSE_DAYS = Prebuilt(
    lambda: DoseRecord.objects.filter(entered_in_error=False).values_list(
        "phase", "number", "outcome", _record_day_sql(), "due_date"
    ),
    key=timezone.get_current_timezone_name,  # the day is the clinic's: its SQL names the time zone
)


def _dose_days(plan: TreatmentPlan) -> list[DoseDay]:
    return list(_DOSE_DAYS.filter(plan_id=plan.pk))


def _dose_events(rows: list[DoseDay]) -> list[schedule.DoseEvent]:
    given = DoseRecord.Outcome.GIVEN
    return [schedule.DoseEvent(phase, number, day, given=outcome == given) for phase, number, outcome, day, _ in rows]


def _not_attended(rows: list[DoseDay]) -> list[date]:
    """The due dates of the doses recorded as missed, oldest first (``plan_did_not_attend`` from rows read)."""
    return sorted(due for _, _, outcome, _, due in rows if outcome == DoseRecord.Outcome.MISSED)


# How far ahead the plan page, the month view and the .ics agree date for date.
SCHEDULE_WINDOW_MONTHS = 24


MONTH_VIEW_DOSE_LIMIT = 1500


def plan_schedule(*, plan: TreatmentPlan, today: date, horizon_days: int = 120) -> dict:
    """What the plan page shows about time: the doses and visits to come and why a date moved, and the doses the
    patient did not attend (for an active plan, from the same read of its records)."""
    active = plan.status == TreatmentPlan.Status.ACTIVE
    if not active:
        return {
            "upcoming_doses": [],
            "visits": [],
            "reviews": [],
            "loading_running": False,
            "dnas": plan_did_not_attend(plan=plan),
        }
    facts = plan_facts(plan, calendar=clinic_calendar_shared())
    rows = _dose_days(plan)
    records = _dose_events(rows)
    until = today + timedelta(days=horizon_days)
    return {
        "upcoming_doses": schedule.upcoming_doses(facts, records, until=until, limit=12),
        "visits": [
            v
            for v in schedule.monitoring_visits(facts, until=schedule.add_months(today, SCHEDULE_WINDOW_MONTHS))
            if v.on >= today
        ],
        "reviews": [d for d in schedule.loading_reviews(facts, until=until) if d >= today],
        "loading_running": plan.loading_pattern == schedule.ALTERNATE_DAYS and not plan.loading_ended_on,
        "dnas": _not_attended(rows),
    }


def plan_month_events(*, plan: TreatmentPlan, month: date) -> dict:
    """The plan's events in the month of ``month``, by day: doses recorded (given or not), doses due, follow-up
    visits and loading reviews; and the clinic's closed days with their reasons. Data only: the month view's grid
    and words are the presenter's."""
    first = month.replace(day=1)
    last = schedule.add_months(first, 1) - timedelta(days=1)
    events: dict[date, list[dict]] = {}
    active = plan.status == TreatmentPlan.Status.ACTIVE
    # An active plan's schedule reads every record: the month's are among them (one query). An ended plan's
    # month reads only that month's records (a day's edges in any time zone inside the bounds).
    rows = _dose_days(plan) if active else _month_dose_days(plan, first, last)
    for phase, number, outcome, day, _ in rows:
        if first <= day <= last:
            kind = "given" if outcome == DoseRecord.Outcome.GIVEN else "missed"
            events.setdefault(day, []).append({"kind": kind, "phase": phase, "number": number, "outcome": outcome})
    calendar = clinic_calendar_shared()
    if active:
        facts, records = plan_facts(plan, calendar=calendar), _dose_events(rows)
        # Enough for a daily regimen across the plan page's window (and a bound for a month centuries ahead).
        for dose in schedule.upcoming_doses(facts, records, until=last, limit=MONTH_VIEW_DOSE_LIMIT):
            if dose.due >= first:
                events.setdefault(dose.due, []).append({"kind": "due", "phase": dose.phase, "number": dose.number})
        for visit in schedule.monitoring_visits(facts, until=last + timedelta(days=31)):
            if first <= visit.on <= last:
                events.setdefault(visit.on, []).append({"kind": "visit"})
        for review in schedule.loading_reviews(facts, until=last):
            if first <= review <= last:
                events.setdefault(review, []).append({"kind": "review"})
    closed = {day: reason for day in _days(first, last) if (reason := calendar.get(day))}
    return {"month": first, "events": events, "closed": closed}


_MONTH_DOSE_DAYS = Prebuilt(
    lambda: (
        DoseRecord.objects.annotate(at=Coalesce("given_at", "recorded_at"))
        .filter(entered_in_error=False)
        .values_list("phase", "number", "outcome", _record_day_sql(), "due_date")
    ),
    key=timezone.get_current_timezone_name,
)


def _month_dose_days(plan: TreatmentPlan, first: date, last: date) -> list[DoseDay]:
    starts = datetime.combine(first - timedelta(days=1), time(), tzinfo=UTC)
    ends = datetime.combine(last + timedelta(days=2), time(), tzinfo=UTC)
    return list(_MONTH_DOSE_DAYS.filter(plan_id=plan.pk, at__gte=starts, at__lt=ends))


def _days(first: date, last: date):
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)
