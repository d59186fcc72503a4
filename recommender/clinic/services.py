"""Writes for the clinic: patients, assessments, treatment plans and their changes, lab profiles."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from recommender.clinic.selectors import thresholds_for
from recommender.guideline import (
    InvalidAssessment,
    Recommendation,
    decide,
    parse_assessment,
    schedule,
)
from recommender.guideline.plan_options import MONTHS, individualised_interval_error, maintenance_month_choices
from recommender.guideline.units import PG_PER_ML, TOTAL_B12_UNITS, convert
from recommender.identifiers import nhs_number_normalise
from recommender.injections.services import patient_visit_refresh, plan_reschedule
from recommender.models import (
    CHANGE_REASON_MAX_LENGTH,
    Assessment,
    DoseRecord,
    LabProfile,
    Location,
    Patient,
    TreatmentPlan,
)
from recommender.records import check_length, locked_active_plan, reason_error, save_record


@transaction.atomic
def patient_create(
    *,
    hospital_number: str,
    family_name: str,
    given_name: str,
    date_of_birth: date,
    nhs_number: str | None = "",
    usual_location: Location | None = None,
    by,
) -> Patient:
    patient = Patient(
        hospital_number=hospital_number.strip().upper(),
        family_name=family_name.strip(),
        given_name=given_name.strip(),
        date_of_birth=date_of_birth,
        nhs_number=nhs_number_normalise(nhs_number or "") or None,
        usual_location=usual_location,
        created_by=by,
    )
    save_record(patient, by=by)
    return patient


@transaction.atomic
def patient_update(
    *,
    patient: Patient,
    hospital_number: str,
    family_name: str,
    given_name: str,
    date_of_birth: date,
    nhs_number: str | None = "",
    usual_location: Location | None = None,
    reason: str,
    by,
) -> Patient:
    """Correct a patient's demographics (or their usual clinic). The reason is kept in the patient's history with
    who made the change."""
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    changes = {
        "hospital_number": hospital_number.strip().upper(),
        "family_name": family_name.strip(),
        "given_name": given_name.strip(),
        "date_of_birth": date_of_birth,
        "nhs_number": nhs_number_normalise(nhs_number or "") or None,
        "usual_location": usual_location,
    }
    errors: dict[str, str] = {}
    reason = reason.strip()
    if not reason:
        errors["reason"] = "Give the reason for the correction."
    elif len(reason) > CHANGE_REASON_MAX_LENGTH:
        errors["reason"] = f"Keep the reason to {CHANGE_REASON_MAX_LENGTH} characters (it has {len(reason)})."
    first_sample = patient.assessments.order_by("sample_date").values_list("sample_date", flat=True).first()
    if first_sample is not None and date_of_birth > first_sample:
        errors["date_of_birth"] = (
            f"The date of birth is after the blood sample of {first_sample:%d %b %Y}: check both dates."
        )
    if not errors and all(getattr(patient, name) == value for name, value in changes.items()):
        raise ValidationError("Nothing was changed.")
    if errors:
        raise ValidationError(errors)
    for name, value in changes.items():
        setattr(patient, name, value)
    save_record(patient, by=by, reason=reason)
    return patient


def _json_ready(value):
    """Decimals as JSON numbers (exact for what a form or an API accepts: at most 12 significant digits)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    return value


