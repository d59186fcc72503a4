"""Writes. Keyword-only, one transaction each, validated before saving."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .guideline import DEFAULT_RULESET, InvalidAssessment, decide, parse_assessment
from .guideline.plan_options import MONTHS, individualised_interval_error, maintenance_month_choices
from .guideline.units import PG_PER_ML, TOTAL_B12_UNITS, convert
from .models import AccessToken, Assessment, LabProfile, Patient, TreatmentPlan
from .selectors import thresholds_for


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


def _save(instance, *, by, **kwargs) -> None:
    """Validate, then save, recording who made the change in the instance's history."""
    instance.full_clean()
    instance._history_user = by
    instance.save(**kwargs)


def _json_ready(value):
    """Decimals as JSON numbers (exact for what a form or an API accepts: at most 12 significant digits)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    return value


@transaction.atomic
def assessment_create(
    *, patient: Patient, sample_date: date, payload: dict, lab_profile: LabProfile | None = None, by
) -> Assessment:
    """Decide on the entered results and store inputs, decision, ruleset and thresholds together."""
    if sample_date > timezone.localdate():
        raise ValidationError({"sample_date": "The sample date cannot be in the future."})
    try:
        parsed = parse_assessment(payload)
    except InvalidAssessment as invalid:
        raise ValidationError(invalid.errors) from None
    recommendation = decide(parsed, thresholds=thresholds_for(lab_profile))
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
    by,
) -> TreatmentPlan:
    """A plan within what the assessment's decision allows; any active plan of the patient is superseded."""
    decision = assessment.decision
    maintenance = decision.get("maintenance")
    if not decision.get("im_recommended") or maintenance is None:
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
    for old in previous:
        old.status = TreatmentPlan.Status.SUPERSEDED
        old.ended_on = start_date
        old.end_reason = "Superseded by a new assessment."
        _save(old, by=by)
    loading = decision.get("loading")
    plan = TreatmentPlan(
        patient=patient,
        assessment=assessment,
        indications=decision["indications"],
        loading_pattern=loading["pattern"] if loading else "",
        loading_doses=loading.get("doses") if loading else None,
        maintenance_every=maintenance_every,
        maintenance_unit=maintenance_unit,
        individualised=individualised,
        individualised_reason=individualised_reason.strip(),
        lifelong=maintenance["lifelong"],
        start_date=start_date,
        created_by=by,
    )
    _save(plan, by=by)
    for old in previous:
        old.superseded_by = plan
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
    _save(plan, by=by)
    return plan


@transaction.atomic
def assessment_record(
    *,
    patient: Patient,
    sample_date: date,
    payload: dict,
    lab_profile: LabProfile | None = None,
    plan_options: dict | None = None,
    by,
) -> tuple[Assessment, TreatmentPlan | None]:
    """The assessment and, when asked, its plan: both saved, or neither."""
    assessment = assessment_create(
        patient=patient, sample_date=sample_date, payload=payload, lab_profile=lab_profile, by=by
    )
    plan = plan_create(assessment=assessment, **plan_options, by=by) if plan_options is not None else None
    return assessment, plan
