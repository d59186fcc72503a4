"""Writes for injections: doses given, missed or corrected, clinic closures, and the plan's next dose."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from recommender import shared_cache
from recommender.guideline import (
    DEFAULT_RULESET,
    schedule,
)
from recommender.injections.selectors import (
    ClinicCalendar,
    clinic_calendar,
    dose_latest_record,
    dose_neighbours,
    plan_dose_events,
    plan_facts,
    plan_first_dose_due,
    plan_next_visit,
)
from recommender.models import (
    Appointment,
    Assessment,
    ClinicClosure,
    DoseRecord,
    TreatmentPlan,
)
from recommender.records import check_length, locked_active_plan, person_name, save_record
from recommender.ruleset_words import RULESET_WORDS
from recommender.vocabulary import local_when


def plan_reschedule(plan: TreatmentPlan, *, calendar: ClinicCalendar | None = None) -> None:
    """Set the plan's next dose (and why it moved, if it did) from its facts, the clinic's calendar and the doses
    recorded; raise the calendar sequence."""
    if plan.status != TreatmentPlan.Status.ACTIVE:
        plan.next_due_on, plan.next_phase, plan.next_number, plan.next_due_note = None, "", None, ""
    else:
        due = schedule.next_dose(plan_facts(plan, calendar=calendar), plan_dose_events(plan) if plan.pk else [])
        plan.next_due_on, plan.next_phase, plan.next_number = due.due, due.phase, due.number
        plan.next_due_note = due.note[: TreatmentPlan._meta.get_field("next_due_note").max_length]
    plan.next_visit_on = plan_next_visit(plan, calendar=calendar)
    plan.calendar_sequence += 1


def plans_next_visit_fill() -> int:
    """Every active plan's next monitoring visit at once (after a bulk load): three queries and one bulk write."""
    calendar = clinic_calendar()
    latest = dict(
        Assessment.objects.values("patient_id").annotate(on=Max("sample_date")).values_list("patient_id", "on")
    )
    plans = list(TreatmentPlan.objects.filter(status=TreatmentPlan.Status.ACTIVE))
    for plan in plans:
        visit = schedule.next_monitoring_visit(
            plan_facts(plan, calendar=calendar), results_on=latest.get(plan.patient_id)
        )
        plan.next_visit_on = visit.on if visit else None
    TreatmentPlan.objects.bulk_update(plans, ["next_visit_on"], batch_size=2000)
    shared_cache.changed(shared_cache.CLINIC_LISTS)  # bulk_update sends no post_save
    shared_cache.changed(shared_cache.RECORDS)
    return len(plans)


def patient_visit_refresh(*, patient_id) -> None:
    """New results for a patient: their active plan's next monitoring visit moves on (a derived date, so written
    without a history row; the assessment itself is the record)."""
    plans = TreatmentPlan.objects.select_for_update().filter(patient_id=patient_id, status=TreatmentPlan.Status.ACTIVE)
    for row in plans:
        TreatmentPlan.objects.filter(pk=row.pk).update(next_visit_on=plan_next_visit(row))
        shared_cache.changed(shared_cache.record("plan", row.pk))  # update() sends no post_save
    shared_cache.changed(shared_cache.CLINIC_LISTS)


DOSE_NOT_DUE = "The plan has changed since this form was opened: nothing was saved; check the dose now due."


class DoseNotDue(ValidationError):
    """The dose a form was opened for is no longer the plan's due dose: it was recorded since, or the plan changed
    (a Back button, a second tab, a double click). Nothing is saved; the caller goes back to the worklist."""


class DoseAlreadyRecorded(DoseNotDue):
    """The dose was recorded since the form was opened; ``record`` is that record (who, when, what)."""

    def __init__(self, record: DoseRecord):
        self.record = record
        recorded = timezone.localtime(record.recorded_at)
        super().__init__(
            f"This dose was already recorded by {person_name(record.recorded_by)} at {recorded:%H:%M}, "
            f"{recorded.day} {recorded:%b %Y}."
        )


