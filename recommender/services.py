"""Writes. Keyword-only, one transaction each, validated before saving."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from .guideline import DEFAULT_RULESET, InvalidAssessment, Recommendation, decide, parse_assessment, schedule
from .guideline.plan_options import MONTHS, individualised_interval_error, maintenance_month_choices
from .guideline.units import PG_PER_ML, TOTAL_B12_UNITS, convert
from .models import AccessToken, Assessment, DoseRecord, LabProfile, Patient, TreatmentPlan
from .selectors import plan_dose_events, plan_facts, thresholds_for


@transaction.atomic
def access_token_issue(*, user, purpose: str, name: str = "") -> tuple[AccessToken, str]:
    """Issue a token; returns the record and the secret, which is never stored and cannot be shown again."""
    raw = AccessToken.new_secret()
    token = AccessToken(user=user, purpose=purpose, name=name, digest=AccessToken.digest_of(raw))
    token.full_clean()
    token.save()
    return token, raw


@transaction.atomic
def access_token_revoke(*, token: AccessToken) -> AccessToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


@transaction.atomic
def patient_create(*, hospital_number: str, family_name: str, given_name: str, date_of_birth: date, by) -> Patient:
    patient = Patient(
        hospital_number=hospital_number.strip().upper(),
        family_name=family_name.strip(),
        given_name=given_name.strip(),
        date_of_birth=date_of_birth,
        created_by=by,
    )
    _save(patient, by=by)
    return patient


def _save(instance, *, by, reason: str = "", **kwargs) -> None:
    """Validate, then save, recording who made the change (and why) in the instance's history."""
    instance.full_clean()
    instance._history_user = by
    if reason:
        instance._change_reason = reason[:100]
    instance.save(**kwargs)


def _reschedule(plan: TreatmentPlan) -> None:
    """Set the plan's next dose from its facts and the doses recorded; raise the calendar sequence."""
    if plan.status != TreatmentPlan.Status.ACTIVE:
        plan.next_due_on, plan.next_phase, plan.next_number = None, "", None
    else:
        due = schedule.next_dose(plan_facts(plan), plan_dose_events(plan) if plan.pk else [])
        plan.next_due_on, plan.next_phase, plan.next_number = due.due, due.phase, due.number
    plan.calendar_sequence += 1


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
    _save(assessment, by=by)
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
    by,
) -> TreatmentPlan:
    """A plan within what the assessment's decision allows. An active plan of the patient is superseded only when
    the caller confirms it (the clinician was told which plan the new one replaces).

    With neurological signs and an indeterminate result, the decision's treatment pending MMA may start now, with a
    reason: the plan is marked as started pending MMA."""
    decision = assessment.decision
    pending = None
    indications = decision["indications"]
    if decision.get("im_recommended") and decision.get("maintenance") is not None:
        loading, maintenance = decision.get("loading"), decision["maintenance"]
    elif pending := decision.get("treatment_pending_mma"):
        loading, maintenance = pending.get("loading"), pending.get("maintenance")
        # Deficiency is what is treated, pending its confirmation by the MMA result.
        indications = pending.get("indications") or indications or ["deficiency"]
        if not pending_mma_reason.strip():
            raise ValidationError(
                {"pending_mma_reason": "Give the reason for starting treatment before the MMA result."}
            )
    else:
        raise ValidationError("This assessment does not recommend injections: there is no plan to create.")
    if maintenance is None:
        raise ValidationError("This assessment does not recommend injections: there is no plan to create.")
    if individualised:
        errors = individualised_interval_error(
            maintenance_every, maintenance_unit, individualised_reason, DEFAULT_RULESET
        )
        if errors:
            raise ValidationError(errors)
    else:
        allowed = maintenance_month_choices(maintenance["every_months"]["min"], maintenance["every_months"]["max"])
        if maintenance_unit != MONTHS or maintenance_every not in allowed:
            raise ValidationError(
                {"maintenance_choice": f"The guideline allows every {' or '.join(map(str, allowed))} months here."}
            )
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
        _save(old, by=by)
    plan = TreatmentPlan(
        patient=patient,
        assessment=assessment,
        indications=indications,
        loading_pattern=loading["pattern"] if loading else "",
        loading_doses=loading.get("doses") if loading else None,
        maintenance_every=maintenance_every,
        maintenance_unit=maintenance_unit,
        individualised=individualised,
        individualised_reason=individualised_reason.strip(),
        lifelong=maintenance["lifelong"],
        pending_mma=pending is not None,
        pending_mma_reason=pending_mma_reason.strip() if pending is not None else "",
        start_date=start_date,
        created_by=by,
    )
    _reschedule(plan)
    _save(plan, by=by)
    for old in previous:
        old.superseded_by = plan
        _reschedule(old)
        _save(old, by=by)
    return plan


