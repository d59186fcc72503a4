"""Thin views: gather input, call a form, a service or a selector, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.middleware import HtmxDetails

from . import charts, selectors, services
from .forms import AssessmentForm, PatientForm, PlanEndForm, PlanForm
from .models import Assessment, Patient, TreatmentPlan


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


def _assessment_context(request, patient: Patient) -> dict:
    form = AssessmentForm(request.POST if request.method == "POST" else None)
    plan_form = None
    if form.is_bound and form.is_valid() and form.recommendation.im_recommended:
        # The plan's choices are bound once the clinician has made them; until then they show their defaults.
        chosen = "maintenance_choice" in request.POST or request.POST.get("action") == "save"
        plan_form = PlanForm(request.POST if chosen else None, recommendation=form.recommendation)
    return {"patient": patient, "form": form, "plan_form": plan_form, "recommendation": form.recommendation}


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
                (plan_form if create_plan else form).add_error(None, error)
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
    """The live results panel: the same form, the same engine, nothing saved."""
    patient = get_object_or_404(Patient, pk=patient_id)
    return render(request, "recommender/assessment_form.html#results", _assessment_context(request, patient))


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
