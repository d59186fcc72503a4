"""Pages for the clinic: home, patients, assessments with the live decision, plans and their actions."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from recommender.access.audit import audited, names_patient
from recommender.clinic import pages, presenters, selectors, services
from recommender.clinic.forms import (
    ERROR_FIELDS,
    AssessmentForm,
    DateForm,
    IntervalChangeForm,
    MarkStableForm,
    PatientEditForm,
    PatientForm,
    PlanEndForm,
    PlanForm,
    assessment_initial,
    plan_months,
)
from recommender.guideline.stored import Decision
from recommender.models import REASON_MAX_LENGTH, AccessRecord, Assessment, Patient, TreatmentPlan
from recommender.web.http import HtmxHttpRequest, add_errors, can
from recommender.web.widgets import blank_form


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
        {"query": query, "patients": selectors.patient_search(query=query), "can_add": can(request, "add_patient")},
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
@audited(AccessRecord.What.PATIENT)
def patient_detail(request: HtmxHttpRequest, patient_id) -> HttpResponse:
    try:
        shown = pages.patient_page(patient_id=patient_id)
    except Patient.DoesNotExist:
        raise Http404("No such patient") from None
    return render(
        request,
        "recommender/patient_detail.html",
        {
            **shown,
            "can_assess": can(request, "add_assessment"),
            "can_edit": can(request, "change_patient"),
            "today": timezone.localdate(),
        },
    )


@require_http_methods(["GET", "POST"])
@permission_required("recommender.change_patient", raise_exception=True)
def patient_edit(request: HtmxHttpRequest, patient_id) -> HttpResponse:
    """A clinician corrects the demographics; the previous details stay in the history with the reason."""
    patient = get_object_or_404(Patient, pk=patient_id)
    # The form validates a copy: the patient shown in the page header keeps its saved details.
    form = PatientEditForm(request.POST or None, instance=selectors.patient_detail(patient_id=patient.pk))
    if request.method == "POST" and form.is_valid():
        try:
            services.patient_update(patient=patient, **form.patient_changes(), by=request.user)
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, "Patient details corrected; the previous details are kept in the history.")
            return redirect("patient-detail", patient_id=patient.pk)
    return render(request, "recommender/patient_form.html", {"form": form, "patient": patient})


PLAN_FIELDS = (
    "create_plan",
    "maintenance_choice",
    "individualised_every",
    "individualised_unit",
    "individualised_reason",
    "pending_mma_reason",
    "start_date",
    "doses_on_closed_days",
    "confirm_supersede",
)


def _plan_initial(data) -> dict:
    """The plan's choices as the clinician left them, shown again without being validated."""
    if data is None:
        return {}
    initial = {name: data.get(name) for name in PLAN_FIELDS if data.get(name) not in (None, "")}
    initial["create_plan"] = bool(data.get("create_plan"))
    initial["confirm_supersede"] = bool(data.get("confirm_supersede"))
    initial["doses_on_closed_days"] = bool(data.get("doses_on_closed_days"))
    return initial


def _assessment_context(request, patient: Patient | UUID, *, saving: bool = False, plan_choices: bool = True) -> dict:
    """The form, the decision (computed once, by the form) and the plan's choices, bound only when saving (and not
    built at all for the live panel, which never shows them: ``plan_choices=False``)."""
    data = request.POST if request.method == "POST" else None
    imported = None
    if data is None and isinstance(patient, Patient) and request.GET.get("import"):
        # Results received over FHIR pre-fill the form; the clinician completes the clinical picture and saves.
        imported = selectors.result_import_initial(patient=patient, import_id=request.GET["import"])
    # Else a GET may carry results to pre-fill (the CDS Hooks card's link): shown for the clinician to check, never
    # saved.
    initial = imported if imported is not None else (assessment_initial(request.GET) if data is None else None)
    form = AssessmentForm(data, initial=initial)
    recommendation = form.recommendation if form.is_bound and form.is_valid() else None
    decision = recommendation.as_dict() if recommendation is not None else None
    decided = Decision.from_dict(decision) if decision is not None else None
    # The page reads the patient with their active plan (selectors.patient_with_active_plan); the live panel neither.
    active_plan = patient.active_plan_row if isinstance(patient, Patient) else None
    plan_kwargs = {"recommendation": recommendation, "active_plan": active_plan}
    if saving:
        plan_form = PlanForm(data, **plan_kwargs)
    elif plan_choices:
        plan_form = PlanForm(initial=_plan_initial(data) or None, **plan_kwargs)
    else:
        plan_form = None
    return {
        "patient": patient,
        "patient_id": patient.pk if isinstance(patient, Patient) else patient,
        "form": form,
        "plan_form": plan_form,
        "recommendation": recommendation,
        "decision": decision,
        "panel": presenters.decision_panel(decided) if decided is not None else None,
        "fingerprint": presenters.decision_fingerprint(decision) if decision is not None else "",
        "plan_guidance": presenters.plan_guidance(decided, plan_months(recommendation)),
        "strip": presenters.regimen_summary(decided) if decided is not None else "",
        "imported": imported is not None,
    }