@transaction.atomic
def assessment_create(
    *,
    patient: Patient,
    sample_date: date,
    payload: dict,
    lab_profile: LabProfile | None = None,
    recommendation: Recommendation | None = None,
    by,
) -> Assessment:
    """Decide on the entered results and store inputs, decision, ruleset and thresholds together.

    A caller that has already decided (the form) passes its recommendation; it must be the decision on this payload
    with this lab's thresholds, else it is decided again here.
    """
    if sample_date > timezone.localdate():
        raise ValidationError({"sample_date": "The sample date cannot be in the future."})
    if sample_date < patient.date_of_birth:
        raise ValidationError({"sample_date": "The sample date is before the patient's date of birth."})
    try:
        parsed = parse_assessment(payload)
    except InvalidAssessment as invalid:
        raise ValidationError(invalid.errors) from None
    thresholds = thresholds_for(lab_profile)
    if recommendation is None or recommendation.assessment != parsed or recommendation.thresholds != thresholds:
        recommendation = decide(parsed, thresholds=thresholds)
    decision = recommendation.as_dict()
    assessment = Assessment(
        patient=patient,
        sample_date=sample_date,
        lab_profile=lab_profile,
        inputs=_json_ready(payload),
        decision=decision,
        ruleset_id=recommendation.ruleset.id,
        ruleset_version=recommendation.ruleset.version,
        thresholds=decision["thresholds"],
        status=recommendation.status,
        im_recommended=recommendation.im_recommended,
        b12_pg_per_ml=(
            convert(parsed.b12.value, parsed.b12.unit, PG_PER_ML, TOTAL_B12_UNITS).quantize(Decimal("0.0001"))
            if parsed.b12
            else None
        ),
        active_b12_pmol_per_l=parsed.active_b12.value if parsed.active_b12 else None,
        homocysteine_umol_per_l=parsed.homocysteine.value if parsed.homocysteine else None,
        created_by=by,
    )
    save_record(assessment, by=by)
    patient_visit_refresh(patient_id=patient.pk)
    return assessment


@transaction.atomic
def plan_create(
    *,
    assessment: Assessment,
    start_date: date,
    maintenance_every: int,
    maintenance_unit: str = MONTHS,
    individualised: bool = False,
    individualised_reason: str = "",
    pending_mma_reason: str = "",
    confirm_supersede: bool = False,
    doses_on_closed_days: bool | None = None,
    by,
) -> TreatmentPlan:
    """A plan within what the assessment's decision allows. An active plan of the patient is superseded only when
    the caller confirms it (the clinician was told which plan the new one replaces).

    With neurological signs and an indeterminate result, the decision's treatment pending MMA may start now, with a
    reason: the plan is marked as started pending MMA. ``doses_on_closed_days``: the plan's own choice; by default
    the clinic's (B12_DOSES_ON_CLOSED_DAYS)."""
    offer = assessment.decided.offer()
    if offer is None:
        raise ValidationError("This assessment does not recommend injections: there is no plan to create.")
    if offer.pending_mma and not pending_mma_reason.strip():
        raise ValidationError({"pending_mma_reason": "Give the reason for starting treatment before the MMA result."})
    if individualised:
        errors = individualised_interval_error(
            maintenance_every, maintenance_unit, individualised_reason, offer.max_months
        )
        if errors:
            raise ValidationError(errors)
    else:
        allowed = maintenance_month_choices(offer.min_months, offer.max_months)
        if maintenance_unit != MONTHS or maintenance_every not in allowed:
            raise ValidationError(
                {"maintenance_choice": f"The guideline allows every {' or '.join(map(str, allowed))} months here."}
            )
    _check_start_date(start_date)
    too_long: dict[str, str] = {}
    check_length(too_long, "individualised_reason", individualised_reason.strip())
    check_length(too_long, "pending_mma_reason", pending_mma_reason.strip())
    if too_long:
        raise ValidationError(too_long)
    patient = Patient.objects.select_for_update().get(pk=assessment.patient_id)
    previous = list(patient.plans.filter(status=TreatmentPlan.Status.ACTIVE))
    if previous and not confirm_supersede:
        raise ValidationError(
            {
                "confirm_supersede": "This patient has an active plan (started "
                f"{previous[0].start_date:%d/%m/%Y}): confirm that the new plan replaces it."
            }
        )
    for old in previous:
        old.status = TreatmentPlan.Status.SUPERSEDED
        old.ended_on = start_date
        old.end_reason = "Superseded by a new assessment."
        save_record(old, by=by)
    plan = TreatmentPlan(
        patient=patient,
        assessment=assessment,
        indications=list(offer.indications),
        loading_pattern=offer.loading_pattern,
        loading_doses=offer.loading_doses,
        maintenance_every=maintenance_every,
        maintenance_unit=maintenance_unit,
        individualised=individualised,
        individualised_reason=individualised_reason.strip(),
        lifelong=offer.lifelong,
        pending_mma=offer.pending_mma,
        pending_mma_reason=pending_mma_reason.strip() if offer.pending_mma else "",
        start_date=start_date,
        doses_on_closed_days=settings.B12_DOSES_ON_CLOSED_DAYS
        if doses_on_closed_days is None
        else doses_on_closed_days,
        first_review_months=offer.first_review_months,
        created_by=by,
    )
    plan_reschedule(plan)
    save_record(plan, by=by)
    for old in previous:
        old.superseded_by = plan
        plan_reschedule(old)
        save_record(old, by=by)
    return plan


