"""Recall pages: the recall list, did-not-attend from it, contact attempts, the recall letter, and the clinic
dashboard with its CSV."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from recommender.access.audit import audited
from recommender.injections import services as injections_services
from recommender.models import AccessRecord, Patient, TreatmentPlan
from recommender.recall import charts, presenters, selectors, services
from recommender.recall.forms import ContactAttemptForm, SequenceForm
from recommender.vocabulary import dose_label
from recommender.web.http import HtmxHttpRequest, add_errors, can, safe_next

RECALL_PAGE_SIZE = 50
VIEW_RECALL = "recommender.view_contactattempt"


@require_GET
@permission_required(VIEW_RECALL, raise_exception=True)
def recall_list(request: HtmxHttpRequest) -> HttpResponse:
    today = timezone.localdate()
    settings = selectors.recall_settings()
    page = Paginator(selectors.recall_list(today=today, settings=settings), RECALL_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "recommender/recall/recall_list.html",
        {
            "page": page,
            "rows": presenters.recall_rows(page, today=today),
            "settings": settings,
            "today": today,
            "can_record_dose": can(request, "record_dose"),
            "can_contact": can(request, "record_contact"),
        },
    )


@require_POST
@permission_required("recommender.record_dose", raise_exception=True)
def did_not_attend(request: HtmxHttpRequest, plan_id) -> HttpResponse:
    """The patient did not come for the dose due: recorded so from the recall list (or the worklist)."""
    plan = get_object_or_404(TreatmentPlan.objects.select_related("patient"), pk=plan_id)
    back = safe_next(request) or reverse("recall-list")
    if plan.status != TreatmentPlan.Status.ACTIVE or plan.next_due_on is None:
        messages.error(request, "This plan is not active: there is no dose to record.")
        return redirect(back)
    label = dose_label(plan.next_phase, plan.next_number, plan.loading_doses)
    try:
        _record, booking = services.dose_did_not_attend(
            plan=plan, sequence=SequenceForm(request.POST).sequence_value(), by=request.user
        )
    except injections_services.DoseNotDue as refused:
        messages.warning(request, " ".join(refused.messages))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        plan.refresh_from_db()
        messages.success(
            request,
            f"{label} for {plan.patient.hospital_number} recorded: did not attend. "
            f"It is offered again from {plan.next_due_on:%a} {plan.next_due_on.day} {plan.next_due_on:%b %Y}; "
            "book it from the plan's appointments.",
        )
        if booking is not None:  # the booking passed: its next free slot is proposed on the plan's bookings
            return redirect("appointment-plan", plan_id=plan.pk)
    return redirect(back)


@require_http_methods(["GET", "POST"])
@permission_required("recommender.record_contact", raise_exception=True)
@audited(AccessRecord.What.CONTACTS)
def contact_attempt(request: HtmxHttpRequest, patient_id) -> HttpResponse:
    """Record a try at reaching the patient; the earlier tries are listed below the form."""
    patient = get_object_or_404(Patient, pk=patient_id)
    form = ContactAttemptForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.contact_attempt_record(patient=patient, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"Contact attempt with {patient.hospital_number} recorded.")
            return redirect(safe_next(request) or reverse("recall-list"))
    return render(
        request,
        "recommender/recall/contact_attempt.html",
        {
            "patient": patient,
            "form": form,
            "attempts": selectors.patient_contact_attempts(patient=patient),
            "next": safe_next(request),
        },
    )


@require_GET
@permission_required(VIEW_RECALL, raise_exception=True)
@audited(AccessRecord.What.RECALL_LETTER)
def recall_letter(request: HtmxHttpRequest, patient_id) -> HttpResponse:
    """A letter asking the patient to book: one A4 page when printed; no clinical detail."""
    patient = get_object_or_404(Patient.objects.select_related("usual_location"), pk=patient_id)
    today = timezone.localdate()
    plan_id = selectors.patient_active_plan_id(patient=patient)
    row = selectors.recall_row(plan_id=plan_id, today=today) if plan_id else None
    return render(
        request,
        "recommender/recall/letter.html",
        {
            "patient": patient,
            "location": patient.usual_location,
            "written_on": presenters.letter_date(today),
            "due_since": presenters.letter_date(row.due_since) if row is not None else "",
        },
    )


def _dashboard(today):
    mondays = selectors.dashboard_weeks(today=today)
    doses = selectors.dashboard_dose_counts(first=mondays[0], today=today)
    monitoring_patients, monitoring = selectors.dashboard_monitoring_overdue(first=mondays[0], today=today)
    weeks = presenters.dashboard_weeks(mondays, doses, monitoring)
    return weeks, monitoring_patients


@require_GET
@permission_required("recommender.view_treatmentplan", raise_exception=True)
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    today = timezone.localdate()
    weeks, monitoring_patients = _dashboard(today)
    return render(
        request,
        "recommender/recall/dashboard.html",
        {
            "today": today,
            "weeks": weeks,
            "charts": charts.dashboard_charts(weeks),
            "share": presenters.schedule_share(selectors.dashboard_schedule_share(today=today)),
            "monitoring_patients": monitoring_patients,
            "totals": presenters.dashboard_totals(weeks),
        },
    )


@require_GET
@permission_required("recommender.view_treatmentplan", raise_exception=True)
def dashboard_csv(request: HtmxHttpRequest) -> HttpResponse:
    today = timezone.localdate()
    weeks, _ = _dashboard(today)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="b12-clinic-dashboard-{today.isoformat()}.csv"'
    csv.writer(response).writerows(presenters.dashboard_csv_rows(weeks))
    return response