@transaction.atomic
def plan_end(*, plan: TreatmentPlan, reason: str, on: date | None = None, by) -> TreatmentPlan:
    if plan.status != TreatmentPlan.Status.ACTIVE:
        raise ValidationError("Only an active plan can be ended.")
    if not reason.strip():
        raise ValidationError({"reason": "Give the reason the plan ends."})
    plan.status = TreatmentPlan.Status.ENDED
    plan.ended_on = on or timezone.localdate()
    plan.end_reason = reason.strip()
    _reschedule(plan)
    _save(plan, by=by, reason="plan ended")
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


def _locked_active_plan(plan: TreatmentPlan) -> TreatmentPlan:
    locked = TreatmentPlan.objects.select_for_update().get(pk=plan.pk)
    if locked.status != TreatmentPlan.Status.ACTIVE:
        raise ValidationError("This plan is no longer active.")
    return locked


@transaction.atomic
def dose_record(
    *,
    plan: TreatmentPlan,
    phase: str,
    number: int,
    outcome: str,
    given_at=None,
    dose_mg: Decimal | None = None,
    route: str = "",
    site: str = "",
    batch: str = "",
    expiry: date | None = None,
    reason: str = "",
    by,
) -> DoseRecord:
    """Record the plan's due dose as given or not given, then schedule the next one. A dose is recorded once:
    the plan row is locked, and the database refuses a second record of the same dose."""
    plan = _locked_active_plan(plan)
    if (phase, number) != (plan.next_phase, plan.next_number):
        raise ValidationError("This dose has already been recorded; the worklist shows the next one.")
    now = timezone.now()
    errors: dict[str, str] = {}
    if outcome == DoseRecord.Outcome.GIVEN:
        if given_at is None:
            errors["given_at"] = "Enter when the dose was given."
        elif given_at > now:
            errors["given_at"] = "The time given cannot be in the future."
        elif timezone.localdate(given_at) < plan.start_date:
            errors["given_at"] = "The time given is before the plan started."
        if dose_mg != Decimal(DEFAULT_RULESET.dose_mg):
            errors["dose_mg"] = f"This plan is for {DEFAULT_RULESET.dose_mg} mg; a different dose needs a new plan."
        if route != "IM":
            errors["route"] = "This plan is for intramuscular injection (IM)."
        if not site:
            errors["site"] = "Choose the injection site."
        if not batch.strip():
            errors["batch"] = "Enter the batch number."
        if expiry is None:
            errors["expiry"] = "Enter the batch expiry date."
        elif given_at is not None and expiry < timezone.localdate(given_at):
            errors["expiry"] = f"This batch expired on {expiry:%d %b %Y}: do not use it."
        reason = ""
    else:
        if outcome not in DoseRecord.Outcome.values:
            errors["outcome"] = "Choose given, missed, declined or held."
        if not reason.strip():
            errors["reason"] = "Give the reason the dose was not given."
        given_at, dose_mg, route, site, batch, expiry = None, None, "", "", "", None
    if errors:
        raise ValidationError(errors)
    record = DoseRecord(
        plan=plan,
        phase=phase,
        number=number,
        due_date=plan.next_due_on,
        outcome=outcome,
        given_at=given_at,
        dose_mg=dose_mg,
        route=route,
        site=site,
        batch=batch.strip(),
        expiry=expiry,
        reason=reason.strip(),
        recorded_by=by,
    )
    try:
        with transaction.atomic():
            _save(record, by=by)
    except IntegrityError:
        raise ValidationError("This dose has already been recorded; the worklist shows the next one.") from None
    _reschedule(plan)
    _save(plan, by=by, reason=f"{phase} dose {number} {outcome}")
    return record