def _add_assessment_errors(error: ValidationError, form: AssessmentForm, plan_form: PlanForm) -> None:
    """Each error of a service on the field it is about, on whichever form holds that field."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, errors in error.error_dict.items():
        field = ERROR_FIELDS.get(field, field)
        if field in form.fields:
            form.add_error(field, errors)
        elif field in plan_form.fields:
            plan_form.add_error(field, errors)
        else:
            form.add_error(None, errors)


def _error_summary(form: AssessmentForm, plan_form: PlanForm) -> list[dict]:
    """Every error of a failed save, each linking to its field (the GOV.UK error summary)."""
    lines = []
    for each in (form, plan_form):
        if not each.is_bound:
            continue
        for message in each.non_field_errors():
            lines.append({"id": "", "text": message})
        for field in each:
            for message in field.errors:
                lines.append({"id": field.id_for_label, "text": presenters.error_line(field.label, message)})
    return lines


@require_http_methods(["GET", "POST"])
@permission_required("recommender.add_assessment", raise_exception=True)
def assessment_create(request: HtmxHttpRequest, patient_id) -> HttpResponse:
    try:
        patient = selectors.patient_with_active_plan(patient_id=patient_id)
    except Patient.DoesNotExist:
        raise Http404("No such patient") from None
    saving = request.method == "POST" and request.POST.get("action") == "save"
    context = _assessment_context(request, patient, saving=saving)
    form, plan_form, recommendation = context["form"], context["plan_form"], context["recommendation"]
    if saving and recommendation is not None:
        if request.POST.get("decision_fingerprint", "") != context["fingerprint"]:
            # What would be saved is not what the clinician saw: show the new decision, save nothing.
            context["decision_changed"] = True
            context["plan_form"] = PlanForm(
                initial=_plan_initial(request.POST), recommendation=recommendation, active_plan=plan_form.active_plan
            )
        elif not plan_form.wanted or plan_form.is_valid():
            try:
                assessment, plan = services.assessment_record(
                    patient=patient,
                    sample_date=form.cleaned_data["sample_date"],
                    payload=form.payload,
                    lab_profile=form.cleaned_data.get("lab_profile"),
                    recommendation=recommendation,
                    plan_options=plan_form.plan_options() if plan_form.wanted else None,
                    by=request.user,
                )
            except ValidationError as error:
                _add_assessment_errors(error, form, plan_form)
            else:
                if plan is not None:
                    messages.success(request, "Assessment saved and treatment plan started.")
                    return redirect("plan-detail", plan_id=plan.pk)
                messages.success(request, "Assessment saved.")
                return redirect("assessment-detail", assessment_id=assessment.pk)
    if request.method == "POST":
        context["error_summary"] = _error_summary(form, context["plan_form"])
    context["maintenance_rows"] = presenters.maintenance_rows(
        context["plan_form"]["maintenance_choice"], context["plan_guidance"]["hints"]
    )
    return render(request, "recommender/assessment_form.html", context)


@require_POST
@permission_required("recommender.add_assessment", raise_exception=True)
def assessment_preview(request: HtmxHttpRequest, patient_id) -> HttpResponse:
    """The live results panel: the same form, the same engine, nothing saved (and no patient data shown).
    Only the decision is redrawn; the plan's choices, outside it, are never touched."""
    context = _assessment_context(request, patient_id, plan_choices=False)
    return render(request, "recommender/assessment_form.html#results", context)


