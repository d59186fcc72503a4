"""Booking pages: the sessions of a day and each session's day list, a plan's bookings and proposals, booking,
moving, cancelling, did-not-attend, the appointment card and the plan's calendar with its booked times.

The dose form stays the injections room's: the day list links to it with ``next`` set to the plan's booking page,
so that after a dose is recorded (given or missed) the next free slot is proposed at once."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.backends.utils import csrf_input
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from recommender.access.audit import audited, names_patient
from recommender.appointments import pages, presenters, selectors, services
from recommender.appointments.forms import BookingForm, CancelForm, MoveForm
from recommender.appointments.selectors import slot_value
from recommender.models import AccessRecord, Appointment, Location, TreatmentPlan
from recommender.web.http import DATE_RANGE, date_param, plain_number, safe_next, typed_date

VIEW = "recommender.view_appointment"
BOOK = "recommender.book_appointment"


def _day(raw: str | None, default: date | None) -> date | None:
    """A date typed as every date field takes it, within the dates a clinic can mean; else the default."""
    value = typed_date(raw or "")
    return value if value is not None and DATE_RANGE[0] <= value <= DATE_RANGE[1] else default


def _plan(plan_id) -> TreatmentPlan:
    return get_object_or_404(TreatmentPlan.objects.select_related("patient__usual_location"), pk=plan_id)


def _errors_to_form(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for name, errors in error.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


@require_GET
@permission_required(VIEW, raise_exception=True)
def sessions(request: HttpRequest) -> HttpResponse:
    """The sessions of a day (today unless ``on``), each with its bookings counted, and the overdue doses that
    have no booking, so that none hides."""
    today = timezone.localdate()
    on = date_param(request, "on", today)
    held = selectors.sessions_on(on)
    return render(
        request,
        "recommender/appointments/sessions.html",
        {
            "on": on,
            "today": today,
            "sessions": presenters.session_summaries(held),
            "overdue": presenters.overdue_rows(selectors.overdue_unbooked(on=on), on=on),
        },
    )


@require_GET
@permission_required(VIEW, raise_exception=True)
def day_list(request: HttpRequest, on: str, key: str) -> HttpResponse:
    day = _day(on, None)
    session = selectors.session_on(day=day, key=key) if day else None
    if session is None:
        raise Http404("No such session on that day.")
    return render(
        request,
        "recommender/appointments/day_list.html",
        {
            "session": session,
            "rows": pages.day_list_rows(session=session),
            "can_record": request.user.has_perm("recommender.record_dose"),
            "can_book": request.user.has_perm(BOOK),
            "now": timezone.now(),  # "did not attend" once a row's time has passed; "attended" on its day
            "today": timezone.localdate(),
            "here": request.get_full_path(),
            "csrf_input": csrf_input(request),  # made once for the page's many row forms
        },
    )


@require_GET
@vary_on_headers("HX-Request")
@permission_required(VIEW, raise_exception=True)
def plan_bookings(request: HttpRequest, plan_id) -> HttpResponse:
    """A plan's booked appointments and, for what is due and not booked, the first free slot proposed."""
    try:
        shown = pages.plan_bookings(plan_id=plan_id, today=timezone.localdate(), now=timezone.now())
    except TreatmentPlan.DoesNotExist:
        raise Http404("No such plan") from None
    template = "recommender/appointments/plan_bookings.html"
    if getattr(request, "htmx", False):
        template += "#bookings"
    can_book = request.user.has_perm(BOOK) and shown["plan"].status == TreatmentPlan.Status.ACTIVE
    return render(request, template, {**shown, "can_book": can_book})


@require_http_methods(["GET", "POST"])
@permission_required(BOOK, raise_exception=True)
def book(request: HttpRequest, plan_id) -> HttpResponse:
    plan = _plan(plan_id)
    today = timezone.localdate()
    source = request.POST if request.method == "POST" else request.GET
    kind, phase = source.get("kind", ""), source.get("phase", "")
    number = plain_number(source.get("number"), digits=5)
    number = -1 if number is None else number
    due = selectors.due_to_book(plan, kind=kind, phase=phase, number=number, today=today)
    if due is None:
        messages.warning(request, services.NOT_NEXT)
        return redirect("appointment-plan", plan_id=plan.pk)
    location = _location(source.get("location")) or selectors.default_location(plan.patient)
    if location is None:
        messages.error(request, "No clinic location is set up yet: an admin adds locations and sessions first.")
        return redirect("appointment-plan", plan_id=plan.pk)
    slots = selectors.free_slots(due=due, location=location, today=today)
    proposal = selectors.slot_proposal(due=due, location=location, today=today)
    initial = {"location": location, "slot": slot_value(proposal.slot.starts_at) if proposal.slot else ""}
    if request.method == "POST" and request.POST.get("slot"):
        slots = _with_posted(slots, location, request.POST.get("slot"))
    form = BookingForm(request.POST or None, initial=initial, slots=slots)
    if request.method == "POST" and form.is_valid():
        try:
            appointment = services.appointment_book(
                plan=plan, kind=kind, phase=phase, number=number, by=request.user, **form.booking()
            )
        except ValidationError as error:
            _errors_to_form(form, error)
        else:
            messages.success(request, presenters.booked_message(appointment))
            return redirect("appointment-plan", plan_id=plan.pk)
    return render(
        request,
        "recommender/appointments/book.html",
        {
            "plan": plan,
            "patient": plan.patient,
            "due": due,
            "what": services.what_label(plan, due.kind, due.phase, due.number),
            "form": form,
            "proposal": proposal,
            "identity": {"kind": kind, "phase": phase, "number": number},
        },
    )


