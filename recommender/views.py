"""Thin views: gather input, call a form, a service or a selector, render."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.middleware import HtmxDetails

from . import calendars, charts, presenters, selectors, services
from .forms import (
    ERROR_FIELDS,
    AssessmentForm,
    DateForm,
    DoseCorrectionForm,
    DoseRecordForm,
    IntervalChangeForm,
    MarkStableForm,
    PatientEditForm,
    PatientForm,
    PlanEndForm,
    PlanForm,
    ReasonForm,
)
from .models import REASON_MAX_LENGTH, AccessToken, Assessment, DoseRecord, Patient, TreatmentPlan
from .vocabulary import dose_label
from .widgets import DATE_INPUT_FORMATS

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
            "can_edit": _can(request, "change_patient"),
            "corrections": selectors.patient_corrections(patient=patient),
        },
    )


@require_http_methods(["GET", "POST"])
@permission_required("recommender.change_patient", raise_exception=True)
def patient_edit(request: HtmxHttpRequest, patient_id) -> HttpResponse:
    """A clinician corrects the demographics; the previous details stay in the history with the reason."""
    patient = get_object_or_404(Patient, pk=patient_id)
    # The form validates a copy: the patient shown in the page header keeps its saved details.
    form = PatientEditForm(request.POST or None, instance=Patient.objects.get(pk=patient.pk))
    if request.method == "POST" and form.is_valid():
        try:
            services.patient_update(patient=patient, **form.patient_changes(), by=request.user)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, "Patient details corrected; the previous details are kept in the history.")
            return redirect("patient-detail", patient_id=patient.pk)
    return render(request, "recommender/patient_form.html", {"form": form, "patient": patient})


def _add_errors(form, error: ValidationError) -> None:
    """A service's refusal on the form: each message on its field where the form has it, else above the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, errors in error.error_dict.items():
        form.add_error(field if field in form.fields else None, errors)


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


def _assessment_context(request, patient: Patient | UUID, *, saving: bool = False) -> dict:
    """The form, the decision (computed once, by the form) and the plan's choices, bound only when saving."""
    data = request.POST if request.method == "POST" else None
    form = AssessmentForm(data)
    recommendation = form.recommendation if form.is_bound and form.is_valid() else None
    decision = recommendation.as_dict() if recommendation is not None else None
    active_plan = None
    if isinstance(patient, Patient):
        active_plan = selectors.patient_active_plan(patient=patient)
    plan_kwargs = {"recommendation": recommendation, "active_plan": active_plan}
    if saving:
        plan_form = PlanForm(data, **plan_kwargs)
    else:
        plan_form = PlanForm(initial=_plan_initial(data) or None, **plan_kwargs)
    return {
        "patient": patient,
        "patient_id": patient.pk if isinstance(patient, Patient) else patient,
        "form": form,
        "plan_form": plan_form,
        "recommendation": recommendation,
        "decision": decision,
        "fingerprint": presenters.decision_fingerprint(decision) if decision is not None else "",
        "plan_guidance": presenters.plan_guidance(decision, plan_form.months),
        "strip": presenters.regimen_summary(decision) if decision is not None else "",
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
    patient = get_object_or_404(Patient, pk=patient_id)
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
    return render(request, "recommender/assessment_form.html", context)


@require_POST
@permission_required("recommender.add_assessment", raise_exception=True)
def assessment_preview(request: HtmxHttpRequest, patient_id) -> HttpResponse:
    """The live results panel: the same form, the same engine, nothing saved (and no patient data shown).
    Only the decision is redrawn; the plan's choices, outside it, are never touched."""
    return render(request, "recommender/assessment_form.html#results", _assessment_context(request, patient_id))


@require_GET
@permission_required("recommender.view_assessment", raise_exception=True)
def assessment_detail(request: HtmxHttpRequest, assessment_id) -> HttpResponse:
    try:
        assessment = selectors.assessment_detail(assessment_id=assessment_id)
    except Assessment.DoesNotExist:
        raise Http404("No such assessment") from None
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
            "mma_follow_up": follow_up,
        },
    )


@require_GET
@permission_required("recommender.view_treatmentplan", raise_exception=True)
def plan_detail(request: HtmxHttpRequest, plan_id) -> HttpResponse:
    try:
        plan = selectors.plan_detail(plan_id=plan_id)
    except TreatmentPlan.DoesNotExist:
        raise Http404("No such plan") from None
    doses, older_doses = selectors.plan_recent_doses(plan=plan)
    return render(
        request,
        "recommender/plan_detail.html",
        {
            "plan": plan,
            "patient": plan.patient,
            "decision": plan.assessment.decision,
            "regimen": presenters.plan_regimen(plan),
            "mma_follow_up": presenters.mma_follow_up(plan, selectors.assessments_after_pending_plan(plan=plan)),
            "end_form": PlanEndForm(),
            "stable_form": MarkStableForm(),
            "can_change": _can(request, "change_treatmentplan") and plan.status == TreatmentPlan.Status.ACTIVE,
            "can_record": _can(request, "record_dose") and plan.status == TreatmentPlan.Status.ACTIVE,
            "doses": doses,
            "older_doses": older_doses,
            "latest_dose": selectors.latest_live_of(doses),
            "reason_max_length": REASON_MAX_LENGTH,
            "today": timezone.localdate(),
            "interval_form": IntervalChangeForm(
                initial={"every": plan.maintenance_every, "unit": plan.maintenance_unit}
            ),
            **selectors.plan_schedule(plan=plan, today=timezone.localdate()),
        },
    )


