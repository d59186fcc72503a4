"""Writes. Keyword-only, one transaction each, validated before saving."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from .guideline import DEFAULT_RULESET, InvalidAssessment, Recommendation, decide, parse_assessment, schedule
from .guideline.plan_options import MONTHS, individualised_interval_error, maintenance_month_choices
from .guideline.units import PG_PER_ML, TOTAL_B12_UNITS, convert
from .identifiers import nhs_number_normalise
from .models import (
    CHANGE_REASON_MAX_LENGTH,
    REASON_MAX_LENGTH,
    AccessToken,
    Assessment,
    ClinicClosure,
    DoseRecord,
    LabProfile,
    Patient,
    TreatmentPlan,
)
from .ruleset_words import RULESET_WORDS
from .selectors import (
    ClinicCalendar,
    access_token_live,
    clinic_calendar,
    dose_latest_record,
    dose_neighbours,
    plan_dose_events,
    plan_facts,
    plan_first_dose_due,
    thresholds_for,
)


@transaction.atomic
def access_token_issue(*, user, purpose: str, name: str = "", expires_at=None) -> tuple[AccessToken, str]:
    """Issue a token; returns the record and the secret, which is never stored (only its SHA-256 digest) and cannot
    be shown again. A user has one live calendar address: issuing a new one revokes the old."""
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    if purpose == AccessToken.Purpose.CALENDAR:
        live = AccessToken.objects.select_for_update().filter(user=user, purpose=purpose, revoked_at__isnull=True)
        for old in live:
            old.revoked_at = timezone.now()
            old.save(update_fields=["revoked_at"])
    raw = AccessToken.new_secret()
    token = AccessToken(user=user, purpose=purpose, name=name, digest=AccessToken.digest_of(raw), expires_at=expires_at)
    token.full_clean()
    token.save()
    return token, raw


# How finely a token's last use is kept: one small write a minute per token at most, not one per request.
TOKEN_USE_RESOLUTION = timedelta(minutes=1)


def access_token_use(*, raw: str, purpose: str):
    """The user a live token stands for (or None), noting when the token was last used."""
    token = access_token_live(raw=raw, purpose=purpose)
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= TOKEN_USE_RESOLUTION:
        token.last_used_at = now
        token.save(update_fields=["last_used_at"])
    return token.user


@transaction.atomic
def access_token_revoke(*, token: AccessToken) -> AccessToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


@transaction.atomic
def patient_create(
    *, hospital_number: str, family_name: str, given_name: str, date_of_birth: date, nhs_number: str | None = "", by
) -> Patient:
    patient = Patient(
        hospital_number=hospital_number.strip().upper(),
        family_name=family_name.strip(),
        given_name=given_name.strip(),
        date_of_birth=date_of_birth,
        nhs_number=nhs_number_normalise(nhs_number or "") or None,
        created_by=by,
    )
    _save(patient, by=by)
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
    reason: str,
    by,
) -> Patient:
    """Correct a patient's demographics. The reason is kept in the patient's history with who made the change."""
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    changes = {
        "hospital_number": hospital_number.strip().upper(),
        "family_name": family_name.strip(),
        "given_name": given_name.strip(),
        "date_of_birth": date_of_birth,
        "nhs_number": nhs_number_normalise(nhs_number or "") or None,
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
    _save(patient, by=by, reason=reason)
    return patient


def _reason_error(reason: str, missing: str) -> str:
    """The message for a reason that is missing or too long, or "" for a good one."""
    if not reason.strip():
        return missing
    if len(reason.strip()) > REASON_MAX_LENGTH:
        return f"Keep the reason to {REASON_MAX_LENGTH} characters (it has {len(reason.strip())})."
    return ""


def _save(instance, *, by, reason: str = "", **kwargs) -> None:
    """Validate, then save, recording who made the change (and why) in the instance's history."""
    instance.full_clean()
    instance._history_user = by
    if reason:
        instance._change_reason = reason[:100]
    instance.save(**kwargs)