def _given_details_errors(
    *, plan: TreatmentPlan, given_at, dose_mg, route: str, site: str, batch: str, expiry: date | None
) -> dict[str, str]:
    """What is wrong with the details of a dose given: when, how much, how, where, which batch."""
    errors: dict[str, str] = {}
    if given_at is None:
        errors["given_at"] = "Enter when the dose was given."
    elif given_at > timezone.now():
        errors["given_at"] = "The time given cannot be in the future."
    elif timezone.localdate(given_at) < plan.start_date:
        errors["given_at"] = "The time given is before the plan started."
    if dose_mg != Decimal(DEFAULT_RULESET.dose_mg):
        errors["dose_mg"] = f"This plan is for {DEFAULT_RULESET.dose_mg} mg; a different dose needs a new plan."
    if route != DEFAULT_RULESET.route:
        errors["route"] = f"This plan is for {RULESET_WORDS.route} injection ({DEFAULT_RULESET.route})."
    if not site:
        errors["site"] = "Choose the injection site."
    batch_limit = DoseRecord._meta.get_field("batch").max_length
    if not batch.strip():
        errors["batch"] = "Enter the batch number."
    else:
        check_length(errors, "batch", batch.strip(), batch_limit)
    if expiry is None:
        errors["expiry"] = "Enter the batch expiry date."
    elif given_at is not None and expiry < timezone.localdate(given_at):
        errors["expiry"] = f"This batch expired on {expiry:%d %b %Y}: do not use it."
    return errors


def _given_same_day(plan: TreatmentPlan, day: date, *, other_than: DoseRecord | None = None) -> DoseRecord | None:
    """The live given dose of the plan on ``day``, if there is one (besides ``other_than``)."""
    same_day = plan.doses.filter(outcome=DoseRecord.Outcome.GIVEN, entered_in_error=False, given_on=day)
    if other_than is not None:
        same_day = same_day.exclude(pk=other_than.pk)
    return same_day.select_related("recorded_by").first()


def _same_day_message(existing: DoseRecord) -> str:
    given = timezone.localtime(existing.given_at)
    return (
        f"{existing.get_phase_display()} dose {existing.number} of this plan was given on {given.day} "
        f"{given:%b %Y} at {given:%H:%M} (recorded by {person_name(existing.recorded_by)}): "
        "two doses are never given on one day."
    )


def _refuse_if_not_due(plan: TreatmentPlan, phase: str, number: int, sequence: int | None) -> None:
    """Refuse a form for a dose other than the one due now, or one opened before the plan last changed."""
    if (phase, number) == (plan.next_phase, plan.next_number) and sequence in (None, plan.calendar_sequence):
        return
    recorded = dose_latest_record(plan=plan, phase=phase, number=number)
    if recorded is not None:
        raise DoseAlreadyRecorded(recorded)
    raise DoseNotDue(DOSE_NOT_DUE)


def _given_errors(
    *,
    plan: TreatmentPlan,
    given_at,
    details: dict,
    early_reason: str,
    allergy_checked: bool,
    baseline_sample_taken: bool,
) -> tuple[dict[str, str], date | None, str]:
    """What is wrong with a dose recorded as given: its details, its day (one given dose a day; a reason when
    early) and the checks before the first dose. Also the day it was given and the early reason to keep."""
    errors = _given_details_errors(plan=plan, given_at=given_at, **details)
    given_on = None
    if "given_at" not in errors:
        given_on = timezone.localdate(given_at)
        existing = _given_same_day(plan, given_on)
        if existing is not None:
            errors["given_at"] = _same_day_message(existing)
        elif not (plan.next_due_on and given_on < plan.next_due_on):
            early_reason = ""  # kept only for a dose given before its due date
        elif not early_reason.strip():
            errors["early_reason"] = (
                f"This dose is due on {plan.next_due_on.day} {plan.next_due_on:%b %Y}: "
                "give the reason it is given early."
            )
    check_length(errors, "early_reason", early_reason.strip())
    if plan_first_dose_due(plan=plan):
        if not allergy_checked:
            errors["allergy_checked"] = "Before the first dose, ask about cobalt allergy or hypersensitivity."
        if not baseline_sample_taken:
            errors["baseline_sample_taken"] = "Before the first dose, take the baseline blood sample."
    return errors, given_on, early_reason