DOSES_PAGE_SIZE = 50


@require_GET
@permission_required("recommender.view_treatmentplan", raise_exception=True)
def plan_doses(request: HtmxHttpRequest, plan_id) -> HttpResponse:
    """Every record of the plan, latest first, a page at a time (the plan page shows the latest few)."""
    plan = get_object_or_404(TreatmentPlan.objects.select_related("patient"), pk=plan_id)
    page = Paginator(selectors.plan_doses(plan=plan), DOSES_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "recommender/plan_doses.html",
        {
            "plan": plan,
            "patient": plan.patient,
            "page": page,
            "doses": page.object_list,
            "latest_dose": selectors.dose_latest_record(plan=plan),
            "can_record": _can(request, "record_dose") and plan.status == TreatmentPlan.Status.ACTIVE,
            "reason_max_length": REASON_MAX_LENGTH,
        },
    )


@require_POST
@permission_required("recommender.change_treatmentplan", raise_exception=True)
def plan_end(request: HtmxHttpRequest, plan_id) -> HttpResponse:
    return _plan_action(request, plan_id, services.plan_end, PlanEndForm, done="The plan has ended.")


def _typed_date(raw: str) -> date | None:
    """A date typed day first (dd/mm/yyyy) or as ISO, as every date field of the site accepts it."""
    for pattern in DATE_INPUT_FORMATS:
        try:
            return datetime.strptime(raw, pattern).date()
        except ValueError:
            continue
    return None


def _date_param(request, name: str, default: date) -> date:
    """A date from the query string; a bad one falls back to the default with a message, never a 500."""
    raw = request.GET.get(name)
    if not raw:
        return default
    value = _typed_date(raw)
    if value is None:
        messages.warning(request, f"“{raw}” is not a date (use dd/mm/yyyy); showing {default:%d %b %Y}.")
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
            **presenters.worklist_sections(page, on=on),
            "days_ahead": WORKLIST_DAYS_AHEAD,
            "can_record": _can(request, "record_dose"),
        },
    )


def _dose_identity(request, plan: TreatmentPlan) -> tuple[str, int, int]:
    """Which dose a form is for: the one due when it was opened (posted back with it), or the one due now."""
    if request.method != "POST":
        return plan.next_phase, plan.next_number, plan.calendar_sequence

    def whole(name: str) -> int:
        raw = request.POST.get(name, "")
        return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else -1  # no 5,000-digit numbers

    return request.POST.get("phase", ""), whole("number"), whole("sequence")


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
    plan = get_object_or_404(TreatmentPlan.objects.select_related("patient"), pk=plan_id)
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
            _add_errors(form, error)
        else:
            label = dose_label(phase, number, plan.loading_doses)
            messages.success(request, f"{label} for {plan.patient.hospital_number} recorded.")
            return redirect(_safe_next(request) or reverse("worklist"))
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
            "next": _safe_next(request),
        },
    )


def _safe_next(request) -> str:
    """Where to return after a form: a path on this site only."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    return target if url_has_allowed_host_and_scheme(target, allowed_hosts=None) and target.startswith("/") else ""


@require_http_methods(["GET", "POST"])
@permission_required("recommender.record_dose", raise_exception=True)
def dose_correct(request: HtmxHttpRequest, dose_id) -> HttpResponse:
    """A dose given with wrong details: the nurse records the right ones; the old record is kept."""
    dose = get_object_or_404(DoseRecord.objects.select_related("plan__patient", "recorded_by"), pk=dose_id)
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
            _add_errors(form, error)
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
    dose = get_object_or_404(DoseRecord.objects.select_related("plan"), pk=dose_id)
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


def _plan_action(request, plan_id, action, form_class, *, done: str) -> HttpResponse:
    """A clinician's action from the plan page: on refusal, each reason with the name of its field."""
    plan = get_object_or_404(TreatmentPlan, pk=plan_id)
    form = form_class(request.POST)
    if form.is_valid():
        arguments = {name: value for name, value in form.cleaned_data.items() if name != "confirm"}
        try:
            action(plan=plan, by=request.user, **arguments)
        except ValidationError as error:
            _add_errors(form, error)
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
        {
            "plan": plan,
            "patient": plan.patient,
            **presenters.month_calendar(today=today, **selectors.plan_month_events(plan=plan, month=month)),
        },
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
