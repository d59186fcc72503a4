"""Writes for booking: book, move, cancel, did-not-attend, attended. Keyword-only, one transaction each.

Capacity holds in two places: here (a slot's seats are counted before a seat is taken) and in the database (a
seat takes one live appointment: ``one_appointment_per_seat``; a seat beyond the slot's capacity needs an
overbooking reason: ``appointment_within_capacity_or_overbooked``). Two nurses taking the last seat at once: the
second insert waits for the first and is refused by the unique index; it is told the slot has just filled."""

from __future__ import annotations

from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from recommender.appointments import selectors
from recommender.injections import services as injections_services
from recommender.injections.selectors import clinic_calendar
from recommender.models import REASON_MAX_LENGTH, Appointment, DoseRecord, Location, Patient, TreatmentPlan
from recommender.records import save_record
from recommender.vocabulary import dose_label, local_when

SLOT_JUST_FILLED = (
    "Someone else has just booked the last place in this slot ({when}): nothing was saved. Choose another slot."
)
NOT_NEXT = "The plan has changed since this page was opened: nothing was saved; check what is due now."
NOT_BEGUN = "This appointment is on {when}: it can be marked did not attend once it has begun. Nothing was saved."
NOT_ITS_DAY = "This review is booked for {when}: it can be marked attended on its day. Nothing was saved."


def what_label(plan: TreatmentPlan, kind: str, phase: str, number: int) -> str:
    return what_label_of(kind, phase, number, plan.loading_doses)


def what_label_of(kind: str, phase: str, number: int, loading_doses: int | None) -> str:
    if kind == Appointment.Kind.REVIEW:
        return f"Review {number}"
    return dose_label(phase, number, loading_doses)


def _reason(errors: dict, name: str, value: str, missing: str) -> str:
    value = value.strip()
    if not value:
        errors[name] = missing
    elif len(value) > REASON_MAX_LENGTH:
        errors[name] = f"At most {REASON_MAX_LENGTH} characters, please (this has {len(value)})."
    return value


def _locked_plan(plan: TreatmentPlan) -> TreatmentPlan:
    locked = TreatmentPlan.objects.select_for_update().select_related("patient").get(pk=plan.pk)
    if locked.status != TreatmentPlan.Status.ACTIVE:
        raise ValidationError("This plan is no longer active: nothing was booked.")
    return locked


def _settle(plan: TreatmentPlan) -> None:
    """Bookings whose dose has been recorded since they were made: given → attended, not given → did not attend."""
    booked = Appointment.objects.filter(plan=plan, kind=Appointment.Kind.DOSE, status=Appointment.Status.BOOKED)
    for appointment in booked:
        record = (
            DoseRecord.objects.filter(
                plan=plan,
                phase=appointment.phase,
                number=appointment.number,
                entered_in_error=False,
                recorded_at__gte=appointment.booked_at,
            )
            .order_by("-recorded_at")
            .first()
        )
        if record is not None:
            given = record.outcome == DoseRecord.Outcome.GIVEN
            appointment.status = Appointment.Status.ATTENDED if given else Appointment.Status.DNA
            save_record(appointment, by=record.recorded_by, reason=f"dose recorded {record.outcome}")


def _passed_booking(plan: TreatmentPlan, due: selectors.Due) -> Appointment | None:
    """A booking of the same dose or review whose time has passed with nothing recorded (it is due again)."""
    return Appointment.objects.filter(
        plan=plan,
        kind=due.kind,
        phase=due.phase,
        number=due.number,
        status=Appointment.Status.BOOKED,
        starts_at__lt=timezone.now(),
    ).first()


def _seat_taken(error: ValidationError) -> bool:
    """The constraint ``one_appointment_per_seat`` refused the seat (a booking committed since the count)."""
    errors = error.error_dict.values() if hasattr(error, "error_dict") else [error.error_list]
    return any(e.code == "seat_taken" for group in errors for e in group)


def _seats_taken(appointment: Appointment) -> set[int]:
    return set(
        Appointment.objects.filter(
            location_id=appointment.location_id, starts_at=appointment.starts_at, status__in=selectors.SEATED
        ).values_list("seat", flat=True)
    )