# A dose the patient did not come for needs no further reason (declined and held do).
DID_NOT_ATTEND_REASON = "Did not attend."


def _not_given_errors(plan: TreatmentPlan, phase: str, number: int, *, outcome: str, reason: str) -> dict[str, str]:
    """What is wrong with a dose recorded as not given: a known outcome (did not attend only once the dose has come)
    and the reason."""
    errors: dict[str, str] = {}
    if outcome not in DoseRecord.Outcome.values:
        errors["outcome"] = "Choose given, did not attend, declined or held."
    elif outcome == DoseRecord.Outcome.MISSED:
        errors |= not_missed_yet(plan, phase, number)
    if not reason.strip():
        errors["reason"] = "Give the reason the dose was not given."
    check_length(errors, "reason", reason.strip())
    return errors


def not_missed_yet(plan: TreatmentPlan, phase: str, number: int) -> dict[str, str]:
    """Why the dose cannot be recorded "did not attend" yet, by field (none: it can): a patient misses a dose only
    once it has come, not before its due day nor before the appointment booked for it (a booking's own "did not
    attend" checks its start: recommender/appointments/services.py)."""
    today = timezone.localdate()
    if plan.next_due_on is not None and plan.next_due_on > today:
        due = plan.next_due_on
        return {"outcome": f"This dose is not due until {due.day} {due:%B %Y}: it cannot be missed before its day."}
    booked = (
        Appointment.objects.filter(
            plan=plan, kind=Appointment.Kind.DOSE, phase=phase, number=number, status=Appointment.Status.BOOKED
        )
        .filter(starts_at__gt=timezone.now())
        .order_by("starts_at")
        .values_list("starts_at", flat=True)
        .first()
    )
    if booked is not None:
        return {
            "outcome": f"This dose is booked for {local_when(booked)}: record did not attend once that appointment "
            "has begun."
        }
    return {}


@transaction.atomic
def dose_record(
    *,
    plan: TreatmentPlan,
    phase: str,
    number: int,
    outcome: str,
    sequence: int | None = None,
    given_at=None,
    dose_mg: Decimal | None = None,
    route: str = "",
    site: str = "",
    batch: str = "",
    expiry: date | None = None,
    reason: str = "",
    early_reason: str = "",
    allergy_checked: bool = False,
    baseline_sample_taken: bool = False,
    by,
) -> DoseRecord:
    """Record the plan's due dose as given or not given, then schedule the next one.

    A dose is recorded once: the plan row is locked; the form names the dose (phase, number) and the plan's
    calendar sequence when it was opened, so a stale form (Back, a second tab) raises DoseAlreadyRecorded or
    DoseNotDue; and the database refuses a second live record of the dose or two given doses on one day."""
    plan = locked_active_plan(plan)
    _refuse_if_not_due(plan, phase, number, sequence)
    given_on = None
    if outcome == DoseRecord.Outcome.GIVEN:
        errors, given_on, early_reason = _given_errors(
            plan=plan,
            given_at=given_at,
            details={"dose_mg": dose_mg, "route": route, "site": site, "batch": batch, "expiry": expiry},
            early_reason=early_reason,
            allergy_checked=allergy_checked,
            baseline_sample_taken=baseline_sample_taken,
        )
        reason = ""
    else:
        if outcome == DoseRecord.Outcome.MISSED and not reason.strip():
            reason = DID_NOT_ATTEND_REASON
        errors = _not_given_errors(plan, phase, number, outcome=outcome, reason=reason)
        given_at, dose_mg, route, site, batch, expiry, early_reason = None, None, "", "", "", None, ""
        allergy_checked = baseline_sample_taken = False
    if errors:
        raise ValidationError(errors)
    record = DoseRecord(
        plan=plan,
        phase=phase,
        number=number,
        due_date=plan.next_due_on,
        outcome=outcome,
        given_at=given_at,
        given_on=given_on,
        dose_mg=dose_mg,
        route=route,
        site=site,
        batch=batch.strip(),
        expiry=expiry,
        reason=reason.strip(),
        early_reason=early_reason.strip(),
        allergy_checked=allergy_checked,
        baseline_sample_taken=baseline_sample_taken,
        recorded_by=by,
    )
    _save_dose(record, plan=plan, by=by)
    plan_reschedule(plan)
    save_record(plan, by=by, reason=f"{phase} dose {number} {outcome}")
    return record