def _check_start_date(start_date: date) -> None:
    """A plan starts within the clinic's window around today: a date further out is a typing error (1900, 2062)."""
    window = timedelta(days=settings.B12_PLAN_START_WINDOW_DAYS)
    today = timezone.localdate()
    if not today - window <= start_date <= today + window:
        raise ValidationError(
            {
                "start_date": f"The first injection must be within {window.days} days of today: "
                f"between {today - window:%d %b %Y} and {today + window:%d %b %Y}."
            }
        )


@transaction.atomic
def plan_end(*, plan: TreatmentPlan, reason: str, on: date | None = None, by) -> TreatmentPlan:
    """No further doses or visits: the plan ends, with the reason and the date."""
    plan = TreatmentPlan.objects.select_for_update().get(pk=plan.pk)
    if plan.status != TreatmentPlan.Status.ACTIVE:
        raise ValidationError("Only an active plan can be ended.")
    on = on or timezone.localdate()
    errors = {}
    if message := reason_error(reason, "Give the reason the plan ends."):
        errors["reason"] = message
    if on > timezone.localdate():
        errors["on"] = "The end date cannot be in the future."
    elif on < plan.start_date:
        errors["on"] = f"The end date cannot be before the plan started ({plan.start_date:%d %b %Y})."
    if errors:
        raise ValidationError(errors)
    plan.status = TreatmentPlan.Status.ENDED
    plan.ended_on = on
    plan.end_reason = reason.strip()
    plan_reschedule(plan)
    save_record(plan, by=by, reason="plan ended")
    return plan


@transaction.atomic
def assessment_record(
    *,
    patient: Patient,
    sample_date: date,
    payload: dict,
    lab_profile: LabProfile | None = None,
    plan_options: dict | None = None,
    recommendation: Recommendation | None = None,
    confirm_supersede: bool = False,
    by,
) -> tuple[Assessment, TreatmentPlan | None]:
    """The assessment and, when asked, its plan: both saved, or neither."""
    assessment = assessment_create(
        patient=patient,
        sample_date=sample_date,
        payload=payload,
        lab_profile=lab_profile,
        recommendation=recommendation,
        by=by,
    )
    plan = None
    if plan_options is not None:
        options = {"confirm_supersede": confirm_supersede, **plan_options}
        plan = plan_create(assessment=assessment, **options, by=by)
    return assessment, plan


@transaction.atomic
def plan_end_loading(*, plan: TreatmentPlan, on: date, by) -> TreatmentPlan:
    """A clinician records no further improvement: the open-ended loading course ends; maintenance follows."""
    plan = locked_active_plan(plan)
    if plan.loading_pattern != schedule.ALTERNATE_DAYS:
        raise ValidationError("Only alternate-day (neurological) loading is ended by a clinician.")
    if plan.loading_ended_on is not None:
        raise ValidationError("The loading course has already ended.")
    if on > timezone.localdate() or on < plan.start_date:
        raise ValidationError({"on": "The date must be between the plan's start and today."})
    plan.loading_ended_on = on
    plan_reschedule(plan)
    save_record(plan, by=by, reason="loading ended: no further improvement")
    return plan