def _take_seat(appointment: Appointment, *, slot: selectors.Slot, overbook_reason: str, by) -> None:
    """Number the seat and save; a seat taken meanwhile (another nurse) is retried, and a full slot refused."""
    for _ in range(slot.session.capacity + 2):
        taken = _seats_taken(appointment)
        free = [seat for seat in range(1, slot.session.capacity + 1) if seat not in taken]
        if free:
            appointment.seat, appointment.overbook_reason = free[0], ""
        elif overbook_reason:
            appointment.seat, appointment.overbook_reason = max(taken) + 1, overbook_reason
        else:
            raise ValidationError({"starts_at": SLOT_JUST_FILLED.format(when=local_when(appointment.starts_at))})
        try:
            with transaction.atomic():
                save_record(appointment, by=by, reason=appointment.change_reason or "booked")
            return
        except IntegrityError:
            continue  # the seat went to someone else between the count and the insert: count again
        except ValidationError as error:
            if not _seat_taken(error):
                raise
            continue  # ... or, committed before this one was validated, seen by the constraint check: count again
    raise ValidationError({"starts_at": SLOT_JUST_FILLED.format(when=local_when(appointment.starts_at))})


def _book(
    *,
    plan: TreatmentPlan,
    due: selectors.Due,
    location: Location,
    starts_at: datetime,
    window_reason: str,
    overbook: bool,
    overbook_reason: str,
    moved_from: Appointment | None,
    by,
) -> Appointment:
    errors: dict[str, str] = {}
    slot = selectors.slot_at(location=location, starts_at=starts_at)
    day = timezone.localtime(starts_at).date()
    if slot is None:
        closed = clinic_calendar().get(day)
        errors["starts_at"] = (
            f"The clinic is closed on {day:%a} {day.day} {day:%b %Y} ({closed}): choose another day."
            if closed
            else f"There is no session slot at {location} starting {local_when(starts_at)}."
        )
        raise ValidationError(errors)
    if starts_at <= timezone.now():
        errors["starts_at"] = f"{local_when(starts_at)} has passed: choose a slot still to come."
    window_reason = window_reason.strip()
    if not due.in_window(day):
        window_reason = _reason(
            errors,
            "window_reason",
            window_reason,
            f"{local_when(starts_at)} is outside the window for "
            f"{what_label(plan, due.kind, due.phase, due.number)} "
            f"({due.earliest:%d %b %Y} to {due.latest:%d %b %Y}): give the reason.",
        )
    else:
        window_reason = ""
    overbook_reason = overbook_reason.strip()
    if slot.free:
        overbook_reason = ""
    elif not overbook:
        errors["starts_at"] = (
            f"The slot at {local_when(starts_at)} is full ({slot.session.capacity} "
            f"patient{'s' if slot.session.capacity != 1 else ''}): choose another slot, or overbook with a reason."
        )
    else:
        overbook_reason = _reason(errors, "overbook_reason", overbook_reason, "Give the reason for overbooking.")
    if errors:
        raise ValidationError(errors)
    appointment = Appointment(
        plan=plan,
        kind=due.kind,
        phase=due.phase,
        number=due.number,
        due_on=due.due_on,
        location=location,
        starts_at=starts_at,
        slot_minutes=slot.session.slot_minutes,
        seat=1,
        capacity=slot.session.capacity,
        window_reason=window_reason,
        moved_from=moved_from,
        booked_by=by,
    )
    _take_seat(appointment, slot=slot, overbook_reason=overbook_reason if overbook else "", by=by)
    patient: Patient = plan.patient
    if patient.usual_location_id is None:
        patient.usual_location = location
        save_record(patient, by=by, reason="usual location from the first booking")
    return appointment


@transaction.atomic
def appointment_book(
    *,
    plan: TreatmentPlan,
    kind: str,
    phase: str,
    number: int,
    location: Location,
    starts_at: datetime,
    window_reason: str = "",
    overbook: bool = False,
    overbook_reason: str = "",
    by,
) -> Appointment:
    """Book the plan's next dose or review into a slot. The dose named must be the one due to be booked now;
    outside its window it needs a reason; a full slot needs an explicit overbooking with a reason."""
    plan = _locked_plan(plan)
    _settle(plan)
    today = timezone.localdate()
    due = selectors.due_to_book(plan, kind=kind, phase=phase, number=number, today=today)
    if due is None:
        raise ValidationError(NOT_NEXT)
    passed = _passed_booking(plan, due)
    if passed is not None:
        passed.status = Appointment.Status.MOVED
        passed.change_reason = "Rebooked: the appointment passed with nothing recorded."
        save_record(passed, by=by, reason="rebooked after it passed")
    return _book(
        plan=plan,
        due=due,
        location=location,
        starts_at=starts_at,
        window_reason=window_reason,
        overbook=overbook,
        overbook_reason=overbook_reason,
        moved_from=passed,
        by=by,
    )


def _locked_booking(appointment: Appointment) -> Appointment:
    locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if locked.status != Appointment.Status.BOOKED:
        raise ValidationError(f"This appointment is {locked.get_status_display().lower()} already: nothing changed.")
    return locked


