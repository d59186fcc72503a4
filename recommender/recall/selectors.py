"""Reads for recall: the recall list (one query however many patients), a patient's contact attempts, and the
letter's facts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.db.models import Count, DateField, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, TruncWeek
from django.utils import timezone

from recommender.guideline import schedule
from recommender.injections import selectors as injections_selectors
from recommender.models import (
    Appointment,
    ContactAttempt,
    DoseRecord,
    Patient,
    RecallSettings,
    TreatmentPlan,
)

# Before any record: the "latest other outcome" of a plan whose every record is a dose not attended.
_BEFORE_ANY_RECORD = datetime(1900, 1, 1, tzinfo=UTC)


def recall_settings() -> RecallSettings:
    return RecallSettings.current()


def _live_doses() -> QuerySet[DoseRecord]:
    return DoseRecord.objects.filter(plan=OuterRef("pk"), entered_in_error=False)


def _count(queryset: QuerySet, group_by: str) -> Subquery:
    """The number of rows of a correlated queryset, as a subquery (0 when there are none)."""
    return Coalesce(Subquery(queryset.order_by().values(group_by).annotate(n=Count("pk")).values("n")[:1]), Value(0))


def _latest_contact(field: str) -> Subquery:
    return Subquery(ContactAttempt.objects.filter(patient=OuterRef("patient")).order_by("-at").values(field)[:1])


def recall_candidates(*, today: date) -> QuerySet[TreatmentPlan]:
    """Active plans with what the recall list needs about each, every figure computed in the one SQL query:

    - ``due_since``: the day the dose now due first fell due (a dose not attended is offered again under the same
      number, so its first record's due date; else the plan's next due date);
    - ``dnas_in_a_row``: the plan's latest records that are doses not attended, one after the other;
    - ``last_contact_at``/``_method``/``_outcome`` and ``contacts_since_due`` (attempts since ``due_since``);
    - ``booked_at``: a live booking of the dose now due, still to come."""
    first_due = (
        _live_doses()
        .filter(phase=OuterRef("next_phase"), number=OuterRef("next_number"))
        .order_by("due_date")
        .values("due_date")[:1]
    )
    last_other = (
        _live_doses().exclude(outcome=DoseRecord.Outcome.MISSED).order_by("-recorded_at").values("recorded_at")[:1]
    )
    in_a_row = _live_doses().filter(outcome=DoseRecord.Outcome.MISSED, recorded_at__gt=OuterRef("last_other_at"))
    since_due = ContactAttempt.objects.filter(patient=OuterRef("patient"), at__date__gte=OuterRef("due_since"))
    booking = Appointment.objects.filter(
        plan=OuterRef("pk"),
        kind=Appointment.Kind.DOSE,
        phase=OuterRef("next_phase"),
        number=OuterRef("next_number"),
        status=Appointment.Status.BOOKED,
        starts_at__gte=timezone.make_aware(datetime.combine(today, datetime.min.time())),
    ).order_by("starts_at")
    return (
        TreatmentPlan.objects.filter(status=TreatmentPlan.Status.ACTIVE, next_due_on__isnull=False)
        .select_related("patient")
        .annotate(
            due_since=Coalesce(Subquery(first_due), F("next_due_on")),
            last_other_at=Coalesce(Subquery(last_other), Value(_BEFORE_ANY_RECORD)),
        )
        .annotate(
            dnas_in_a_row=_count(in_a_row, "plan"),
            contacts_since_due=_count(since_due, "patient"),
            last_contact_at=_latest_contact("at"),
            last_contact_method=_latest_contact("method"),
            last_contact_outcome=_latest_contact("outcome"),
            booked_at=Subquery(booking.values("starts_at")[:1]),
        )
    )


def recall_list(*, today: date, settings: RecallSettings) -> QuerySet[TreatmentPlan]:
    """The patients to recall as of ``today``: their dose has waited more than ``settings.overdue_days`` days, or
    they did not attend ``settings.dnas_in_a_row`` doses one after the other (and have had none since). The longest
    waiting first. One query."""
    waited_too_long = Q(due_since__lt=today - timedelta(days=settings.overdue_days))
    not_attending = Q(dnas_in_a_row__gte=settings.dnas_in_a_row)
    return (
        recall_candidates(today=today)
        .filter(waited_too_long | not_attending)
        .order_by("due_since", "patient__family_name", "patient__given_name", "pk")
    )


def recall_row(*, plan_id, today: date) -> TreatmentPlan | None:
    """One plan with the recall list's figures (the letter and the contact page), whether recalled or not."""
    return recall_candidates(today=today).filter(pk=plan_id).first()


def patient_active_plan_id(*, patient: Patient):
    return (
        TreatmentPlan.objects.filter(patient=patient, status=TreatmentPlan.Status.ACTIVE)
        .values_list("pk", flat=True)
        .first()
    )


def patient_contact_attempts(*, patient: Patient, limit: int = 20) -> QuerySet[ContactAttempt]:
    return ContactAttempt.objects.filter(patient=patient).select_related("recorded_by")[:limit]