def _location(raw) -> Location | None:
    try:
        return Location.objects.filter(pk=raw, active=True).first() if raw else None
    except ValidationError:
        return None


def _with_posted(slots: list, location, raw: str) -> list:
    """A slot posted that is no longer free (filled meanwhile) still validates as a choice: the service then says
    it is full, rather than the form saying it is not a choice."""
    day = _day(raw[:10], None) if raw else None
    if day is None:
        return slots
    extra = [
        s for s in selectors.slots_between(location=location, first=day, last=day) if slot_value(s.starts_at) == raw
    ]
    return slots + [s for s in extra if s not in slots]


@require_http_methods(["GET", "POST"])
@permission_required(BOOK, raise_exception=True)
def move(request: HttpRequest, appointment_id) -> HttpResponse:
    appointment = get_object_or_404(Appointment.objects.select_related("plan__patient", "location"), pk=appointment_id)
    plan = appointment.plan
    if appointment.status != Appointment.Status.BOOKED:
        messages.warning(request, f"This appointment is {appointment.get_status_display().lower()}: it cannot move.")
        return redirect("appointment-plan", plan_id=plan.pk)
    today = timezone.localdate()
    source = request.POST if request.method == "POST" else request.GET
    location = _location(source.get("location")) or appointment.location
    due = selectors.due_to_book(
        plan,
        kind=appointment.kind,
        phase=appointment.phase,
        number=appointment.number,
        today=today,
        replacing=appointment,
    ) or services._due_as_booked(appointment)
    slots = selectors.free_slots(due=due, location=location, today=today)
    if request.method == "POST" and request.POST.get("slot"):
        slots = _with_posted(slots, location, request.POST.get("slot"))
    form = MoveForm(request.POST or None, initial={"location": location}, slots=slots)
    if request.method == "POST" and form.is_valid():
        try:
            moved = services.appointment_move(
                appointment=appointment, reason=form.cleaned_data["reason"], by=request.user, **form.booking()
            )
        except ValidationError as error:
            _errors_to_form(form, error)
        else:
            messages.success(request, "Moved: " + presenters.booked_message(moved))
            return redirect("appointment-plan", plan_id=plan.pk)
    return render(
        request,
        "recommender/appointments/move.html",
        {
            "plan": plan,
            "patient": plan.patient,
            "appointment": appointment,
            "due": due,
            "what": services.what_label(plan, appointment.kind, appointment.phase, appointment.number),
            "form": form,
            "trail": selectors.appointment_trail(appointment=appointment),
        },
    )


@require_POST
@permission_required(BOOK, raise_exception=True)
def cancel(request: HttpRequest, appointment_id) -> HttpResponse:
    appointment = get_object_or_404(Appointment, pk=appointment_id)
    form = CancelForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["reason"]))
    else:
        try:
            services.appointment_cancel(appointment=appointment, reason=form.cleaned_data["reason"], by=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, "Appointment cancelled: its place is free.")
    return redirect("appointment-plan", plan_id=appointment.plan_id)


@require_POST
@permission_required(BOOK, raise_exception=True)
def did_not_attend(request: HttpRequest, appointment_id) -> HttpResponse:
    """Mark did-not-attend (the dose due is recorded missed), then propose the next free slot at once."""
    appointment = get_object_or_404(Appointment.objects.select_related("plan"), pk=appointment_id)
    if not request.user.has_perm("recommender.record_dose") and appointment.kind == Appointment.Kind.DOSE:
        raise PermissionDenied("Recording a dose as missed is a nurse's.")
    try:
        services.appointment_did_not_attend(appointment=appointment, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Marked did not attend. The next free slot is proposed below.")
    if appointment.kind == Appointment.Kind.REVIEW and safe_next(request):
        return redirect(safe_next(request))  # a review missed: back to the day list being run
    return redirect("appointment-plan", plan_id=appointment.plan_id)


@require_POST
@permission_required(BOOK, raise_exception=True)
def attended(request: HttpRequest, appointment_id) -> HttpResponse:
    appointment = get_object_or_404(Appointment, pk=appointment_id, kind=Appointment.Kind.REVIEW)
    try:
        services.appointment_attended(appointment=appointment, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Review marked attended.")
    return redirect(safe_next(request) or reverse("appointment-plan", kwargs={"plan_id": appointment.plan_id}))


@require_GET
@permission_required(VIEW, raise_exception=True)
@audited(AccessRecord.What.CARD)
def card(request: HttpRequest, plan_id) -> HttpResponse:
    """The card the patient takes home: the next appointments' date, time and place; no clinical detail."""
    plan = _plan(plan_id)
    names_patient(request, plan.patient_id)
    upcoming = selectors.plan_upcoming(plan=plan, since=timezone.now())
    return render(request, "recommender/appointments/card.html", {"patient": plan.patient, "appointments": upcoming})


@require_GET
@permission_required("recommender.view_treatmentplan", raise_exception=True)
@audited(AccessRecord.What.ICS)
def plan_ics(request: HttpRequest, plan_id) -> HttpResponse:
    """The plan's calendar, with each booked appointment at its time (unbooked due dates stay all-day)."""
    try:
        plan, body = pages.plan_ics(plan_id=plan_id, today=timezone.localdate(), now=timezone.now())
    except TreatmentPlan.DoesNotExist:
        raise Http404("No such plan") from None
    names_patient(request, plan.patient_id)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="b12-plan.ics"'
    return response
