"""Shapes booking data for the pages: session summaries, day-list rows, proposals, messages, calendar entries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.utils import timezone

from recommender.appointments import selectors, services
from recommender.injections.calendars import BookedVisit
from recommender.models import Appointment, DoseRecord, Patient, TreatmentPlan
from recommender.vocabulary import dose_label, local_when
from recommender.web import formats
from recommender.web.formats import TemplateRow, html_text, url_for_each


@dataclass(frozen=True, slots=True)
class SessionSummary:
    session: selectors.SessionDay
    booked: int
    places: int


def session_summaries(held: list[selectors.SessionDay]) -> list[SessionSummary]:
    """Each session with its places booked and its places in all (one query for the day's bookings)."""
    if not held:
        return []
    counts = selectors.seats_taken_on(held[0].day)
    out = []
    for s in held:
        slots = s.slots()
        booked = sum(counts[(s.location_id, at)] for at in slots)
        out.append(SessionSummary(s, booked, len(slots) * s.capacity))
    return out


@dataclass(frozen=True, slots=True)
class OverdueRow:
    plan: TreatmentPlan
    dose_label: str
    overdue_days: int


def overdue_rows(plans, *, on: date) -> list[OverdueRow]:
    return [
        OverdueRow(p, dose_label(p.next_phase, p.next_number, p.loading_doses), (on - p.next_due_on).days)
        for p in plans
    ]


@dataclass(frozen=True, slots=True)
class DayListRow(TemplateRow):
    """One booked patient of a day list, with the words and links of the row ready to print (escaped for HTML
    here, once: ``html_text``)."""

    appointment_id: object
    plan_id: object
    appointment_ref: str  # the ids as the page prints them
    plan_ref: str
    kind: str
    status: str
    overbooked: bool
    what: str
    outcome: str  # "" until something is recorded: "given", "missed", "attended", "did not attend"
    record_due: bool  # the plan's dose due now is this one: the row offers the dose form
    starts_at: datetime  # "did not attend" is offered once this has passed (the page's ``now``)
    time: str
    patient_name: str
    born: str
    hospital_number: str
    bookings_url: str
    record_url: str
    dna_url: str
    attended_url: str
    cells: str = ""  # the row's time, patient and what for, rendered (recommender/appointments/pages.py)


_OUTCOME_WORDS = {o.value: "given" if o == DoseRecord.Outcome.GIVEN else o.label.lower() for o in DoseRecord.Outcome}
_DISPLAY_NAME = Patient.display_name.fget  # the patient's name as every page shows it


def day_list_rows(bookings: list[selectors.Booked]) -> list[DayListRow]:
    bookings_url, record_url = url_for_each("appointment-plan"), url_for_each("dose-record")
    dna_url, attended_url = url_for_each("appointment-dna"), url_for_each("appointment-attended")
    rows = []
    for b in bookings:
        if b.recorded is not None:
            outcome = _OUTCOME_WORDS[b.recorded]
        elif b.status == Appointment.Status.DNA:
            outcome = "did not attend"
        elif b.status == Appointment.Status.ATTENDED:
            outcome = "attended"
        else:
            outcome = ""
        due_now = (
            b.kind == Appointment.Kind.DOSE
            and b.status == Appointment.Status.BOOKED
            and b.recorded is None
            and b.plan_status == TreatmentPlan.Status.ACTIVE
            and (b.phase, b.number) == (b.plan_next_phase, b.plan_next_number)
        )
        plan_url = bookings_url(b.plan_id)
        rows.append(
            DayListRow(
                appointment_id=b.id,
                plan_id=b.plan_id,
                appointment_ref=html_text(b.id),
                plan_ref=html_text(b.plan_id),
                kind=b.kind,
                status=b.status,
                overbooked=bool(b.overbook_reason),
                what=html_text(services.what_label_of(b.kind, b.phase, b.number, b.plan_loading_doses)),
                outcome=outcome,
                record_due=due_now,
                starts_at=b.starts_at,
                time=html_text(timezone.localtime(b.starts_at).strftime("%H:%M")),
                patient_name=html_text(_DISPLAY_NAME(b)),
                born=html_text(formats.clinic_dob(b.date_of_birth)),
                hospital_number=html_text(b.hospital_number),
                bookings_url=plan_url,
                record_url=html_text(f"{record_url(b.plan_id)}?next={plan_url}"),
                dna_url=dna_url(b.id),
                attended_url=attended_url(b.id),
            )
        )
    return rows


@dataclass(frozen=True, slots=True)
class ProposalRow:
    proposal: selectors.Proposal
    what: str
    slot_value: str


def plan_bookings(plan: TreatmentPlan, *, today: date) -> dict:
    """The plan's booked appointments, and for each dose or review due and not booked the first free slot (what
    the user may do with them is the view's: ``can_book``)."""
    appointments = selectors.plan_appointments(plan)  # one read for the list and for what is still to book
    since = selectors.start_of(today)
    upcoming = [a for a in appointments if a.status == Appointment.Status.BOOKED and a.starts_at >= since]
    location = selectors.default_location(plan.patient)
    proposals = []
    if location is not None:
        calendar = selectors.clinic_calendar_shared()  # one read of the closures for the schedule and the slots
        dues = selectors.plan_to_book(plan, today=today, calendar=calendar, appointments=appointments)
        for proposal in selectors.slot_proposals(dues=dues, location=location, today=today, calendar=calendar):
            due = proposal.due
            proposals.append(
                ProposalRow(
                    proposal,
                    services.what_label(plan, due.kind, due.phase, due.number),
                    selectors.slot_value(proposal.slot.starts_at) if proposal.slot else "",
                )
            )
    return {
        "plan": plan,
        "patient": plan.patient,
        "upcoming": [(a, services.what_label(plan, a.kind, a.phase, a.number)) for a in upcoming],
        "proposals": proposals,
        "location": location,
    }


def booked_message(appointment: Appointment) -> str:
    what = services.what_label(appointment.plan, appointment.kind, appointment.phase, appointment.number)
    return f"{what} booked for {local_when(appointment.starts_at)}, {appointment.location}."


def calendar_bookings(appointments) -> list[BookedVisit]:
    """The booked appointments as the plan's calendar writes them: at their time and place."""
    return [
        BookedVisit(
            kind=a.kind,
            phase=a.phase,
            number=a.number,
            due_on=a.due_on,
            starts_at=a.starts_at,
            ends_at=a.starts_at + timedelta(minutes=a.slot_minutes),
            place=str(a.location) + (f", {a.location.address}" if a.location.address else ""),
            uid=f"appointment-{a.pk}",
        )
        for a in appointments
    ]
