"""The lists on each role's home page. Each is a fixed number of queries however many patients the clinic holds:
the schedule's dates (reviews, monitoring visits) are computed in Python from one query of the plans."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from recommender import shared_cache
from recommender.clinic import selectors as clinic_selectors
from recommender.guideline import schedule
from recommender.injections import selectors as injections_selectors
from recommender.models import AccessRecord, Assessment, ClinicClosure, DoseRecord, LabProfile, TreatmentPlan
from recommender.prebuilt import Prebuilt

# How far ahead a review or a monitoring visit counts as due on the clinician's home page.
DUE_SOON_DAYS = 14
# How far ahead the admin sees the clinic's closures.
CLOSURES_AHEAD_DAYS = 120
# How many rows each home list shows; the list's own page (worklist, recall) shows the rest.
HOME_LIST_LIMIT = 50


@dataclass(frozen=True, slots=True)
class DuePlan:
    """A plan with the date something about it is due (a review, a monitoring visit)."""

    plan: TreatmentPlan
    due_on: date
    overdue: bool


# What a home list shows of a plan's patient (the rows read nothing else: a plan row carries its JSON too).
_LISTED_FIELDS = ("id", "patient__id", "patient__family_name", "patient__given_name", "patient__hospital_number")


def _live_plans() -> QuerySet[TreatmentPlan]:
    return TreatmentPlan.objects.filter(status=TreatmentPlan.Status.ACTIVE).select_related("patient")


def _latest_sample() -> Subquery:
    """The sample date of the patient's latest assessment: a review or visit is done once results after it come."""
    return Subquery(
        Assessment.objects.filter(patient=OuterRef("patient")).order_by("-sample_date").values("sample_date")[:1]
    )


def mma_awaited() -> QuerySet[Assessment]:
    """Patients whose latest result is indeterminate and asks for an MMA, with no plan running: their latest
    assessment, oldest sample first (the longest wait at the top)."""
    return _MMA_AWAITED.filter()


def _mma_awaited() -> QuerySet[Assessment]:
    later = Assessment.objects.filter(patient=OuterRef("patient"), created_at__gt=OuterRef("created_at"))
    active_plan = TreatmentPlan.objects.filter(patient=OuterRef("patient"), status=TreatmentPlan.Status.ACTIVE)
    return (
        Assessment.objects.filter(decision__next_test="mma")
        .filter(~Exists(later), ~Exists(active_plan))
        .select_related("patient")
        .order_by("sample_date", "created_at")
    )


_MMA_AWAITED = Prebuilt(_mma_awaited)


def treatment_pending_mma() -> QuerySet[TreatmentPlan]:
    """Active plans started before the MMA result, whose MMA result has not come yet."""
    return _PENDING_MMA.filter()


def _treatment_pending_mma() -> QuerySet[TreatmentPlan]:
    mma_since = Assessment.objects.filter(
        patient=OuterRef("patient"), created_at__gt=OuterRef("assessment__created_at"), inputs__has_key="mma"
    )
    return (
        _live_plans()
        .filter(pending_mma=True)
        .filter(~Exists(mma_since))
        .select_related("assessment")
        .order_by("start_date", "id")
    )


_PENDING_MMA = Prebuilt(_treatment_pending_mma)


def neuro_loading_reviews_due(*, today: date, within_days: int = DUE_SOON_DAYS) -> list[DuePlan]:
    """Plans on alternate-day loading with a clinician review due (or past) by ``today`` + ``within_days`` and
    no assessment since it: two queries (the plans, the clinic's closures)."""
    plans = list(_NEURO_LOADING.filter())
    calendar = injections_selectors.clinic_calendar_shared()
    due = []
    for plan in plans:
        facts = injections_selectors.plan_facts(plan, calendar=calendar)
        pending = [
            day
            for day in schedule.loading_reviews(facts, until=today + timedelta(days=within_days))
            if plan.last_sample is None or day > plan.last_sample
        ]
        if pending:
            due.append(DuePlan(plan, pending[0], pending[0] < today))
    return sorted(due, key=lambda d: d.due_on)


_NEURO_LOADING = Prebuilt(
    lambda: (
        _live_plans()
        .filter(loading_pattern=schedule.ALTERNATE_DAYS, loading_ended_on__isnull=True)
        .annotate(last_sample=_latest_sample())
        .order_by("start_date", "id")
    )
)


def monitoring_due(*, today: date, within_days: int = DUE_SOON_DAYS) -> QuerySet[TreatmentPlan]:
    """Active plans with a monitoring visit not yet done (no results sampled since it came near) by ``today`` +
    ``within_days``, the longest overdue first: one query on the stored next visit (see ``plan_next_visit``)."""
    return (
        _live_plans()
        .filter(next_visit_on__lte=today + timedelta(days=within_days))
        .only(*_LISTED_FIELDS, "next_visit_on")
        .order_by("next_visit_on", "id")
    )


def visit_due(plan: TreatmentPlan, *, today: date) -> DuePlan:
    return DuePlan(plan, plan.next_visit_on, plan.next_visit_on < today)


@dataclass(frozen=True, slots=True)
class Listed[T]:
    """The first rows of a home list and how many there are in all (the page says how many it does not show)."""

    rows: list[T]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.rows)