def _reschedule(plan: TreatmentPlan, *, calendar: ClinicCalendar | None = None) -> None:
    """Set the plan's next dose (and why it moved, if it did) from its facts, the clinic's calendar and the doses
    recorded; raise the calendar sequence."""
    if plan.status != TreatmentPlan.Status.ACTIVE:
        plan.next_due_on, plan.next_phase, plan.next_number, plan.next_due_note = None, "", None, ""
    else:
        due = schedule.next_dose(plan_facts(plan, calendar=calendar), plan_dose_events(plan) if plan.pk else [])
        plan.next_due_on, plan.next_phase, plan.next_number = due.due, due.phase, due.number
        plan.next_due_note = due.note[: TreatmentPlan._meta.get_field("next_due_note").max_length]
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
    doses_on_closed_days: bool | None = None,
    by,
) -> TreatmentPlan:
    """A plan within what the assessment's decision allows. An active plan of the patient is superseded only when
    the caller confirms it (the clinician was told which plan the new one replaces).

    With neurological signs and an indeterminate result, the decision's treatment pending MMA may start now, with a
    reason: the plan is marked as started pending MMA. ``doses_on_closed_days``: the plan's own choice; by default
    the clinic's (B12_DOSES_ON_CLOSED_DAYS)."""
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
            maintenance_every, maintenance_unit, individualised_reason, maintenance["every_months"]["max"]
        )
        if errors:
            raise ValidationError(errors)
    else:
        allowed = maintenance_month_choices(maintenance["every_months"]["min"], maintenance["every_months"]["max"])
        if maintenance_unit != MONTHS or maintenance_every not in allowed:
            raise ValidationError(
                {"maintenance_choice": f"The guideline allows every {' or '.join(map(str, allowed))} months here."}
            )
    _check_start_date(start_date)
    too_long: dict[str, str] = {}
    _too_long(too_long, "individualised_reason", individualised_reason.strip())
    _too_long(too_long, "pending_mma_reason", pending_mma_reason.strip())
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
        doses_on_closed_days=settings.B12_DOSES_ON_CLOSED_DAYS
        if doses_on_closed_days is None
        else doses_on_closed_days,
        first_review_months=(decision.get("monitoring") or (pending or {}).get("monitoring") or {}).get(
            "first_review_months"
        ),
        created_by=by,
    )
    _reschedule(plan)
    _save(plan, by=by)
    for old in previous:
        old.superseded_by = plan
        _reschedule(old)
        _save(old, by=by)
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
    if message := _reason_error(reason, "Give the reason the plan ends."):
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


DOSE_NOT_DUE = "The plan has changed since this form was opened: nothing was saved; check the dose now due."


class DoseNotDue(ValidationError):
    """The dose a form was opened for is no longer the plan's due dose: it was recorded since, or the plan changed
    (a Back button, a second tab, a double click). Nothing is saved; the caller goes back to the worklist."""


class DoseAlreadyRecorded(DoseNotDue):
    """The dose was recorded since the form was opened; ``record`` is that record (who, when, what)."""

    def __init__(self, record: DoseRecord):
        self.record = record
        recorded = timezone.localtime(record.recorded_at)
        super().__init__(
            f"This dose was already recorded by {_person(record.recorded_by)} at {recorded:%H:%M}, "
            f"{recorded.day} {recorded:%b %Y}."
        )


def _person(user) -> str:
    return user.get_full_name() or user.get_username()


def _too_long(errors: dict, field: str, value: str, limit: int = REASON_MAX_LENGTH) -> None:
    if len(value) > limit:
        errors[field] = f"At most {limit} characters, please (this has {len(value)})."


def _given_details_errors(
    *, plan: TreatmentPlan, given_at, dose_mg, route: str, site: str, batch: str, expiry: date | None
) -> dict[str, str]:
    """What is wrong with the details of a dose given: when, how much, how, where, which batch."""
    errors: dict[str, str] = {}
    if given_at is None:
        errors["given_at"] = "Enter when the dose was given."
    elif given_at > timezone.now():
        errors["given_at"] = "The time given cannot be in the future."
    elif timezone.localdate(given_at) < plan.start_date:
        errors["given_at"] = "The time given is before the plan started."
    if dose_mg != Decimal(DEFAULT_RULESET.dose_mg):
        errors["dose_mg"] = f"This plan is for {DEFAULT_RULESET.dose_mg} mg; a different dose needs a new plan."
    if route != DEFAULT_RULESET.route:
        errors["route"] = f"This plan is for {RULESET_WORDS.route} injection ({DEFAULT_RULESET.route})."
    if not site:
        errors["site"] = "Choose the injection site."
    batch_limit = DoseRecord._meta.get_field("batch").max_length
    if not batch.strip():
        errors["batch"] = "Enter the batch number."
    else:
        _too_long(errors, "batch", batch.strip(), batch_limit)
    if expiry is None:
        errors["expiry"] = "Enter the batch expiry date."
    elif given_at is not None and expiry < timezone.localdate(given_at):
        errors["expiry"] = f"This batch expired on {expiry:%d %b %Y}: do not use it."
    return errors


