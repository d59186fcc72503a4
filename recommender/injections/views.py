"""Pages for injections: the worklist, recording and correcting doses, the month view and calendars."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.backends.utils import csrf_input
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from recommender.access import services as access_services
from recommender.access.audit import audited, names_patient
from recommender.injections import calendars, pages, presenters, selectors, services
from recommender.injections.forms import DoseCorrectionForm, DoseIdentityForm, DoseRecordForm, ReasonForm
from recommender.models import REASON_MAX_LENGTH, AccessRecord, AccessToken, DoseRecord, TreatmentPlan
from recommender.vocabulary import dose_label
from recommender.web.formats import html_text
from recommender.web.http import (
    HtmxHttpRequest,
    add_errors,
    can,
    date_param,
    page_number,
    safe_next,
)

WORKLIST_DAYS_AHEAD = 7


WORKLIST_PAGE_SIZE = 50


FEED_DAYS_AHEAD = 28


FEED_LIMIT = 500


@require_GET
@vary_on_headers("HX-Request")
@permission_required("recommender.view_treatmentplan", raise_exception=True)
def worklist(request: HtmxHttpRequest) -> HttpResponse:
    today = timezone.localdate()
    on = date_param(request, "on", today)
    page = pages.worklist_page(
        on=on,
        days_ahead=WORKLIST_DAYS_AHEAD,
        page_number=page_number(request.GET.get("page")),
        per_page=WORKLIST_PAGE_SIZE,
    )
    template = "recommender/worklist.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#rows"
    return render(
        request,
        template,
        {
            "on": on,
            "on_dmy": html_text(f"{on.day:02d}/{on.month:02d}/{on.year:04d}"),  # as Django's date:"d/m/Y"
            "today": today,
            "page": page,
            **presenters.worklist_sections(page, on=on, today=today, back_to=request.get_full_path()),
            "back_to": html_text(request.get_full_path()),  # printed in each overdue row's form
            "days_ahead": WORKLIST_DAYS_AHEAD,
            "can_record": can(request, "record_dose"),
            "csrf_input": csrf_input(request),  # made once for the overdue rows' forms
        },
    )


def _dose_identity(request, plan: TreatmentPlan) -> tuple[str, int, int]:
    """Which dose a form is for: the one due when it was opened (posted back with it), or the one due now."""
    if request.method != "POST":
        return plan.next_phase, plan.next_number, plan.calendar_sequence
    return DoseIdentityForm(request.POST).identity()


def _back_to_worklist(request, plan: TreatmentPlan, refused: services.DoseNotDue) -> HttpResponse:
    """A stale form (Back, a second tab, a double click) goes back to the worklist saying what happened."""
    if isinstance(refused, services.DoseAlreadyRecorded):
        record = refused.record
        at = timezone.localtime(record.recorded_at)
        who = record.recorded_by.get_full_name() or record.recorded_by.get_username()
        label = dose_label(record.phase, record.number, plan.loading_doses)
        messages.warning(  # Bootstrap styles "warning"; an "error" tag has no alert colour here
            request,
            f"{label} was already recorded by {who} at {at:%H:%M}, {at.day} {at:%b %Y} "
            f"({record.get_outcome_display().lower()}). Nothing more was saved.",
        )
    else:
        messages.warning(request, " ".join(refused.messages))
    return redirect("worklist")


@require_http_methods(["GET", "POST"])
@permission_required("recommender.record_dose", raise_exception=True)
def dose_record(request: HtmxHttpRequest, plan_id) -> HttpResponse:
    plan = get_object_or_404(selectors.plans_with_patient(), pk=plan_id)
    if plan.status != TreatmentPlan.Status.ACTIVE or plan.next_due_on is None:
        messages.error(request, "This plan is not active: there is no dose to record.")
        return redirect("worklist")
    phase, number, sequence = _dose_identity(request, plan)
    if (phase, number, sequence) != (plan.next_phase, plan.next_number, plan.calendar_sequence):
        recorded = selectors.dose_latest_record(plan=plan, phase=phase, number=number)
        refused = services.DoseAlreadyRecorded(recorded) if recorded else services.DoseNotDue(services.DOSE_NOT_DUE)
        return _back_to_worklist(request, plan, refused)
    form = DoseRecordForm(
        request.POST or None, first_dose=selectors.plan_first_dose_due(plan=plan), due_on=plan.next_due_on
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.dose_record(
                plan=plan, phase=phase, number=number, sequence=sequence, by=request.user, **form.cleaned_data
            )
        except services.DoseNotDue as refused:
            return _back_to_worklist(request, plan, refused)
        except ValidationError as error:
            add_errors(form, error)
        else:
            label = dose_label(phase, number, plan.loading_doses)
            messages.success(request, f"{label} for {plan.patient.hospital_number} recorded.")
            return redirect(safe_next(request) or reverse("worklist"))
    return render(
        request,
        "recommender/dose_form.html",
        {
            "plan": plan,
            "patient": plan.patient,
            "form": form,
            "dose_label": dose_label(phase, number, plan.loading_doses),
            "identity": {"phase": phase, "number": number, "sequence": sequence},
            "today": timezone.localdate(),
            "next": safe_next(request),
        },
    )


@require_http_methods(["GET", "POST"])
@permission_required("recommender.record_dose", raise_exception=True)
def dose_correct(request: HtmxHttpRequest, dose_id) -> HttpResponse:
    """A dose given with wrong details: the nurse records the right ones; the old record is kept."""
    dose = get_object_or_404(selectors.doses_with_plan(), pk=dose_id)
    plan = dose.plan
    if dose.entered_in_error or dose.outcome != DoseRecord.Outcome.GIVEN or plan.status != TreatmentPlan.Status.ACTIVE:
        messages.error(request, "Only the standing record of a dose given, on an active plan, can be corrected.")
        return redirect("plan-detail", plan_id=plan.pk)
    initial = {
        "given_at": dose.given_at,
        "dose_mg": dose.dose_mg,
        "route": dose.route,
        "site": dose.site,
        "batch": dose.batch,
        "expiry": dose.expiry,
        "early_reason": dose.early_reason,
    }
    form = DoseCorrectionForm(request.POST or None, initial=initial, due_on=dose.due_date)
    label = dose_label(dose.phase, dose.number, plan.loading_doses)
    if request.method == "POST" and form.is_valid():
        try:
            services.dose_correct(dose=dose, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"{label} corrected; the earlier record is kept, marked entered in error.")
            return redirect("plan-detail", plan_id=plan.pk)
    return render(
        request,
        "recommender/dose_correct.html",
        {"plan": plan, "patient": plan.patient, "dose": dose, "form": form, "dose_label": label},
    )


@require_POST
@permission_required("recommender.record_dose", raise_exception=True)
def dose_entered_in_error(request: HtmxHttpRequest, dose_id) -> HttpResponse:
    """A record of a dose that was never given: kept, marked entered in error; the dose falls due again."""
    dose = get_object_or_404(selectors.doses_with_plan(), pk=dose_id)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(f"Reason: {message}" for message in form.errors["reason"]))
    else:
        try:
            services.dose_mark_entered_in_error(dose=dose, reason=form.cleaned_data["reason"], by=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, "Record marked entered in error; the dose is due again.")
    return redirect("plan-detail", plan_id=dose.plan_id)


@require_GET
@permission_required("recommender.view_treatmentplan", raise_exception=True)
@audited(AccessRecord.What.MONTH)
def plan_month(request: HtmxHttpRequest, plan_id) -> HttpResponse:
    today = timezone.localdate()
    month = date_param(request, "month", today.replace(day=1)).replace(day=1)
    try:
        shown = pages.plan_month_page(plan_id=plan_id, month=month, today=today)
    except TreatmentPlan.DoesNotExist:
        raise Http404("No such plan") from None
    names_patient(request, shown["plan"].patient_id)
    return render(request, "recommender/plan_month.html", shown)


@login_not_required
@require_GET
def worklist_feed(request: HttpRequest, token: str) -> HttpResponse:
    """A nurse's calendar subscription: calendar clients cannot log in, so a revocable secret in the URL."""
    user = access_services.access_token_use(raw=token, purpose=AccessToken.Purpose.CALENDAR)
    if user is None or not user.has_perm("recommender.view_treatmentplan"):
        raise Http404("No such feed")
    plans = selectors.worklist(on=timezone.localdate(), days_ahead=FEED_DAYS_AHEAD)[:FEED_LIMIT]
    body = calendars.worklist_calendar(plans, name="B12 injections due", site=request.build_absolute_uri("/"))
    return HttpResponse(body, content_type="text/calendar; charset=utf-8")


@require_GET
@permission_required("recommender.view_treatmentplan", raise_exception=True)
@audited(AccessRecord.What.PLAN)
def plan_doses(request: HtmxHttpRequest, plan_id) -> HttpResponse:
    """Every record of the plan, latest first, a page at a time (the plan page shows the latest few)."""
    try:
        shown = pages.plan_doses_page(
            plan_id=plan_id, page_number=page_number(request.GET.get("page")), can_record=can(request, "record_dose")
        )
    except TreatmentPlan.DoesNotExist:
        raise Http404("No such plan") from None
    names_patient(request, shown["plan"].patient_id)
    return render(
        request,
        "recommender/plan_doses.html",
        {
            **shown,
            "reason_max_length": REASON_MAX_LENGTH,
        },
    )