def _save_dose(
    record: DoseRecord, *, plan: TreatmentPlan, by, reason: str = "", replacing: DoseRecord | None = None
) -> None:
    """Save a new live record; the database's refusal (a record made in the meantime) becomes the same clear
    message the checks give, and nothing of this record is left saved."""
    try:
        with transaction.atomic():
            save_record(record, by=by, reason=reason)
    except IntegrityError:
        if record.given_on is not None:
            existing = _given_same_day(plan, record.given_on, other_than=replacing)
            if existing is not None:
                raise ValidationError({"given_at": _same_day_message(existing)}) from None
        recorded = dose_latest_record(plan=plan, phase=record.phase, number=record.number)
        if recorded is not None:
            raise DoseAlreadyRecorded(recorded) from None
        raise


@transaction.atomic
def dose_mark_entered_in_error(*, dose: DoseRecord, reason: str, by) -> DoseRecord:
    """A record of a dose that was never given (or not as recorded: wrong patient, wrong outcome): it stays,
    marked entered in error with its reason, and the dose falls due again. A dose that was given with wrong
    details is corrected with dose_correct instead."""
    plan = locked_active_plan(dose.plan)
    dose = DoseRecord.objects.select_for_update().get(pk=dose.pk)
    if dose.entered_in_error:
        raise ValidationError("This record is already marked entered in error.")
    errors: dict[str, str] = {}
    if not reason.strip():
        errors["reason"] = "Give the reason the record is wrong."
    check_length(errors, "reason", reason.strip())
    if errors:
        raise ValidationError(errors)
    latest = dose_latest_record(plan=plan)
    if latest is None or latest.pk != dose.pk:
        raise ValidationError("Only the most recent record can be marked entered in error; correct later ones first.")
    dose.entered_in_error = True
    dose.error_reason = reason.strip()
    save_record(dose, by=by, reason="entered in error")
    plan_reschedule(plan)
    save_record(plan, by=by, reason="dose entered in error")
    return dose


@transaction.atomic
def dose_correct(
    *,
    dose: DoseRecord,
    reason: str,
    given_at,
    dose_mg: Decimal | None,
    route: str,
    site: str,
    batch: str,
    expiry: date | None,
    early_reason: str = "",
    by,
) -> DoseRecord:
    """A dose that was given, recorded with wrong details (time, site, batch, expiry): a new record of the same
    dose stands with the corrected details; the old one is kept, marked entered in error with the reason and a
    link to its replacement. The dose is not offered again; the next dose moves only if the time given did."""
    plan = locked_active_plan(dose.plan)
    old = DoseRecord.objects.select_for_update().get(pk=dose.pk)
    if old.entered_in_error:
        raise ValidationError("This record is already marked entered in error.")
    if old.outcome != DoseRecord.Outcome.GIVEN:
        raise ValidationError(
            "Only a dose that was given has details to correct; mark this record entered in error instead."
        )
    errors = _given_details_errors(
        plan=plan, given_at=given_at, dose_mg=dose_mg, route=route, site=site, batch=batch, expiry=expiry
    )
    if not reason.strip():
        errors["reason"] = "Give the reason the record is wrong."
    check_length(errors, "reason", reason.strip())
    early_reason = early_reason.strip() or old.early_reason
    check_length(errors, "early_reason", early_reason)
    given_on = None
    if "given_at" not in errors:
        given_on = timezone.localdate(given_at)
        errors |= _correction_date_errors(plan, old, given_on)
        if "given_at" not in errors and given_on < old.due_date and not early_reason:
            errors["early_reason"] = (
                f"This dose was due on {old.due_date.day} {old.due_date:%b %Y}: give the reason it was given early."
            )
    if errors:
        raise ValidationError(errors)
    old.entered_in_error = True
    old.error_reason = reason.strip()
    save_record(old, by=by, reason="entered in error: details corrected")
    new = DoseRecord(
        plan=plan,
        phase=old.phase,
        number=old.number,
        due_date=old.due_date,
        outcome=DoseRecord.Outcome.GIVEN,
        given_at=given_at,
        given_on=given_on,
        dose_mg=dose_mg,
        route=route,
        site=site,
        batch=batch.strip(),
        expiry=expiry,
        early_reason=early_reason if given_on < old.due_date else "",
        allergy_checked=old.allergy_checked,
        baseline_sample_taken=old.baseline_sample_taken,
        recorded_by=by,
    )
    _save_dose(new, plan=plan, by=by, reason="corrected details", replacing=old)
    old.replaced_by = new
    save_record(old, by=by, reason="replaced by the corrected record")
    plan_reschedule(plan)
    save_record(plan, by=by, reason=f"{old.phase} dose {old.number} details corrected")
    return new


