"""Thin views: gather input, call a form, a service or a selector, render."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.middleware import HtmxDetails

from . import calendars, charts, errors, selectors, services
from .forms import (
    AssessmentForm,
    DateForm,
    DoseRecordForm,
    IntervalChangeForm,
    PatientForm,
    PlanEndForm,
    PlanForm,
    ReasonForm,
)
from .models import AccessToken, Assessment, DoseRecord, Patient, TreatmentPlan

WORKLIST_DAYS_AHEAD = 7
WORKLIST_PAGE_SIZE = 50
FEED_DAYS_AHEAD = 28
FEED_LIMIT = 500
# Dates a clinic can mean; anything outside is a typing error (and would overflow date arithmetic).
DATE_RANGE = (date(1900, 1, 1), date(2999, 12, 31))


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _can(request, perm: str) -> bool:
    return request.user.has_perm(f"recommender.{perm}")


@require_GET
def home(request: HtmxHttpRequest) -> HttpResponse:
    return render(
        request,
        "recommender/home.html",
        {"recent": selectors.patients_recent_for(user=request.user), "can_add": _can(request, "add_patient")},
    )


@require_GET
@vary_on_headers("HX-Request")
@permission_required("recommender.view_patient", raise_exception=True)
def patient_list(request: HtmxHttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    template = "recommender/patient_list.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#results"
    return render(
        request,
        template,
        {"query": query, "patients": selectors.patient_search(query=query), "can_add": _can(request, "add_patient")},
    )


@require_http_methods(["GET", "POST"])
@permission_required("recommender.add_patient", raise_exception=True)
def patient_create(request: HtmxHttpRequest) -> HttpResponse:
    form = PatientForm(request.POST or None, initial={"hospital_number": request.GET.get("hospital_number", "")})
    if request.method == "POST" and form.is_valid():
        try:
            patient = services.patient_create(**form.cleaned_data, by=request.user)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Patient {patient.hospital_number} registered.")
            return redirect("patient-detail", patient_id=patient.pk)
    return render(request, "recommender/patient_form.html", {"form": form})


@require_GET
@permission_required("recommender.view_patient", raise_exception=True)
def patient_detail(request: HtmxHttpRequest, patient_id) -> HttpResponse:
    patient = get_object_or_404(Patient, pk=patient_id)
    assessments = list(selectors.patient_assessments(patient=patient))
    plans = list(selectors.patient_plans(patient=patient))
    return render(
        request,
        "recommender/patient_detail.html",
        {
            "patient": patient,
            "assessments": assessments,
            "plans": plans,
            "active_plan": next((p for p in plans if p.status == TreatmentPlan.Status.ACTIVE), None),
            "b12_chart": charts.b12_trend(assessments),
            "homocysteine_chart": charts.homocysteine_trend(assessments),
            "can_assess": _can(request, "add_assessment"),
        },
    )


def _assessment_context(request, patient: Patient | UUID) -> dict:
    form = AssessmentForm(request.POST if request.method == "POST" else None)
    plan_form = None
    if form.is_bound and form.is_valid() and form.recommendation.im_recommended:
        # The plan's choices are bound once the clinician has made them; until then they show their defaults.
        chosen = "maintenance_choice" in request.POST or request.POST.get("action") == "save"
        plan_form = PlanForm(request.POST if chosen else None, recommendation=form.recommendation)
    patient_id = patient.pk if isinstance(patient, Patient) else patient
    return {
        "patient": patient,
        "patient_id": patient_id,
        "form": form,
        "plan_form": plan_form,
        "recommendation": form.recommendation,
    }


@require_http_methods(["GET", "POST"])
@permission_required("recommender.add_assessment", raise_exception=True)
def assessment_create(request: HtmxHttpRequest, patient_id) -> HttpResponse:
    patient = get_object_or_404(Patient, pk=patient_id)
    context = _assessment_context(request, patient)
    form, plan_form = context["form"], context["plan_form"]
    if request.method == "POST" and request.POST.get("action") == "save" and form.is_valid():
        create_plan = plan_form is not None and request.POST.get("create_plan") == "1"
        if not create_plan or plan_form.is_valid():
            try:
                assessment, plan = services.assessment_record(
                    patient=patient,
                    sample_date=form.cleaned_data["sample_date"],
                    payload=form.payload,
                    lab_profile=form.cleaned_data.get("lab_profile"),
                    plan_options=plan_form.plan_options() if create_plan else None,
                    by=request.user,
                )
            except ValidationError as error:
                errors.add_service_error(error, form, plan_form if create_plan else None)
            else:
                if plan is not None:
                    messages.success(request, "Assessment saved and treatment plan started.")
                    return redirect("plan-detail", plan_id=plan.pk)
                messages.success(request, "Assessment saved.")
                return redirect("assessment-detail", assessment_id=assessment.pk)
    return render(request, "recommender/assessment_form.html", context)


@require_POST
@permission_required("recommender.add_assessment", raise_exception=True)
def assessment_preview(request: HtmxHttpRequest, patient_id) -> HttpResponse:
    """The live results panel: the same form, the same engine, nothing saved (and no patient data shown)."""
    return render(request, "recommender/assessment_form.html#results", _assessment_context(request, patient_id))


@require_GET
@permission_required("recommender.view_assessment", raise_exception=True)
def assessment_detail(request: HtmxHttpRequest, assessment_id) -> HttpResponse:
    try:
        assessment = selectors.assessment_detail(assessment_id=assessment_id)
    except Assessment.DoesNotExist:
        raise Http404("No such assessment") from None
    plan = TreatmentPlan.objects.filter(assessment=assessment).first()
    return render(
        request,
        "recommender/assessment_detail.html",
        {"assessment": assessment, "patient": assessment.patient, "plan": plan, "decision": assessment.decision},
    )


@require_GET
@permission_required("recommender.view_treatmentplan", raise_exception=True)
def plan_detail(request: HtmxHttpRequest, plan_id) -> HttpResponse:
    try:
        plan = selectors.plan_detail(plan_id=plan_id)
    except TreatmentPlan.DoesNotExist:
        raise Http404("No such plan") from None
    return render(
        request,
        "recommender/plan_detail.html",
        {
            "plan": plan,
            "patient": plan.patient,
            "decision": plan.assessment.decision,
            "end_form": PlanEndForm(),
            "can_change": _can(request, "change_treatmentplan") and plan.status == TreatmentPlan.Status.ACTIVE,
            "can_record": _can(request, "record_dose") and plan.status == TreatmentPlan.Status.ACTIVE,
            "doses": selectors.plan_doses(plan=plan),
            "today": timezone.localdate(),
            "interval_form": IntervalChangeForm(
                initial={"every": plan.maintenance_every, "unit": plan.maintenance_unit}
            ),
            **selectors.plan_schedule(plan=plan, today=timezone.localdate()),
        },
    )


@require_POST
@permission_required("recommender.change_treatmentplan", raise_exception=True)
def plan_end(request: HtmxHttpRequest, plan_id) -> HttpResponse:
    plan = get_object_or_404(TreatmentPlan, pk=plan_id)
    form = PlanEndForm(request.POST)
    if form.is_valid():
        try:
            services.plan_end(plan=plan, reason=form.cleaned_data["reason"], by=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, "The plan has ended.")
    else:
        messages.error(request, "Give the reason the plan ends.")
    return redirect("plan-detail", plan_id=plan.pk)


def _date_param(request, name: str, default: date) -> date:
    """A date from the query string; a bad one falls back to the default with a message, never a 500."""
    raw = request.GET.get(name)
    if not raw:
        return default
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        messages.warning(request, f"“{raw}” is not a date (use YYYY-MM-DD); showing {default:%d %b %Y}.")
        return default
    if not DATE_RANGE[0] <= value <= DATE_RANGE[1]:
        messages.warning(request, f"{value:%d %b %Y} is out of range; showing {default:%d %b %Y}.")
        return default
    return value


@require_GET
@vary_on_headers("HX-Request")
@permission_required("recommender.view_treatmentplan", raise_exception=True)
def worklist(request: HtmxHttpRequest) -> HttpResponse:
    today = timezone.localdate()
    on = _date_param(request, "on", today)
    page = Paginator(selectors.worklist(on=on, days_ahead=WORKLIST_DAYS_AHEAD), WORKLIST_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    rows = [
        {
            "plan": plan,
            "overdue_days": (on - plan.next_due_on).days,
            "dose_label": _dose_label(plan.next_phase, plan.next_number, plan.loading_doses),
        }
        for plan in page
    ]
    template = "recommender/worklist.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#rows"
    return render(
        request,
        template,
        {
            "on": on,
            "today": today,
            "page": page,
            "overdue": [r for r in rows if r["overdue_days"] > 0],
            "due_today": [r for r in rows if r["overdue_days"] == 0],
            "upcoming": [r for r in rows if r["overdue_days"] < 0],
            "days_ahead": WORKLIST_DAYS_AHEAD,
            "can_record": _can(request, "record_dose"),
        },
    )


def _dose_label(phase: str, number: int | None, loading_doses: int | None) -> str:
    if phase == "loading":
        return f"Loading {number} of {loading_doses}" if loading_doses else f"Loading {number} (alternate days)"
    return f"Maintenance {number}"


@require_http_methods(["GET", "POST"])
@permission_required("recommender.record_dose", raise_exception=True)
def dose_record(request: HtmxHttpRequest, plan_id) -> HttpResponse:
    plan = get_object_or_404(TreatmentPlan.objects.select_related("patient"), pk=plan_id)
    if plan.status != TreatmentPlan.Status.ACTIVE or plan.next_due_on is None:
        messages.error(request, "This plan is not active: there is no dose to record.")
        return redirect("worklist")
    form = DoseRecordForm(request.POST or None)
    phase = request.POST.get("phase", "")
    number = request.POST.get("number", "")
    if request.method == "POST" and form.is_valid():
        try:
            services.dose_record(
                plan=plan,
                phase=phase,
                number=int(number) if number.isascii() and number.isdigit() and len(number) < 10 else 0,
                by=request.user,
                **form.cleaned_data,
            )
        except ValidationError as error:
            if hasattr(error, "error_dict"):
                for field, errors in error.error_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                form.add_error(None, error)
        else:
            label = _dose_label(phase, int(number), plan.loading_doses)
            messages.success(request, f"{label} for {plan.patient.hospital_number} recorded.")
            return redirect(_safe_next(request) or reverse("worklist"))
    return render(
        request,
        "recommender/dose_form.html",
        {
            "plan": plan,
            "patient": plan.patient,
            "form": form,
            "dose_label": _dose_label(plan.next_phase, plan.next_number, plan.loading_doses),
            "next": _safe_next(request),
        },
    )


def _safe_next(request) -> str:
    """Where to return after a form: a path on this site only."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    return target if url_has_allowed_host_and_scheme(target, allowed_hosts=None) and target.startswith("/") else ""


