"""Reads: querysets and read-only mappings. Views call these; they never write."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache

import holidays
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Case, Q, QuerySet, When
from django.utils import timezone

from .guideline import DEFAULT_RULESET, Thresholds, schedule
from .identifiers import NHS_NUMBER_LENGTH, nhs_number_normalise
from .models import AccessToken, Assessment, ClinicClosure, DoseRecord, LabProfile, Patient, TreatmentPlan
from .serializers import record_fields


def access_token_user(*, raw: str, purpose: str):
    """The active user a token stands for, or None."""
    if not raw:
        return None
    token = (
        AccessToken.objects.select_related("user")
        .filter(digest=AccessToken.digest_of(raw), purpose=purpose, revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    return token.user


def thresholds_for(profile: LabProfile | None) -> Thresholds:
    """The engine's thresholds for a lab profile (the seed ruleset's own when there is none)."""
    base = DEFAULT_RULESET.thresholds
    if profile is None:
        return base
    return base.with_values(
        profile=profile.name,
        total_deficient_below=profile.total_b12_deficient_below,
        total_not_deficient_above=profile.total_b12_not_deficient_above,
        active_deficient_below=profile.active_b12_deficient_below,
        active_not_deficient_above=profile.active_b12_not_deficient_above,
        mma_upper_limit_umol_l=profile.mma_upper_limit_umol_l,
    )


SEARCH_QUERY_MAX = 250


def _typed_date(word: str) -> date | None:
    """A date as people type it in a search box: dd/mm/yyyy (also with - or .) or yyyy-mm-dd; None otherwise."""
    for pattern in ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(word, pattern).date()
        except ValueError:
            continue
    return None


def patient_search(*, query: str, limit: int = 50) -> QuerySet[Patient]:
    """Patients whose hospital number starts with the query, whose NHS number is the query (spaces ignored), or
    whose name contains every word of it; a word that is a date (dd/mm/yyyy or yyyy-mm-dd) is the date of birth."""
    query = query.strip()
    # PostgreSQL text cannot hold NUL, and no name or number is longer than a name and a number together: such
    # a query matches no one (and a 200,000-character one would be too complex a pattern for the database).
    if not query or "\x00" in query or len(query) > SEARCH_QUERY_MAX:
        return Patient.objects.none()
    match = Q(hospital_number__istartswith=query)
    digits = nhs_number_normalise(query)
    if len(digits) == NHS_NUMBER_LENGTH and digits.isascii() and digits.isdigit():
        match |= Q(nhs_number=digits)
    words = Q()
    for word in query.split():
        born = _typed_date(word)
        words &= Q(date_of_birth=born) if born else Q(family_name__icontains=word) | Q(given_name__icontains=word)
    return Patient.objects.filter(match | words)[:limit]


def patient_corrections(*, patient: Patient) -> list:
    """The corrections of a patient's details, newest first: who, when and why (the history keeps the values)."""
    return list(patient.history.filter(history_type="~").select_related("history_user").order_by("-history_date"))


def patients_recent_for(*, user, limit: int = 10) -> list[Patient]:
    """The patients this user assessed or registered most recently, latest first.

    Bounded whatever the length of the user's history: the user's latest assessments and latest registrations
    are read from two (author, created) indexes, a few rows each, then the patients by primary key."""
    last_seen: dict = {}
    assessed = (
        Assessment.objects.filter(created_by=user)
        .order_by("-created_at")
        .values_list("patient_id", "created_at")[: limit * RECENT_ASSESSMENTS_PER_PATIENT]
    )
    registered = Patient.objects.filter(created_by=user).order_by("-created_at").values_list("id", "created_at")
    for patient_id, at in [*assessed, *registered[:limit]]:
        if patient_id not in last_seen or at > last_seen[patient_id]:
            last_seen[patient_id] = at
    latest = sorted(last_seen, key=last_seen.__getitem__, reverse=True)[:limit]
    patients = Patient.objects.in_bulk(latest)
    return [patients[pk] for pk in latest]


