"""Plain-function factories for clinical records, built through the services (so validated and with history)."""

from __future__ import annotations

import itertools
import threading
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.utils import timezone

from recommender.clinic import services as clinic_services
from recommender.clinic.forms import AssessmentForm
from recommender.clinic.presenters import decision_fingerprint
from recommender.guideline import schedule
from recommender.injections import selectors as injections_selectors
from recommender.injections import services as injections_services
from recommender.models import Assessment, DoseRecord, Patient, TreatmentPlan

_sequence = itertools.count(1)

# Total B12 150 pg/mL, nothing else: deficient, loading 3x weekly, maintenance every 2-3 months.
DEFICIENT = {"b12": {"value": 150, "unit": "pg/mL"}}
# The same with neurological involvement: alternate-day loading, maintenance every 2 months only.
DEFICIENT_NEURO = {"b12": {"value": 150, "unit": "pg/mL"}, "neurological_involvement": True}
# Total B12 500 pg/mL: not deficient, no injections.
NOT_DEFICIENT = {"b12": {"value": 500, "unit": "pg/mL"}}


def make_patient(*, by, **overrides) -> Patient:
    """A registered patient with a hospital number no other call returns."""
    n = next(_sequence)
    fields = {
        "hospital_number": f"T{n:07d}",
        "family_name": f"Family{n}",
        "given_name": f"Given{n}",
        "date_of_birth": date(1960, 1, 1),
    }
    fields.update(overrides)
    return clinic_services.patient_create(**fields, by=by)


def make_assessment(
    patient: Patient, by, *, payload: dict | None = None, sample_date: date | None = None, lab_profile=None
) -> Assessment:
    return clinic_services.assessment_create(
        patient=patient,
        sample_date=sample_date or timezone.localdate(),
        payload=dict(payload if payload is not None else DEFICIENT),
        lab_profile=lab_profile,
        by=by,
    )


def make_plan(
    by,
    payload: dict | None = None,
    *,
    patient: Patient | None = None,
    start: date | None = None,
    neuro: bool | None = None,
    every: int = 2,
    unit: str = "months",
    individualised: bool = False,
    individualised_reason: str = "",
    sample_date: date | None = None,
    **patient_fields,
) -> TreatmentPlan:
    """A new assessment of the patient (a new patient, built from ``patient_fields``, when none is given) and the
    plan started from it on ``start`` (today unless told). The sample is dated the start or today, whichever is
    earlier. ``neuro`` sets neurological involvement in the payload (DEFICIENT unless told); a reason alone makes the
    plan individualised, and an individualised plan without one gets a stock reason."""
    today = timezone.localdate()
    start = start or today
    payload = dict(payload if payload is not None else DEFICIENT)
    if neuro is not None:
        payload["neurological_involvement"] = neuro
    options = {"start_date": start, "maintenance_every": every, "maintenance_unit": unit}
    if individualised or individualised_reason:
        options |= {
            "individualised": True,
            "individualised_reason": individualised_reason or "Symptoms return before the next dose.",
        }
    _, plan = clinic_services.assessment_record(
        patient=patient or make_patient(by=by, **patient_fields),
        sample_date=sample_date or min(start, today),
        payload=payload,
        plan_options=options,
        confirm_supersede=True,
        by=by,
    )
    return plan


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    """An aware datetime at the clinic's local time on ``day``."""
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def given_fields(on: date, **overrides) -> dict:
    """What a nurse records for a dose given at 10:00 on ``on``: 1 mg IM, the first-dose checks done."""
    fields = {
        "outcome": DoseRecord.Outcome.GIVEN,
        "given_at": at(on),
        "dose_mg": Decimal(1),
        "route": "IM",
        "site": DoseRecord.Site.LEFT_DELTOID,
        "batch": "HX2025-118",
        "expiry": on + timedelta(days=365),
        "allergy_checked": True,
        "baseline_sample_taken": True,
    }
    return fields | overrides


def give(plan: TreatmentPlan, by, on: date | None = None, **overrides) -> DoseRecord:
    """Record the plan's next dose as given (at 10:00 on its due date unless told, or now if that is still to come),
    and refresh the plan.

    With ``outcome`` other than given (missed, held) only the outcome and a reason are recorded."""
    plan.refresh_from_db()
    on = on or plan.next_due_on
    if overrides.get("outcome", DoseRecord.Outcome.GIVEN) == DoseRecord.Outcome.GIVEN:
        fields = given_fields(on, **{"given_at": min(at(on), timezone.now())} | overrides)
    else:
        fields = {"reason": "Did not attend."} | overrides
    record = injections_services.dose_record(plan=plan, phase=plan.next_phase, number=plan.next_number, by=by, **fields)
    plan.refresh_from_db()
    return record