def plan_booking_of_due_dose(*, plan: TreatmentPlan, on: date) -> Appointment | None:
    """The live booking of the plan's due dose on ``on`` or before (the one a patient did not come to)."""
    return (
        Appointment.objects.filter(
            plan=plan,
            kind=Appointment.Kind.DOSE,
            phase=plan.next_phase,
            number=plan.next_number,
            status=Appointment.Status.BOOKED,
            starts_at__date__lte=on,
        )
        .order_by("-starts_at")
        .first()
    )


# ---- The clinic dashboard -----------------------------------------------------------------------------------------

DASHBOARD_WEEKS = 26  # about six months, the current week last


def dashboard_weeks(*, today: date, weeks: int = DASHBOARD_WEEKS) -> list[date]:
    """The Mondays of the last ``weeks`` weeks, oldest first, this week last."""
    this_monday = today - timedelta(days=today.weekday())
    return [this_monday - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]


def _by_week(rows, key: str = "week") -> dict[date, dict]:
    """Aggregated rows by their week's Monday (a database may hand back a datetime for a truncated date)."""
    out = {}
    for row in rows:
        week = row.pop(key)
        out[week.date() if isinstance(week, datetime) else week] = row
    return out


def dashboard_dose_counts(*, first: date, today: date) -> dict[date, dict]:
    """Per week from ``first`` to ``today``, in three grouped queries:

    - ``due``: doses that fell due that week (each record closes one due date: a dose not attended and offered
      again falls due again), plus active plans whose due date that week passed with nothing recorded;
    - ``overdue``: of those, the ones not given by their due date (given later, not attended, declined, held, or
      not yet recorded);
    - ``dna``: of those, the ones recorded "did not attend";
    - ``given``: doses given that week, whenever they were due."""
    end = today
    week = TruncWeek("due_date", output_field=DateField())
    live = DoseRecord.objects.filter(entered_in_error=False)
    late_or_not_given = ~Q(outcome=DoseRecord.Outcome.GIVEN) | Q(given_on__gt=F("due_date"))
    recorded = _by_week(
        live.filter(due_date__gte=first, due_date__lte=end)
        .annotate(week=week)
        .values("week")
        .annotate(
            due=Count("pk"),
            overdue=Count("pk", filter=late_or_not_given),
            dna=Count("pk", filter=Q(outcome=DoseRecord.Outcome.MISSED)),
        )
        .order_by()
    )
    open_due = _by_week(
        TreatmentPlan.objects.filter(status=TreatmentPlan.Status.ACTIVE, next_due_on__gte=first, next_due_on__lt=today)
        .annotate(week=TruncWeek("next_due_on", output_field=DateField()))
        .values("week")
        .annotate(n=Count("pk"))
        .order_by()
    )
    given = _by_week(
        live.filter(outcome=DoseRecord.Outcome.GIVEN, given_on__gte=first, given_on__lte=end)
        .annotate(week=TruncWeek("given_on", output_field=DateField()))
        .values("week")
        .annotate(n=Count("pk"))
        .order_by()
    )
    weeks: dict[date, dict] = {}
    for monday in {*recorded, *open_due, *given}:
        counts = recorded.get(monday, {"due": 0, "overdue": 0, "dna": 0})
        still_open = open_due.get(monday, {}).get("n", 0)
        weeks[monday] = {
            "due": counts["due"] + still_open,
            "overdue": counts["overdue"] + still_open,
            "dna": counts["dna"],
            "given": given.get(monday, {}).get("n", 0),
        }
    return weeks


def dashboard_schedule_share(*, today: date) -> dict[str, int]:
    """Active plans, and those on schedule today (their next dose not past its day): one query."""
    active = Q(status=TreatmentPlan.Status.ACTIVE)
    return TreatmentPlan.objects.aggregate(
        active=Count("pk", filter=active),
        on_schedule=Count("pk", filter=active & (Q(next_due_on__gte=today) | Q(next_due_on__isnull=True))),
    )


def dashboard_monitoring_overdue(*, first: date, today: date) -> tuple[int, dict[date, int]]:
    """Monitoring visits past their day with no results sampled since (from the fortnight before the visit): how many
    patients are overdue one now, and the overdue visits by the week they fell due. Each plan keeps its first visit
    not yet done (``next_visit_on``): only the plans overdue one are read (one query, and the clinic's closures),
    and their later visits up to today come from the schedule."""
    plans = TreatmentPlan.objects.filter(status=TreatmentPlan.Status.ACTIVE, next_visit_on__lt=today)
    calendar = injections_selectors.clinic_calendar()
    patients, by_week = 0, {}
    for plan in plans:
        patients += 1
        facts = injections_selectors.plan_facts(plan, calendar=calendar)
        for visit in schedule.monitoring_visits(facts, until=today - timedelta(days=1)):
            if plan.next_visit_on <= visit.on < today and visit.on >= first:
                monday = visit.on - timedelta(days=visit.on.weekday())
                by_week[monday] = by_week.get(monday, 0) + 1
    return patients, by_week