@require_GET
@permission_required("recommender.view_assessment", raise_exception=True)
@audited(AccessRecord.What.ASSESSMENT)
def assessment_detail(request: HtmxHttpRequest, assessment_id) -> HttpResponse:
    try:
        assessment = selectors.assessment_detail(assessment_id=assessment_id)
    except Assessment.DoesNotExist:
        raise Http404("No such assessment") from None
    names_patient(request, assessment.patient_id)
    plan = selectors.assessment_plan(assessment=assessment)
    follow_up = None
    pending_plan = selectors.plan_pending_mma_before(assessment=assessment)
    if pending_plan is not None and (follow_up := presenters.mma_follow_up(pending_plan, [assessment])):
        follow_up["plan"] = pending_plan
    return render(
        request,
        "recommender/assessment_detail.html",
        {
            "assessment": assessment,
            "patient": assessment.patient,
            "plan": plan,
            "decision": assessment.decision,
            "panel": presenters.decision_panel(assessment.decided),
            "mma_follow_up": follow_up,
        },
    )


@require_GET
@permission_required("recommender.view_treatmentplan", raise_exception=True)
@audited(AccessRecord.What.PLAN)
def plan_detail(request: HtmxHttpRequest, plan_id) -> HttpResponse:
    today = timezone.localdate()
    try:
        shown = pages.plan_page(plan_id=plan_id, today=today, can_record=can(request, "record_dose"))
    except TreatmentPlan.DoesNotExist:
        raise Http404("No such plan") from None
    plan = shown["plan"]
    names_patient(request, plan.patient_id)
    return render(
        request,
        "recommender/plan_detail.html",
        {
            **shown,
            "end_form": blank_form(PlanEndForm),
            "stable_form": blank_form(MarkStableForm),
            "can_change": can(request, "change_treatmentplan") and plan.status == TreatmentPlan.Status.ACTIVE,
            "reason_max_length": REASON_MAX_LENGTH,
            "today": today,
            "interval_form": IntervalChangeForm(
                initial={"every": plan.maintenance_every, "unit": plan.maintenance_unit}
            ),
        },
    )


@require_POST
@permission_required("recommender.change_treatmentplan", raise_exception=True)
def plan_end(request: HtmxHttpRequest, plan_id) -> HttpResponse:
    return _plan_action(request, plan_id, services.plan_end, PlanEndForm, done="The plan has ended.")


def _plan_action(request, plan_id, action, form_class, *, done: str) -> HttpResponse:
    """A clinician's action from the plan page: on refusal, each reason with the name of its field."""
    plan = get_object_or_404(TreatmentPlan, pk=plan_id)
    form = form_class(request.POST)
    if form.is_valid():
        arguments = {name: value for name, value in form.cleaned_data.items() if name != "confirm"}
        try:
            action(plan=plan, by=request.user, **arguments)
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, done)
            return redirect("plan-detail", plan_id=plan.pk)
    messages.error(request, " ".join(_labelled_errors(form)))
    return redirect("plan-detail", plan_id=plan.pk)


def _labelled_errors(form) -> list[str]:
    """ "Why is the plan ending?: Give the reason the plan ends." — the field named, then what is wrong."""
    return [
        " ".join(errors) if field == NON_FIELD_ERRORS else f"{form.fields[field].label}: {' '.join(errors)}"
        for field, errors in form.errors.items()
    ]


@require_POST
@permission_required("recommender.change_treatmentplan", raise_exception=True)
def plan_end_loading(request: HtmxHttpRequest, plan_id) -> HttpResponse:
    return _plan_action(
        request, plan_id, services.plan_end_loading, DateForm, done="Loading ended; maintenance follows."
    )


@require_POST
@permission_required("recommender.change_treatmentplan", raise_exception=True)
def plan_mark_stable(request: HtmxHttpRequest, plan_id) -> HttpResponse:
    return _plan_action(request, plan_id, services.plan_mark_stable, MarkStableForm, done="Patient recorded as stable.")


@require_POST
@permission_required("recommender.change_treatmentplan", raise_exception=True)
def plan_change_interval(request: HtmxHttpRequest, plan_id) -> HttpResponse:
    return _plan_action(
        request, plan_id, services.plan_change_interval, IntervalChangeForm, done="Maintenance interval changed."
    )
