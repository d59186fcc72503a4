"""Reads for reminders: what is due around a day, for the patients who agreed to reminders, and what became of
each reminder. A fixed number of queries for a day, however many patients; the schedule's review dates are
computed in Python from one query of the plans (as the home page does)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.utils import timezone

from recommender.guideline import schedule
from recommender.injections.selectors import clinic_calendar, plan_facts
from recommender.models import (
    Appointment,
    Assessment,
    ContactPreference,
    Patient,
    ReminderSend,
    ReminderSettings,
    TreatmentPlan,
)

# An appointment missed more than this many days before the day planned gets no overdue reminder any more (the
# recall list takes it from there); within it, a day the planner did not run is caught up.
OVERDUE_LOOKBACK_DAYS = 7
# Results sampled this many days before a monitoring visit count as that visit's (as on the home page).
REVIEW_RESULTS_BEFORE_DAYS = 14
# A send still "sending" this long after its worker took it was interrupted (the worker stopped): the message may or
# may not have gone, so it is not sent again but listed for staff.
SENDING_CONFIRMED_WITHIN = timedelta(hours=1)
CONSENTING = [ContactPreference.Consent.EMAIL, ContactPreference.Consent.SMS]


@dataclass(frozen=True, slots=True)
class Due:
    """Something a patient should be reminded of: one appointment (booked, or a dose or review not booked yet)."""

    key: str
    kind: str
    patient_id: object
    on: date
    place: str
    channel: str
    to: str
    window: str


def reminder_settings() -> ReminderSettings:
    """The one row of settings (created with the defaults the first time it is asked for)."""
    row, _ = ReminderSettings.objects.get_or_create(pk=1)
    return row


def patient_contact(*, patient: Patient) -> ContactPreference | None:
    return ContactPreference.objects.filter(patient=patient).first()


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


_CONTACT_FIELDS = {
    "consent": "contact_preference__consent",
    "email": "contact_preference__email",
    "mobile": "contact_preference__mobile",
    "window": "contact_preference__window",
}


def _address(consent: str, email: str, mobile: str) -> str:
    return email if consent == ContactPreference.Consent.EMAIL else mobile


def _consenting_plans() -> QuerySet[TreatmentPlan]:
    return TreatmentPlan.objects.filter(
        status=TreatmentPlan.Status.ACTIVE, patient__contact_preference__consent__in=CONSENTING
    )


def booked_between(*, first: date, last: date) -> Iterator[Due]:
    """Booked appointments from ``first`` to ``last`` (local days) of patients who agreed to reminders: one query."""
    rows = Appointment.objects.filter(
        status=Appointment.Status.BOOKED,
        starts_at__gte=_day_start(first),
        starts_at__lt=_day_start(last + timedelta(days=1)),
        plan__status=TreatmentPlan.Status.ACTIVE,
        plan__patient__contact_preference__consent__in=CONSENTING,
    ).values_list(
        "id",
        "starts_at",
        "location__name",
        "plan__patient_id",
        *(f"plan__patient__{field}" for field in _CONTACT_FIELDS.values()),
    )
    for pk, starts_at, place, patient_id, consent, email, mobile, window in rows.iterator(chunk_size=2000):
        yield Due(
            f"appointment:{pk}",
            ReminderSend.Kind.BEFORE,
            patient_id,
            timezone.localdate(starts_at),
            place,
            consent,
            _address(consent, email, mobile),
            window,
        )


def _place_default() -> str:
    return settings.B12_CLINIC_NAME


def doses_due_between(*, first: date, last: date, kind: str) -> Iterator[Due]:
    """Active plans whose next dose falls from ``first`` to ``last`` and is not booked (a booked one is reminded
    by its appointment), of patients who agreed to reminders: one query. A "before" reminder is keyed by the due
    date (a dose that moves is reminded again, at its new date); an overdue one by the dose alone."""
    booked = Appointment.objects.filter(
        plan=OuterRef("pk"),
        status=Appointment.Status.BOOKED,
        kind=Appointment.Kind.DOSE,
        phase=OuterRef("next_phase"),
        number=OuterRef("next_number"),
    )
    rows = (
        _consenting_plans()
        .filter(next_due_on__gte=first, next_due_on__lte=last)
        .filter(~Exists(booked))
        .values_list(
            "id",
            "next_due_on",
            "next_phase",
            "next_number",
            "patient_id",
            "patient__usual_location__name",
            *(f"patient__{field}" for field in _CONTACT_FIELDS.values()),
        )
    )
    for pk, due_on, phase, number, patient_id, place, consent, email, mobile, window in rows.iterator(chunk_size=2000):
        key = f"dose:{pk}:{phase}:{number}" + (f":{due_on}" if kind == ReminderSend.Kind.BEFORE else "")
        yield Due(
            key, kind, patient_id, due_on, place or _place_default(), consent, _address(consent, email, mobile), window
        )


@dataclass(frozen=True, slots=True)
class _PlanDates:
    """What the schedule needs of a plan to date its monitoring visits (read as plain values: no model per row)."""

    start_date: date
    loading_pattern: str
    loading_doses: int | None
    loading_ended_on: date | None
    maintenance_every: int
    maintenance_unit: str
    doses_on_closed_days: bool
    first_review_months: int | None
    stable_on: date | None


_PLAN_DATES = [name for name in _PlanDates.__slots__]


def reviews_due(*, on: date, days_before: int) -> Iterator[Due]:
    """Monitoring visits not booked and without results since: a "before" reminder for a visit from ``on`` to
    ``on + days_before``, an overdue one for a visit in the week before ``on``. Two queries (plans, closures)."""
    latest_sample = Subquery(
        Assessment.objects.filter(patient=OuterRef("patient")).order_by("-sample_date").values("sample_date")[:1]
    )
    booked_review = Appointment.objects.filter(
        plan=OuterRef("pk"), status=Appointment.Status.BOOKED, kind=Appointment.Kind.REVIEW
    )
    rows = (
        _consenting_plans()
        .filter(~Exists(booked_review))
        .annotate(last_sample=latest_sample)
        .values_list(
            "id",
            "patient_id",
            "last_sample",
            "patient__usual_location__name",
            *(f"patient__{field}" for field in _CONTACT_FIELDS.values()),
            *_PLAN_DATES,
        )
    )
    calendar = clinic_calendar()
    first, last = on - timedelta(days=OVERDUE_LOOKBACK_DAYS), on + timedelta(days=days_before)
    for pk, patient_id, last_sample, place, consent, email, mobile, window, *dates in rows.iterator(chunk_size=2000):
        facts = plan_facts(_PlanDates(*dates), calendar=calendar)
        for visit in schedule.monitoring_visits(facts, until=last):
            if visit.on < first or (
                last_sample is not None and visit.on - timedelta(days=REVIEW_RESULTS_BEFORE_DAYS) <= last_sample
            ):
                continue  # long past (the recall list's), or its results came
            if visit.on > last:
                break  # moved to an open day after the window: reminded on a later day
            yield Due(
                f"review:{pk}:{visit.on}",
                ReminderSend.Kind.OVERDUE if visit.on < on else ReminderSend.Kind.BEFORE,
                patient_id,
                visit.on,
                place or _place_default(),
                consent,
                _address(consent, email, mobile),
                window,
            )
            break  # the earliest such visit only


def due_on(*, on: date, days_before: int) -> Iterator[Due]:
    """Everything to remind of when planning ``on``: bookings and unbooked doses from ``on`` to ``on + N`` (a day
    the planner missed is caught up), doses overdue by up to a week, and monitoring visits."""
    last = on + timedelta(days=days_before)
    yield from booked_between(first=on, last=last)
    yield from doses_due_between(first=on, last=last, kind=ReminderSend.Kind.BEFORE)
    yield from doses_due_between(
        first=on - timedelta(days=OVERDUE_LOOKBACK_DAYS), last=on - timedelta(days=1), kind=ReminderSend.Kind.OVERDUE
    )
    yield from reviews_due(on=on, days_before=days_before)


def sends_ready(*, now: datetime, ids=None) -> QuerySet[ReminderSend]:
    """Reminders waiting to be sent (queued, or failed and due another try) whose time has come."""
    ready = ReminderSend.objects.filter(
        status__in=[ReminderSend.Status.QUEUED, ReminderSend.Status.RETRY], next_attempt_at__lte=now
    )
    return ready if ids is None else ready.filter(pk__in=ids)


def sends_failed(*, limit: int = 200) -> QuerySet[ReminderSend]:
    """Reminders that could not be sent after every try, the most recent first, with their patient."""
    return (
        ReminderSend.objects.filter(status=ReminderSend.Status.FAILED)
        .select_related("patient")
        .order_by("-next_attempt_at")[:limit]
    )


def patient_sends(*, patient: Patient, limit: int = 20) -> QuerySet[ReminderSend]:
    return ReminderSend.objects.filter(patient=patient).order_by("-created_at")[:limit]


def sends_stuck(*, before: datetime) -> QuerySet[ReminderSend]:
    """Claimed by a worker that stopped before saying what happened (the message may or may not have gone)."""
    return ReminderSend.objects.filter(status=ReminderSend.Status.SENDING, next_attempt_at__lt=before)