def _stable_earliest(plan: TreatmentPlan) -> tuple[date, str]:
    """The earliest date a patient can be recorded stable: once the loading course is over. Refused while it runs."""
    if plan.loading_pattern == schedule.ALTERNATE_DAYS:
        if plan.loading_ended_on is None:
            raise ValidationError(
                {
                    "on": "Alternate-day loading is still running: a patient is recorded stable only after a "
                    "clinician has ended loading (no further improvement)."
                }
            )
        return plan.loading_ended_on, "the day loading ended"
    if plan.loading_pattern:
        if plan.next_phase == DoseRecord.Phase.LOADING:
            raise ValidationError(
                {
                    "on": f"The loading course is not complete (loading dose {plan.next_number} is next): "
                    "a patient is recorded stable only after it."
                }
            )
        last_given = (
            plan.doses.filter(phase=DoseRecord.Phase.LOADING, outcome=DoseRecord.Outcome.GIVEN, entered_in_error=False)
            .order_by("-given_at")
            .values_list("given_at", flat=True)
            .first()
        )
        if last_given is not None:
            return timezone.localdate(last_given), "the day the last loading dose was given"
    return plan.start_date, "the day the plan started"


@transaction.atomic
def plan_mark_stable(*, plan: TreatmentPlan, on: date, reason: str, by) -> TreatmentPlan:
    """From the stable date, monitoring is yearly instead of every 3 months. Only after loading, never ahead."""
    plan = locked_active_plan(plan)
    if plan.stable_on is not None:
        raise ValidationError("The patient is already recorded as stable.")
    errors = {}
    if message := reason_error(reason, "Give the reason the patient is judged stable."):
        errors["reason"] = message
    if on > timezone.localdate():
        errors["on"] = "The stable date cannot be in the future."
    else:
        try:
            earliest, why = _stable_earliest(plan)
        except ValidationError as refused:
            errors |= {field: messages[0] for field, messages in refused.message_dict.items()}
        else:
            if on < earliest:
                errors["on"] = f"The stable date cannot be before {earliest:%d %b %Y}, {why}."
    if errors:
        raise ValidationError(errors)
    plan.stable_on = on
    plan.stable_reason = reason.strip()
    plan_reschedule(plan)  # monitoring becomes yearly: the next visit moves
    save_record(plan, by=by, reason="patient stable")
    return plan


@transaction.atomic
def plan_change_interval(*, plan: TreatmentPlan, every: int, unit: str, reason: str, by) -> TreatmentPlan:
    """A new maintenance interval, with a reason: within the guideline's range, or individualised."""
    plan = locked_active_plan(plan)
    if not reason.strip():
        raise ValidationError({"reason": "Give the reason for the change."})
    errors: dict[str, str] = {}
    check_length(errors, "reason", reason.strip())
    if errors:
        raise ValidationError(errors)
    # A plan started pending MMA follows the maintenance of its treatment pending MMA.
    offer = plan.assessment.decided.offer()
    if offer is None:
        raise ValidationError("This plan's decision gives no maintenance interval to change.")
    allowed = maintenance_month_choices(offer.min_months, offer.max_months)
    individualised = not (unit == MONTHS and every in allowed)
    if individualised:
        errors = individualised_interval_error(every, unit, reason, offer.max_months)
        if errors:
            raise ValidationError(errors)
    plan.maintenance_every, plan.maintenance_unit = every, unit
    plan.individualised = individualised
    plan.individualised_reason = reason.strip() if individualised else ""
    plan_reschedule(plan)
    save_record(plan, by=by, reason=f"interval changed: {reason.strip()}")
    return plan


@transaction.atomic
def lab_profile_make_default(*, profile: LabProfile, by) -> LabProfile:
    """One default profile at a time: the previous default is unset in the same transaction."""
    for other in LabProfile.objects.select_for_update().filter(is_default=True).exclude(pk=profile.pk):
        other.is_default = False
        save_record(other, by=by, reason="default moved")
    profile.is_default = True
    save_record(profile, by=by, reason="made default")
    return profile