def _given_same_day(plan: TreatmentPlan, day: date, *, other_than: DoseRecord | None = None) -> DoseRecord | None:
    """The live given dose of the plan on ``day``, if there is one (besides ``other_than``)."""
    same_day = plan.doses.filter(outcome=DoseRecord.Outcome.GIVEN, entered_in_error=False, given_on=day)
    if other_than is not None:
        same_day = same_day.exclude(pk=other_than.pk)
    return same_day.select_related("recorded_by").first()


def _same_day_message(existing: DoseRecord) -> str:
    given = timezone.localtime(existing.given_at)
    return (
        f"{existing.get_phase_display()} dose {existing.number} of this plan was given on {given.day} "
        f"{given:%b %Y} at {given:%H:%M} (recorded by {_person(existing.recorded_by)}): "
        "two doses are never given on one day."
    )


def _refuse_if_not_due(plan: TreatmentPlan, phase: str, number: int, sequence: int | None) -> None:
    """Refuse a form for a dose other than the one due now, or one opened before the plan last changed."""
    if (phase, number) == (plan.next_phase, plan.next_number) and sequence in (None, plan.calendar_sequence):
        return
    recorded = dose_latest_record(plan=plan, phase=phase, number=number)
    if recorded is not None:
        raise DoseAlreadyRecorded(recorded)
    raise DoseNotDue(DOSE_NOT_DUE)


@transaction.atomic
def dose_record(
    *,
    plan: TreatmentPlan,
    phase: str,
    number: int,
    outcome: str,
    sequence: int | None = None,
    given_at=None,
    dose_mg: Decimal | None = None,
    route: str = "",
    site: str = "",
    batch: str = "",
    expiry: date | None = None,
    reason: str = "",
    early_reason: str = "",
    allergy_checked: bool = False,
    baseline_sample_taken: bool = False,
    by,
) -> DoseRecord:
    """Record the plan's due dose as given or not given, then schedule the next one.

    A dose is recorded once: the plan row is locked; the form names the dose (phase, number) and the plan's
    calendar sequence when it was opened, so a stale form (Back, a second tab) raises DoseAlreadyRecorded or
    DoseNotDue; and the database refuses a second live record of the dose or two given doses on one day."""
    plan = _locked_active_plan(plan)
    _refuse_if_not_due(plan, phase, number, sequence)
    errors: dict[str, str] = {}
    given_on = None
    if outcome == DoseRecord.Outcome.GIVEN:
        errors |= _given_details_errors(
            plan=plan, given_at=given_at, dose_mg=dose_mg, route=route, site=site, batch=batch, expiry=expiry
        )
        if "given_at" not in errors:
            given_on = timezone.localdate(given_at)
            existing = _given_same_day(plan, given_on)
            if existing is not None:
                errors["given_at"] = _same_day_message(existing)
            elif not (plan.next_due_on and given_on < plan.next_due_on):
                early_reason = ""  # kept only for a dose given before its due date
            elif not early_reason.strip():
                errors["early_reason"] = (
                    f"This dose is due on {plan.next_due_on.day} {plan.next_due_on:%b %Y}: "
                    "give the reason it is given early."
                )
        _too_long(errors, "early_reason", early_reason.strip())
        if plan_first_dose_due(plan=plan):
            if not allergy_checked:
                errors["allergy_checked"] = "Before the first dose, ask about cobalt allergy or hypersensitivity."
            if not baseline_sample_taken:
                errors["baseline_sample_taken"] = "Before the first dose, take the baseline blood sample."
        reason = ""
    else:
        if outcome not in DoseRecord.Outcome.values:
            errors["outcome"] = "Choose given, missed, declined or held."
        if not reason.strip():
            errors["reason"] = "Give the reason the dose was not given."
        _too_long(errors, "reason", reason.strip())
        given_at, dose_mg, route, site, batch, expiry, early_reason = None, None, "", "", "", None, ""
        allergy_checked = baseline_sample_taken = False
    if errors:
        raise ValidationError(errors)
    record = DoseRecord(
        plan=plan,
        phase=phase,
        number=number,
        due_date=plan.next_due_on,
        outcome=outcome,
        given_at=given_at,
        given_on=given_on,
        dose_mg=dose_mg,
        route=route,
        site=site,
        batch=batch.strip(),
        expiry=expiry,
        reason=reason.strip(),
        early_reason=early_reason.strip(),
        allergy_checked=allergy_checked,
        baseline_sample_taken=baseline_sample_taken,
        recorded_by=by,
    )
    _save_dose(record, plan=plan, by=by)
    _reschedule(plan)
    _save(plan, by=by, reason=f"{phase} dose {number} {outcome}")
    return record