# How many of the user's latest assessments the home page reads per patient it lists (repeat assessments of one
# patient share the window).
RECENT_ASSESSMENTS_PER_PATIENT = 5


def patient_assessments(*, patient: Patient) -> QuerySet[Assessment]:
    return patient.assessments.select_related("created_by", "plan").order_by("-sample_date", "-created_at")


def patient_plans(*, patient: Patient) -> QuerySet[TreatmentPlan]:
    return patient.plans.select_related("created_by", "assessment").order_by("-created_at")


def patient_active_plan(*, patient: Patient) -> TreatmentPlan | None:
    """The patient's active plan, if any (at most one: a database constraint)."""
    return patient.plans.filter(status=TreatmentPlan.Status.ACTIVE).first()


def plan_detail(*, plan_id) -> TreatmentPlan:
    return TreatmentPlan.objects.select_related("patient", "assessment", "created_by", "assessment__created_by").get(
        pk=plan_id
    )


def assessment_detail(*, assessment_id) -> Assessment:
    return Assessment.objects.select_related("patient", "created_by", "lab_profile").get(pk=assessment_id)


def assessment_plan(*, assessment: Assessment) -> TreatmentPlan | None:
    """The plan started from this assessment, if one was."""
    return TreatmentPlan.objects.filter(assessment=assessment).first()


def plan_pending_mma_before(*, assessment: Assessment) -> TreatmentPlan | None:
    """For an assessment bringing an MMA result: the patient's latest earlier plan started pending MMA."""
    if "mma" not in (assessment.inputs or {}):
        return None
    return (
        TreatmentPlan.objects.filter(
            patient=assessment.patient_id, pending_mma=True, created_at__lt=assessment.created_at
        )
        .order_by("-created_at")
        .first()
    )


def assessments_after_pending_plan(*, plan: TreatmentPlan) -> QuerySet[Assessment] | list:
    """For a plan started pending MMA, the patient's later assessments, oldest first (where its MMA result comes)."""
    if not plan.pending_mma:
        return []
    return plan.patient.assessments.filter(created_at__gt=plan.assessment.created_at).order_by("created_at")


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


def _in_dose_order(doses: QuerySet[DoseRecord]) -> QuerySet[DoseRecord]:
    """Loading before maintenance, by number; a dose recorded more than once (not given, then given; a
    correction) in the order recorded."""
    maintenance_last = Case(When(phase=DoseRecord.Phase.MAINTENANCE, then=1), default=0)
    return doses.alias(phase_rank=maintenance_last).order_by("phase_rank", "number", "recorded_at")


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
    """One query for the clinic's own closures; public holidays come from the per-year cache."""
    own = dict(ClinicClosure.objects.values_list("date", "reason"))
    return ClinicCalendar(holidays_code=settings.B12_HOLIDAYS, own=own)


def closures_version() -> int:
    """Rises with every change to the clinic's closures (their history only grows): calendars add it to SEQUENCE."""
    return ClinicClosure.history.count()


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


def plan_dose_events(plan: TreatmentPlan) -> list[schedule.DoseEvent]:
    """The plan's doses as the schedule sees them (records entered in error do not count)."""
    rows = plan.doses.filter(entered_in_error=False).values_list(
        "phase", "number", "outcome", "given_at", "recorded_at"
    )
    return [
        schedule.DoseEvent(
            phase, number, timezone.localdate(given_at or recorded_at), given=outcome == DoseRecord.Outcome.GIVEN
        )
        for phase, number, outcome, given_at, recorded_at in rows
    ]


# How far ahead the plan page, the month view and the .ics agree date for date.
SCHEDULE_WINDOW_MONTHS = 24
MONTH_VIEW_DOSE_LIMIT = 1500