@require_POST
@permission_required("recommender.record_dose", raise_exception=True)
def dose_entered_in_error(request: HtmxHttpRequest, dose_id) -> HttpResponse:
    dose = get_object_or_404(DoseRecord.objects.select_related("plan"), pk=dose_id)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the reason the record is wrong.")
    else:
        try:
            services.dose_mark_entered_in_error(dose=dose, reason=form.cleaned_data["reason"], by=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, "Record marked entered in error; the dose is due again.")
    return redirect("plan-detail", plan_id=dose.plan_id)


def _plan_action(request, plan_id, action, form_class, *, done: str) -> HttpResponse:
    plan = get_object_or_404(TreatmentPlan, pk=plan_id)
    form = form_class(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(f"{form.fields[f].label}: {' '.join(e)}" for f, e in form.errors.items()))
    else:
        try:
            action(plan=plan, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, done)
    return redirect("plan-detail", plan_id=plan.pk)


@require_POST
@permission_required("recommender.change_treatmentplan", raise_exception=True)
def plan_end_loading(request: HtmxHttpRequest, plan_id) -> HttpResponse:
    return _plan_action(
        request, plan_id, services.plan_end_loading, DateForm, done="Loading ended; maintenance follows."
    )


@require_POST
@permission_required("recommender.change_treatmentplan", raise_exception=True)
def plan_mark_stable(request: HtmxHttpRequest, plan_id) -> HttpResponse:
    return _plan_action(request, plan_id, services.plan_mark_stable, DateForm, done="Patient recorded as stable.")