def _save_dose(
    record: DoseRecord, *, plan: TreatmentPlan, by, reason: str = "", replacing: DoseRecord | None = None
) -> None:
    """Save a new live record; the database's refusal (a record made in the meantime) becomes the same clear
    message the checks give, and nothing of this record is left saved."""
    try:
        with transaction.atomic():
            _save(record, by=by, reason=reason)
    except IntegrityError:
        if record.given_on is not None:
            existing = _given_same_day(plan, record.given_on, other_than=replacing)
            if existing is not None:
                raise ValidationError({"given_at": _same_day_message(existing)}) from None
        recorded = dose_latest_record(plan=plan, phase=record.phase, number=record.number)
        if recorded is not None:
            raise DoseAlreadyRecorded(recorded) from None
        raise


@transaction.atomic
def dose_mark_entered_in_error(*, dose: DoseRecord, reason: str, by) -> DoseRecord:
    """A record of a dose that was never given (or not as recorded: wrong patient, wrong outcome): it stays,
    marked entered in error with its reason, and the dose falls due again. A dose that was given with wrong
    details is corrected with dose_correct instead."""
    plan = _locked_active_plan(dose.plan)
    dose = DoseRecord.objects.select_for_update().get(pk=dose.pk)
    if dose.entered_in_error:
        raise ValidationError("This record is already marked entered in error.")
    errors: dict[str, str] = {}
    if not reason.strip():
        errors["reason"] = "Give the reason the record is wrong."
    _too_long(errors, "reason", reason.strip())
    if errors:
        raise ValidationError(errors)
    latest = dose_latest_record(plan=plan)
    if latest is None or latest.pk != dose.pk:
        raise ValidationError("Only the most recent record can be marked entered in error; correct later ones first.")
    dose.entered_in_error = True
    dose.error_reason = reason.strip()
    _save(dose, by=by, reason="entered in error")
    _reschedule(plan)
    _save(plan, by=by, reason="dose entered in error")
    return dose


@transaction.atomic
def dose_correct(
    *,
    dose: DoseRecord,
    reason: str,
    given_at,
    dose_mg: Decimal | None,
    route: str,
    site: str,
    batch: str,
    expiry: date | None,
    early_reason: str = "",
    by,
) -> DoseRecord:
    """A dose that was given, recorded with wrong details (time, site, batch, expiry): a new record of the same
    dose stands with the corrected details; the old one is kept, marked entered in error with the reason and a
    link to its replacement. The dose is not offered again; the next dose moves only if the time given did."""
    plan = _locked_active_plan(dose.plan)
    old = DoseRecord.objects.select_for_update().get(pk=dose.pk)
    if old.entered_in_error:
        raise ValidationError("This record is already marked entered in error.")
    if old.outcome != DoseRecord.Outcome.GIVEN:
        raise ValidationError(
            "Only a dose that was given has details to correct; mark this record entered in error instead."
        )
    errors = _given_details_errors(
        plan=plan, given_at=given_at, dose_mg=dose_mg, route=route, site=site, batch=batch, expiry=expiry
    )
    if not reason.strip():
        errors["reason"] = "Give the reason the record is wrong."
    _too_long(errors, "reason", reason.strip())
    early_reason = early_reason.strip() or old.early_reason
    _too_long(errors, "early_reason", early_reason)
    given_on = None
    if "given_at" not in errors:
        given_on = timezone.localdate(given_at)
        errors |= _correction_date_errors(plan, old, given_on)
        if "given_at" not in errors and given_on < old.due_date and not early_reason:
            errors["early_reason"] = (
                f"This dose was due on {old.due_date.day} {old.due_date:%b %Y}: give the reason it was given early."
            )
    if errors:
        raise ValidationError(errors)
    old.entered_in_error = True
    old.error_reason = reason.strip()
    _save(old, by=by, reason="entered in error: details corrected")
    new = DoseRecord(
        plan=plan,
        phase=old.phase,
        number=old.number,
        due_date=old.due_date,
        outcome=DoseRecord.Outcome.GIVEN,
        given_at=given_at,
        given_on=given_on,
        dose_mg=dose_mg,
        route=route,
        site=site,
        batch=batch.strip(),
        expiry=expiry,
        early_reason=early_reason if given_on < old.due_date else "",
        allergy_checked=old.allergy_checked,
        baseline_sample_taken=old.baseline_sample_taken,
        recorded_by=by,
    )
    _save_dose(new, plan=plan, by=by, reason="corrected details", replacing=old)
    old.replaced_by = new
    _save(old, by=by, reason="replaced by the corrected record")
    _reschedule(plan)
    _save(plan, by=by, reason=f"{old.phase} dose {old.number} details corrected")
    return new