@transaction.atomic
def dose_mark_entered_in_error(*, dose: DoseRecord, reason: str, by) -> DoseRecord:
    """Correct a mistaken record: it stays, marked entered in error, and the dose falls due again."""
    plan = _locked_active_plan(dose.plan)
    dose = DoseRecord.objects.select_for_update().get(pk=dose.pk)
    if dose.entered_in_error:
        raise ValidationError("This record is already marked entered in error.")
    if not reason.strip():
        raise ValidationError({"reason": "Give the reason the record is wrong."})
    latest = plan.doses.filter(entered_in_error=False).order_by("-recorded_at").first()
    if latest is None or latest.pk != dose.pk:
        raise ValidationError("Only the most recent record can be marked entered in error; correct later ones first.")
    dose.entered_in_error = True
    dose.error_reason = reason.strip()
    _save(dose, by=by, reason="entered in error")
    _reschedule(plan)
    _save(plan, by=by, reason="dose entered in error")
    return dose


@transaction.atomic
def plan_end_loading(*, plan: TreatmentPlan, on: date, by) -> TreatmentPlan:
    """A clinician records no further improvement: the open-ended loading course ends; maintenance follows."""
    plan = _locked_active_plan(plan)
    if plan.loading_pattern != schedule.ALTERNATE_DAYS:
        raise ValidationError("Only alternate-day (neurological) loading is ended by a clinician.")
    if plan.loading_ended_on is not None:
        raise ValidationError("The loading course has already ended.")
    if on > timezone.localdate() or on < plan.start_date:
        raise ValidationError({"on": "The date must be between the plan's start and today."})
    plan.loading_ended_on = on
    _reschedule(plan)
    _save(plan, by=by, reason="loading ended: no further improvement")
    return plan


@transaction.atomic
def plan_mark_stable(*, plan: TreatmentPlan, on: date, by) -> TreatmentPlan:
    """From the stable date, monitoring is yearly instead of every 3 months."""
    plan = _locked_active_plan(plan)
    if plan.stable_on is not None:
        raise ValidationError("The patient is already recorded as stable.")
    if on > timezone.localdate() or on < plan.start_date:
        raise ValidationError({"on": "The date must be between the plan's start and today."})
    plan.stable_on = on
    plan.calendar_sequence += 1
    _save(plan, by=by, reason="patient stable")
    return plan


@transaction.atomic
def plan_change_interval(*, plan: TreatmentPlan, every: int, unit: str, reason: str, by) -> TreatmentPlan:
    """A new maintenance interval, with a reason: within the guideline's range, or individualised."""
    plan = _locked_active_plan(plan)
    if not reason.strip():
        raise ValidationError({"reason": "Give the reason for the change."})
    maintenance = plan.assessment.decision.get("maintenance") or {}
    allowed = maintenance_month_choices(maintenance["every_months"]["min"], maintenance["every_months"]["max"])
    individualised = not (unit == MONTHS and every in allowed)
    if individualised:
        errors = individualised_interval_error(every, unit, reason, DEFAULT_RULESET)
        if errors:
            raise ValidationError(errors)
    plan.maintenance_every, plan.maintenance_unit = every, unit
    plan.individualised = individualised
    plan.individualised_reason = reason.strip() if individualised else ""
    _reschedule(plan)
    _save(plan, by=by, reason=f"interval changed: {reason.strip()}")
    return plan


@transaction.atomic
def lab_profile_make_default(*, profile: LabProfile, by) -> LabProfile:
    """One default profile at a time: the previous default is unset in the same transaction."""
    for other in LabProfile.objects.select_for_update().filter(is_default=True).exclude(pk=profile.pk):
        other.is_default = False
        _save(other, by=by, reason="default moved")
    profile.is_default = True
    _save(profile, by=by, reason="made default")
    return profile