def _refuse_crowding_later_doses(plan: TreatmentPlan, old: Appointment, *, starts_at: datetime, today: date) -> None:
    """A dose moved later must not crowd the doses booked after it (two a day, no clear day in loading)."""
    clash = selectors.later_dose_too_soon(plan, moving=old, to_day=timezone.localtime(starts_at).date(), today=today)
    if clash is not None:
        later, earliest = clash
        label = what_label(plan, later.kind, later.phase, later.number)
        raise ValidationError(
            {
                "starts_at": f"{label} is booked for {local_when(later.starts_at)}: with this dose on "
                f"{local_when(starts_at)} it would come too soon (not before {earliest:%a} {earliest.day} "
                f"{earliest:%b %Y}). Move {label} first, or choose an earlier day."
            }
        )


@transaction.atomic
def appointment_move(
    *,
    appointment: Appointment,
    location: Location,
    starts_at: datetime,
    reason: str,
    window_reason: str = "",
    overbook: bool = False,
    overbook_reason: str = "",
    by,
) -> Appointment:
    """Move a booking to another slot: a new booking that says which one it replaces; the old one is kept,
    marked moved with who moved it, when and why."""
    errors: dict[str, str] = {}
    reason = _reason(errors, "reason", reason, "Give the reason for the move.")
    if errors:
        raise ValidationError(errors)
    plan = _locked_plan(appointment.plan)
    old = _locked_booking(appointment)
    today = timezone.localdate()
    due = selectors.due_to_book(
        plan, kind=old.kind, phase=old.phase, number=old.number, today=today, replacing=old
    ) or _due_as_booked(old)
    _refuse_crowding_later_doses(plan, old, starts_at=starts_at, today=today)
    old.status = Appointment.Status.MOVED
    old.change_reason = reason
    save_record(old, by=by, reason=f"moved: {reason}")
    new = _book(
        plan=plan,
        due=due,
        location=location,
        starts_at=starts_at,
        window_reason=window_reason,
        overbook=overbook,
        overbook_reason=overbook_reason,
        moved_from=old,
        by=by,
    )
    return new


def _due_as_booked(appointment: Appointment) -> selectors.Due:
    """A later dose booked ahead (the one after the next): its window from the due date it was booked for."""
    earliest, latest = selectors.window_for(kind=appointment.kind, phase=appointment.phase, due_on=appointment.due_on)
    return selectors.Due(appointment.kind, appointment.phase, appointment.number, appointment.due_on, earliest, latest)


@transaction.atomic
def appointment_cancel(*, appointment: Appointment, reason: str, by) -> Appointment:
    """Cancel a booking: its seat is free at once; the booking and the reason stay in its history."""
    errors: dict[str, str] = {}
    reason = _reason(errors, "reason", reason, "Give the reason for cancelling.")
    if errors:
        raise ValidationError(errors)
    appointment = _locked_booking(appointment)
    appointment.status = Appointment.Status.CANCELLED
    appointment.change_reason = reason
    save_record(appointment, by=by, reason=f"cancelled: {reason}")
    return appointment


@transaction.atomic
def appointment_did_not_attend(*, appointment: Appointment, by) -> Appointment:
    """The patient did not come: the booking is marked so and, for the dose due now, the dose is recorded as
    missed (the schedule then offers it again: the caller proposes the next free slot at once)."""
    plan = _locked_plan(appointment.plan)
    appointment = _locked_booking(appointment)
    if appointment.starts_at > timezone.now():  # a patient cannot miss what has not begun (nor its dose)
        raise ValidationError({"appointment": NOT_BEGUN.format(when=local_when(appointment.starts_at))})
    # A dose booked early in its window and not attended is not missed yet (it is still due on its day): then only
    # the booking is marked.
    due_now = plan.next_due_on is not None and plan.next_due_on <= timezone.localdate()
    if (
        due_now
        and appointment.kind == Appointment.Kind.DOSE
        and (appointment.phase, appointment.number) == (plan.next_phase, plan.next_number)
    ):
        injections_services.dose_record(
            plan=plan,
            phase=appointment.phase,
            number=appointment.number,
            outcome=DoseRecord.Outcome.MISSED,
            reason=f"Did not attend the appointment of {local_when(appointment.starts_at)}.",
            by=by,
        )
    appointment.status = Appointment.Status.DNA
    save_record(appointment, by=by, reason="did not attend")
    return appointment


@transaction.atomic
def appointment_attended(*, appointment: Appointment, by) -> Appointment:
    """A review held (a dose is marked attended when its dose is recorded): on its day, a patient seen early
    included; not a review still days ahead."""
    appointment = _locked_booking(appointment)
    if timezone.localdate(appointment.starts_at) > timezone.localdate():
        raise ValidationError({"appointment": NOT_ITS_DAY.format(when=local_when(appointment.starts_at))})
    appointment.status = Appointment.Status.ATTENDED
    save_record(appointment, by=by, reason="attended")
    return appointment