def _correction_date_errors(plan: TreatmentPlan, old: DoseRecord, given_on: date) -> dict[str, str]:
    """A corrected time keeps the dose in its place in the course and off a day another dose was given."""
    existing = _given_same_day(plan, given_on, other_than=old)
    if existing is not None:
        return {"given_at": _same_day_message(existing)}
    before, after = dose_neighbours(record=old)
    if before is not None and given_on < before:
        return {"given_at": f"The dose before this one is dated {before.day} {before:%b %Y}: not earlier than that."}
    if after is not None and given_on > after:
        return {"given_at": f"The dose after this one is dated {after.day} {after:%b %Y}: not later than that."}
    return {}


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
    plan = _locked_active_plan(plan)
    if plan.stable_on is not None:
        raise ValidationError("The patient is already recorded as stable.")
    errors = {}
    if message := _reason_error(reason, "Give the reason the patient is judged stable."):
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
    plan.calendar_sequence += 1
    _save(plan, by=by, reason="patient stable")
    return plan


@transaction.atomic
def plan_change_interval(*, plan: TreatmentPlan, every: int, unit: str, reason: str, by) -> TreatmentPlan:
    """A new maintenance interval, with a reason: within the guideline's range, or individualised."""
    plan = _locked_active_plan(plan)
    if not reason.strip():
        raise ValidationError({"reason": "Give the reason for the change."})
    errors: dict[str, str] = {}
    _too_long(errors, "reason", reason.strip())
    if errors:
        raise ValidationError(errors)
    decision = plan.assessment.decision
    # A plan started pending MMA follows the maintenance of its treatment pending MMA.
    maintenance = decision.get("maintenance") or (decision.get("treatment_pending_mma") or {}).get("maintenance")
    if maintenance is None:
        raise ValidationError("This plan's decision gives no maintenance interval to change.")
    allowed = maintenance_month_choices(maintenance["every_months"]["min"], maintenance["every_months"]["max"])
    individualised = not (unit == MONTHS and every in allowed)
    if individualised:
        errors = individualised_interval_error(every, unit, reason, maintenance["every_months"]["max"])
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


# A closure moves a due date at most across the run of closed days it belongs to: plans due this long after a
# changed closure are looked at again (a longer run of closures is a clinic shut, not a calendar).
CLOSURE_RESCHEDULE_DAYS = 60


def _reschedule_around(day: date, *, by) -> int:
    """Re-derive the next due date of the active plans a closure on ``day`` can move; returns how many moved."""
    # Every plan's calendar may show the day (visits up to two years ahead): its SEQUENCE also counts the closure
    # changes (see calendars.plan_calendar), so no bulk write is needed here.
    calendar = clinic_calendar()
    moved = 0
    plans = TreatmentPlan.objects.select_for_update().filter(
        status=TreatmentPlan.Status.ACTIVE,
        next_due_on__gte=day,
        next_due_on__lte=day + timedelta(days=CLOSURE_RESCHEDULE_DAYS),
    )
    for plan in plans:
        before = (plan.next_due_on, plan.next_phase, plan.next_number, plan.next_due_note)
        _reschedule(plan, calendar=calendar)
        if (plan.next_due_on, plan.next_phase, plan.next_number, plan.next_due_note) != before:
            _save(plan, by=by, reason=f"clinic closure changed on {day:%d %b %Y}")
            moved += 1
    return moved


@transaction.atomic
def clinic_closure_save(*, closure: ClinicClosure, by, previous_date: date | None = None) -> ClinicClosure:
    """Add or change a closure; the plans due around it move off it (and back, when a closure moves away)."""
    closure.reason = closure.reason.strip()
    _save(closure, by=by)
    _reschedule_around(closure.date, by=by)
    if previous_date is not None and previous_date != closure.date:
        _reschedule_around(previous_date, by=by)
    return closure


@transaction.atomic
def clinic_closure_remove(*, closure: ClinicClosure, by) -> None:
    """Remove a closure (its history stays); the plans it had moved fall back on the day if it is open."""
    day = closure.date
    closure._history_user = by
    closure.delete()  # an instance delete: simple-history keeps the row with who removed it
    _reschedule_around(day, by=by)