def miss(plan: TreatmentPlan, by, reason: str = "Did not attend.") -> DoseRecord:
    """Record the plan's next dose as missed."""
    return give(plan, by, outcome=DoseRecord.Outcome.MISSED, reason=reason)


def miss_on_its_day(plan: TreatmentPlan, by) -> DoseRecord:
    """Record the plan's next dose as missed on its day: a dose still to come (offered again after a first miss) is
    missed at noon on its due date (the clock moved there: a dose cannot be missed before it has come)."""
    import time_machine

    plan.refresh_from_db()
    if plan.next_due_on <= timezone.localdate():
        return miss(plan, by)
    with time_machine.travel(at(plan.next_due_on, hour=12), tick=False):
        return miss(plan, by)


def finish_loading(plan: TreatmentPlan, by) -> None:
    """Give the loading doses still due, each on its due date."""
    plan.refresh_from_db()
    while plan.next_phase == "loading":
        give(plan, by)


def mark_stable(plan: TreatmentPlan, *, on: date, by, reason: str = "Symptoms resolved.") -> None:
    """Stable only once the loading course is complete: its doses are given on their due dates first."""
    finish_loading(plan, by)
    clinic_services.plan_mark_stable(plan=plan, on=on, reason=reason, by=by)
    plan.refresh_from_db()


# What the pages post, and what a request may have written


def today():
    return timezone.localdate()


def assessment_form(payload: dict | None = None, **overrides) -> dict:
    """The assessment form's POST data for a request in the API contract's shape."""
    payload = DEFICIENT if payload is None else payload
    data = {"sample_date": today().isoformat(), "active_b12_unit": "pmol/L", "homocysteine_unit": "umol/L"}
    for name in ("b12", "active_b12", "mma", "homocysteine"):
        if name in payload:
            data[f"{name}_value"] = str(payload[name]["value"])
            data[f"{name}_unit"] = payload[name]["unit"]
    if "upper_limit" in payload.get("mma", {}):
        data["mma_upper_limit"] = str(payload["mma"]["upper_limit"])
    for number in ("egfr", "ileal_resection_cm"):
        if number in payload:
            data[number] = str(payload[number])
    for flag in ("neurological_involvement", "severe", "pregnant", "folic_acid", "malabsorption", "bariatric_surgery"):
        if payload.get(flag):
            data[flag] = "on"
    data.update(overrides)
    return data


def shown_fingerprint(data: dict) -> str:
    """The fingerprint of the decision the page shows for these entries (what the live panel puts in the form)."""
    form = AssessmentForm(data)
    return decision_fingerprint(form.recommendation.as_dict()) if form.is_valid() else ""


def save_with_plan(payload: dict | None = None, **overrides) -> dict:
    """A save as the clinician makes it: after the decision was shown, replacing any active plan."""
    data = assessment_form(payload, action="save", create_plan="1", maintenance_choice="2", confirm_supersede="1")
    data["start_date"] = today().isoformat()
    data.update(overrides)
    data.setdefault("decision_fingerprint", shown_fingerprint(data))
    return data


def htmx_headers(current_path: str) -> dict:
    return {"HX-Request": "true", "HX-Current-URL": f"http://testserver{current_path}"}


def counts() -> dict:
    return {
        "patients": Patient.objects.count(),
        "assessments": Assessment.objects.count(),
        "plans": TreatmentPlan.objects.count(),
        "active": TreatmentPlan.objects.filter(status=TreatmentPlan.Status.ACTIVE).count(),
    }


# Booking (issue 17): a location and its weekly sessions, as an admin sets them up.


def make_location(name: str = "Riverside Surgery", **fields):
    from recommender.models import Location

    return Location.objects.create(name=name, address=fields.pop("address", "1 River Road"), **fields)


def make_sessions(location, *, weekdays=(0, 2, 4), start=time(9, 0), end=time(12, 0), slot_minutes=10, capacity=2):
    """Recurring sessions at the location: Monday, Wednesday and Friday mornings, 10-minute slots, two nurses."""
    from recommender.models import Session

    return [
        Session.objects.create(
            location=location, weekday=w, start=start, end=end, slot_minutes=slot_minutes, capacity=capacity
        )
        for w in weekdays
    ]