def _correction_date_errors(plan: TreatmentPlan, old: DoseRecord, given_on: date) -> dict[str, str]:
    """A corrected time keeps the dose in its place in the course and off a day another dose was given."""
    existing = _given_same_day(plan, given_on, other_than=old)
    if existing is not None:
        return {"given_at": _same_day_message(existing)}
    before, after = dose_neighbours(record=old)
    if before is not None and given_on < before:
        return {"given_at": f"The dose before this one is dated {before.day} {before:%b %Y}: not earlier than that."}
    if after is not None and given_on > after:
        return {"given_at": f"The dose after this one is dated {after.day} {after:%b %Y}: not later than that."}
    return {}


# A closure moves a due date at most across the run of closed days it belongs to: plans due this long after a
# changed closure are looked at again (a longer run of closures is a clinic shut, not a calendar).
CLOSURE_RESCHEDULE_DAYS = 60


def _reschedule_around(day: date, *, by) -> int:
    """Re-derive the next due date of the active plans a closure on ``day`` can move; returns how many moved."""
    # Every plan's calendar may show the day (visits up to two years ahead): its SEQUENCE also counts the closure
    # changes (see calendars.plan_calendar), so no bulk write is needed here.
    calendar = clinic_calendar()
    moved = 0
    window = (day, day + timedelta(days=CLOSURE_RESCHEDULE_DAYS))
    plans = TreatmentPlan.objects.select_for_update().filter(
        Q(next_due_on__range=window) | Q(next_visit_on__range=window), status=TreatmentPlan.Status.ACTIVE
    )
    for plan in plans:
        before = (plan.next_due_on, plan.next_phase, plan.next_number, plan.next_due_note, plan.next_visit_on)
        plan_reschedule(plan, calendar=calendar)
        if (plan.next_due_on, plan.next_phase, plan.next_number, plan.next_due_note, plan.next_visit_on) != before:
            save_record(plan, by=by, reason=f"clinic closure changed on {day:%d %b %Y}")
            moved += 1
    return moved


@transaction.atomic
def clinic_closure_save(*, closure: ClinicClosure, by, previous_date: date | None = None) -> ClinicClosure:
    """Add or change a closure; the plans due around it move off it (and back, when a closure moves away)."""
    closure.reason = closure.reason.strip()
    save_record(closure, by=by)
    _reschedule_around(closure.date, by=by)
    if previous_date is not None and previous_date != closure.date:
        _reschedule_around(previous_date, by=by)
    return closure


@transaction.atomic
def clinic_closure_remove(*, closure: ClinicClosure, by) -> None:
    """Remove a closure (its history stays); the plans it had moved fall back on the day if it is open."""
    day = closure.date
    closure._history_user = by
    closure.delete()  # an instance delete: simple-history keeps the row with who removed it
    _reschedule_around(day, by=by)