def plan_schedule(*, plan: TreatmentPlan, today: date, horizon_days: int = 120) -> dict:
    """What the plan page shows about time: the doses and visits to come and why a date moved."""
    active = plan.status == TreatmentPlan.Status.ACTIVE
    if not active:
        return {"upcoming_doses": [], "visits": [], "reviews": [], "loading_running": False}
    facts = plan_facts(plan)
    records = plan_dose_events(plan)
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
    }


def plan_month_events(*, plan: TreatmentPlan, month: date) -> dict:
    """The plan's events in the month of ``month``, by day: doses recorded (given or not), doses due, follow-up
    visits and loading reviews; and the clinic's closed days with their reasons. Data only: the month view's grid
    and words are the presenter's."""
    first = month.replace(day=1)
    last = schedule.add_months(first, 1) - timedelta(days=1)
    events: dict[date, list[dict]] = {}
    for record in plan.doses.filter(entered_in_error=False, due_date__lte=last + timedelta(days=62)):
        day = timezone.localdate(record.given_at or record.recorded_at)
        if first <= day <= last:
            kind = "given" if record.outcome == DoseRecord.Outcome.GIVEN else "missed"
            events.setdefault(day, []).append(
                {"kind": kind, "phase": record.phase, "number": record.number, "outcome": record.outcome}
            )
    calendar = clinic_calendar()
    if plan.status == TreatmentPlan.Status.ACTIVE:
        facts, records = plan_facts(plan, calendar=calendar), plan_dose_events(plan)
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


def _days(first: date, last: date):
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _history(rows) -> list[dict]:
    return [
        {
            "at": h.history_date.isoformat(),
            "type": {"+": "created", "~": "changed", "-": "deleted"}[h.history_type],
            "by": h.history_user.username if h.history_user_id else None,
            "reason": h.history_change_reason or "",
            "snapshot": {f.attname: getattr(h, f.attname) for f in h.instance_type._meta.concrete_fields},
        }
        for h in rows.select_related("history_user").order_by("history_date")
    ]


def patient_record_export(*, patient: Patient) -> dict:
    """The patient's whole record: patient, assessments, plans with doses and follow-up visits, and the history of
    every one of them, as JSON-ready data. Each record lists every field of its model (``record_fields``)."""
    today = timezone.localdate()
    assessments = list(patient.assessments.select_related("created_by").order_by("sample_date", "created_at"))
    plans = list(
        patient.plans.select_related("created_by").prefetch_related("doses__recorded_by").order_by("created_at")
    )
    return {
        "exported_at": timezone.now().isoformat(),
        "patient": {**record_fields(patient), "history": _history(patient.history.all())},
        "assessments": [{**record_fields(a), "history": _history(a.history.all())} for a in assessments],
        "plans": [
            {
                **record_fields(p),
                "doses": [
                    {**record_fields(d), "history": _history(d.history.all())}
                    for d in sorted(p.doses.all(), key=lambda d: d.recorded_at)
                ],
                "visits": [
                    {"on": v.on.isoformat(), "kind": v.kind}
                    for v in schedule.monitoring_visits(plan_facts(p), until=today + timedelta(days=730))
                ]
                if p.status == TreatmentPlan.Status.ACTIVE
                else [],
                "history": _history(p.history.all()),
            }
            for p in plans
        ],
        "dose_count": sum(len(p.doses.all()) for p in plans),
    }


def lab_profile_by_ref(ref: str) -> LabProfile | None:
    """A lab profile by its name or id."""
    if "\x00" in ref:  # no name holds NUL, and PostgreSQL refuses to compare with one
        return None
    try:
        return LabProfile.objects.filter(Q(name=ref) | Q(pk=ref)).first()
    except (ValueError, ValidationError):
        return LabProfile.objects.filter(name=ref).first()


def lab_profile_default() -> LabProfile | None:
    return LabProfile.objects.filter(is_default=True).first()