def listed(rows: QuerySet | list, *, limit: int | None = None, row=None) -> Listed:
    """The first ``limit`` rows: one query, and a second one to count them only when there are more."""
    limit = limit or HOME_LIST_LIMIT
    if isinstance(rows, list):
        first, total = rows[:limit], len(rows)
    else:
        first = list(rows[:limit])
        total = len(first) if len(first) < limit else rows.count()
    return Listed([row(item) for item in first] if row else first, total)


def injections_due(*, on: date) -> QuerySet[TreatmentPlan]:
    """Active plans with a dose due on ``on``: the nurse's injections of the day."""
    return injections_selectors.worklist(on=on, days_ahead=0).filter(next_due_on=on)


def injections_overdue(*, today: date) -> QuerySet[TreatmentPlan]:
    """Active plans whose next dose was due before ``today``, the longest overdue first."""
    return injections_selectors.worklist(on=today, days_ahead=0).filter(next_due_on__lt=today)


def dnas_to_follow_up() -> QuerySet[DoseRecord]:
    """Active plans whose latest record is a dose missed (did not attend) that has not been given since."""
    return _DNAS.filter()


def _dnas_to_follow_up() -> QuerySet[DoseRecord]:
    later = DoseRecord.objects.filter(
        plan=OuterRef("plan"), entered_in_error=False, recorded_at__gt=OuterRef("recorded_at")
    )
    return (
        DoseRecord.objects.filter(
            outcome=DoseRecord.Outcome.MISSED, entered_in_error=False, plan__status=TreatmentPlan.Status.ACTIVE
        )
        .filter(~Exists(later))
        .select_related("plan__patient", "recorded_by")
        .order_by("recorded_at")
    )


_DNAS = Prebuilt(_dnas_to_follow_up)


def users_locked_out(*, now=None) -> QuerySet[AccessAttempt]:
    """Usernames locked out now: as many failed sign-ins as the limit, within the cool-off time."""
    now = now or timezone.now()
    return AccessAttempt.objects.filter(
        failures_since_start__gte=settings.AXES_FAILURE_LIMIT, attempt_time__gte=now - settings.AXES_COOLOFF_TIME
    ).order_by("-attempt_time")


def lab_profiles() -> QuerySet[LabProfile]:
    return LabProfile.objects.all()


def closures_coming(*, today: date, within_days: int = CLOSURES_AHEAD_DAYS) -> QuerySet[ClinicClosure]:
    return ClinicClosure.objects.filter(date__gte=today, date__lte=today + timedelta(days=within_days))


def exports_recent(*, limit: int = 10) -> QuerySet[AccessRecord]:
    """Whole-record exports (from the admin or export_patient), newest first: read from the access audit."""
    return (
        AccessRecord.objects.filter(what__in=[AccessRecord.What.EXPORT_ADMIN, AccessRecord.What.EXPORT_COMMAND])
        .select_related("user", "patient")
        .order_by("-at")[:limit]
    )


def patients_recent_for(*, user, limit: int = 10):
    return clinic_selectors.patients_recent_for(user=user, limit=limit)


# An indication's position in a plan's list is at most the number of indications the engine knows.
_INDICATION_SLOTS = 3


def _indicated(indication: str) -> Q:
    """Plans whose indications include ``indication`` (JSON containment is not portable to SQLite)."""
    match = Q(pk__in=[])
    for slot in range(_INDICATION_SLOTS):
        match |= Q(**{f"indications__{slot}": indication})
    return match


def caseload(*, today: date) -> dict[str, int]:
    """How many patients are in each state of treatment: one query, kept in the shared cache until a plan or an
    assessment changes (the count reads every plan)."""
    return shared_cache.read_through(shared_cache.CASELOAD, today.isoformat(), lambda: _caseload(today=today))


def _caseload(*, today: date) -> dict[str, int]:
    active = Q(status=TreatmentPlan.Status.ACTIVE)
    counts = TreatmentPlan.objects.aggregate(
        loading_three_weekly=Count(
            "pk", filter=active & Q(loading_pattern=schedule.THREE_TIMES_WEEKLY, next_phase="loading")
        ),
        loading_neuro=Count(
            "pk", filter=active & Q(loading_pattern=schedule.ALTERNATE_DAYS, loading_ended_on__isnull=True)
        ),
        maintenance=Count("pk", filter=active & Q(next_phase="maintenance", stable_on__isnull=True)),
        overdue=Count("pk", filter=active & Q(next_due_on__lt=today)),
        individualised=Count("pk", filter=active & Q(individualised=True)),
        ileal_resection=Count("pk", filter=active & _indicated("ileal_resection")),
        bariatric_surgery=Count("pk", filter=active & _indicated("bariatric_surgery")),
        pregnant=Count("pk", filter=active & Q(assessment__inputs__pregnant=True)),
        pending_mma=Count("pk", filter=active & Q(pending_mma=True)),
        stable=Count("pk", filter=active & Q(stable_on__isnull=False)),
        ended=Count("pk", filter=Q(status=TreatmentPlan.Status.ENDED)),
    )
    return counts