@require_POST
@permission_required("recommender.change_treatmentplan", raise_exception=True)
def plan_change_interval(request: HtmxHttpRequest, plan_id) -> HttpResponse:
    return _plan_action(
        request, plan_id, services.plan_change_interval, IntervalChangeForm, done="Maintenance interval changed."
    )


@require_GET
@permission_required("recommender.view_treatmentplan", raise_exception=True)
def plan_ics(request: HtmxHttpRequest, plan_id) -> HttpResponse:
    plan = get_object_or_404(TreatmentPlan, pk=plan_id)
    response = HttpResponse(calendars.plan_calendar(plan), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="b12-plan.ics"'
    return response


@require_GET
@permission_required("recommender.view_treatmentplan", raise_exception=True)
def plan_month(request: HtmxHttpRequest, plan_id) -> HttpResponse:
    plan = get_object_or_404(TreatmentPlan.objects.select_related("patient", "assessment"), pk=plan_id)
    today = timezone.localdate()
    month = _date_param(request, "month", today.replace(day=1)).replace(day=1)
    return render(
        request,
        "recommender/plan_month.html",
        {"plan": plan, "patient": plan.patient, **selectors.plan_month(plan=plan, month=month, today=today)},
    )


@login_not_required
@require_GET
def worklist_feed(request: HttpRequest, token: str) -> HttpResponse:
    """A nurse's calendar subscription: calendar clients cannot log in, so a revocable secret in the URL."""
    user = selectors.access_token_user(raw=token, purpose=AccessToken.Purpose.CALENDAR)
    if user is None or not user.has_perm("recommender.view_treatmentplan"):
        raise Http404("No such feed")
    plans = selectors.worklist(on=timezone.localdate(), days_ahead=FEED_DAYS_AHEAD)[:FEED_LIMIT]
    body = calendars.worklist_calendar(plans, name="B12 injections due", site=request.build_absolute_uri("/"))
    return HttpResponse(body, content_type="text/calendar; charset=utf-8")


@require_http_methods(["GET", "POST"])
@permission_required("recommender.view_treatmentplan", raise_exception=True)
def calendar_feed_settings(request: HtmxHttpRequest) -> HttpResponse:
    new_url = None
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            try:
                token_id = UUID(request.POST.get("token", ""))
            except ValueError:
                raise Http404("No such feed address") from None
            token = get_object_or_404(AccessToken, pk=token_id, user=request.user)
            services.access_token_revoke(token=token)
            messages.success(request, "Feed address revoked: calendars using it stop updating.")
            return redirect("calendar-feed")
        _, raw = services.access_token_issue(user=request.user, purpose=AccessToken.Purpose.CALENDAR, name="worklist")
        new_url = request.build_absolute_uri(reverse("worklist-feed", kwargs={"token": raw}))
    tokens = AccessToken.objects.filter(user=request.user, purpose=AccessToken.Purpose.CALENDAR)
    return render(request, "recommender/calendar_feed.html", {"tokens": tokens, "new_url": new_url})
