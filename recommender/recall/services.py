"""Writes for recall: a dose marked "did not attend" (through the dose and booking services), and a contact
attempt recorded. Keyword-only, one transaction each, validated, with who did it in the history."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from recommender.appointments import services as booking_services
from recommender.injections import services as injections_services
from recommender.models import Appointment, ContactAttempt, DoseRecord, Patient, TreatmentPlan
from recommender.recall import selectors
from recommender.records import check_length, locked_active_plan, save_record


@transaction.atomic
def dose_did_not_attend(
    *, plan: TreatmentPlan, sequence: int | None = None, by
) -> tuple[DoseRecord, Appointment | None]:
    """The patient did not come for the dose now due: it is recorded "did not attend" (an outcome of its own, not
    declined or held) and the schedule offers it again from the next open day. A booking for it that has passed is
    marked did not attend too (the booking service does both), so the next one is proposed from the plan's
    bookings. Returns the record and that booking, if there was one."""
    plan = locked_active_plan(plan)
    if plan.next_due_on is None:
        raise ValidationError("This plan has no dose due: there is nothing to mark.")
    if sequence is not None and sequence != plan.calendar_sequence:
        raise injections_services.DoseNotDue(injections_services.DOSE_NOT_DUE)
    refused = injections_services.not_missed_yet(plan, plan.next_phase, plan.next_number)  # its day, its booking
    if refused:
        raise ValidationError(refused)
    booking = selectors.plan_booking_of_due_dose(plan=plan, on=timezone.localdate())  # one that has begun
    if booking is not None:
        booking_services.appointment_did_not_attend(appointment=booking, by=by)
    else:
        injections_services.dose_record(
            plan=plan,
            phase=plan.next_phase,
            number=plan.next_number,
            sequence=plan.calendar_sequence,
            outcome=DoseRecord.Outcome.MISSED,
            reason=injections_services.DID_NOT_ATTEND_REASON,
            by=by,
        )
    return DoseRecord.objects.filter(plan=plan, outcome=DoseRecord.Outcome.MISSED).latest("recorded_at"), booking


@transaction.atomic
def contact_attempt_record(
    *, patient: Patient, at: datetime | None, method: str, outcome: str, note: str = "", by
) -> ContactAttempt:
    """Record one try at reaching a patient: when, how, what came of it and a note. Not in the future."""
    errors: dict[str, str] = {}
    if at is None:
        errors["at"] = "Enter when the patient was contacted."
    elif at > timezone.now():
        errors["at"] = "The time of the contact cannot be in the future."
    if method not in ContactAttempt.Method.values:
        errors["method"] = "Choose how the patient was contacted: phone, letter, text message or in person."
    if outcome not in ContactAttempt.Outcome.values:
        errors["outcome"] = "Choose what came of the contact."
    note = note.strip()
    check_length(errors, "note", note)
    if errors:
        raise ValidationError(errors)
    attempt = ContactAttempt(patient=patient, at=at, method=method, outcome=outcome, note=note, recorded_by=by)
    save_record(attempt, by=by, reason=f"contact attempt: {method}, {outcome}")
    return attempt