def next_weekday(day: date, weekday: int, *, weeks_ahead: int = 1) -> date:
    """The ``weekday`` at least ``weeks_ahead`` weeks after ``day`` (strictly in the future)."""
    return day + timedelta(days=(weekday - day.weekday()) % 7 + 7 * weeks_ahead)


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


only_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="Needs PostgreSQL: row locks between two connections (SQLite serialises writers); "
    "CI runs the suite again with DATABASE_URL set to PostgreSQL.",
)


def at_once(*calls) -> list[object]:
    """Run the calls in threads released together; each one's result or exception, in the order given."""
    from django.db import connections

    barrier = threading.Barrier(len(calls))
    outcomes: list[object] = [None] * len(calls)

    def attempt(index, call):
        try:
            barrier.wait(timeout=10)
            outcomes[index] = call()
        except Exception as error:  # recorded for the assertions, whatever it is
            outcomes[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


CORRECTABLE = {"given_at", "dose_mg", "route", "site", "batch", "expiry"}


def correct(dose, by, on: date, **overrides) -> DoseRecord:
    fields = {k: v for k, v in given_fields(on).items() if k in CORRECTABLE} | {"reason": "Wrong details."}
    return injections_services.dose_correct(dose=dose, by=by, **(fields | overrides))


ILEAL = {"b12": {"value": 500, "unit": "pg/mL"}, "ileal_resection_cm": 30}  # monthly, no loading


ENGLAND_2027 = {
    date(2027, 1, 1): "New Year",
    date(2027, 3, 26): "Good Friday",
    date(2027, 3, 29): "Easter Monday",
    date(2027, 5, 3): "May Day",
    date(2027, 5, 31): "Spring",
    date(2027, 8, 30): "Summer",
    date(2027, 12, 27): "Christmas",
    date(2027, 12, 28): "Boxing",
}


def recent_day_a_month_before_an_open_day() -> date:
    """A day 15–25 days ago whose date a month later is an open day (so nothing but the new closure moves it)."""
    today, calendar = timezone.localdate(), injections_selectors.clinic_calendar()
    return next(
        day
        for day in (today - timedelta(days=n) for n in range(15, 26))
        if schedule.is_open(schedule.add_months(day, 1), injections_selectors.clinic_days(), calendar)
    )


NO_LOADING = {"b12": {"value": 400, "unit": "pg/mL"}, "bariatric_surgery": True}  # prophylaxis: every 3 months


def pending_decision(assessment):
    """An indeterminate result with neurological signs, as the engine serialises treatment pending MMA."""
    decision = dict(assessment.decision)
    decision["im_recommended"] = False
    decision["loading"] = decision["maintenance"] = None
    decision["treatment_pending_mma"] = {
        "loading": {"pattern": "alternate_days", "doses": None, "text": "Hydroxocobalamin 1 mg IM on alternate days."},
        "maintenance": {"every_months": {"min": 2, "max": 2}, "lifelong": True, "text": "Every 2 months."},
        "reason": "Neurological signs: do not wait for the MMA result.",
    }
    Assessment.objects.filter(pk=assessment.pk).update(decision=decision)
    assessment.refresh_from_db()
    return assessment


def dose_form_data(*, phase: str, number, sequence, **overrides) -> dict:
    """What the dose form posts for a plan's next dose, given an hour ago (or at midnight, when the day is younger
    than an hour: the dose is always given today, whatever the hour the suite runs) with an unexpired batch."""
    now = timezone.localtime()
    given_at = max(now - timedelta(hours=1), now.replace(hour=0, minute=0, second=0, microsecond=0))
    data = {
        "phase": phase,
        "number": str(number),
        "sequence": str(sequence),
        "outcome": "given",
        "allergy_checked": "on",
        "baseline_sample_taken": "on",
        "given_at": given_at.strftime("%Y-%m-%dT%H:%M"),
        "dose_mg": "1",
        "route": "IM",
        "site": "right_deltoid",
        "batch": "HX2025-118",
        "expiry": (now.date() + timedelta(days=90)).isoformat(),
        "reason": "",
    }
    return data | overrides


def pass_second_step(session, user) -> None:
    """Mark a session as having passed the second step, as signing in with a code does, giving a user who must
    (or chose to) use a second factor an authenticator. The second step itself is tested through the real forms
    in tests/test_sign_in.py."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from recommender.access import twofactor

    if twofactor.second_factor_state(user) == twofactor.NONE:
        return
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    device = device or TOTPDevice.objects.create(user=user, name="test authenticator", confirmed=True)
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session[twofactor.STATE_SESSION_KEY] = twofactor.VERIFY
