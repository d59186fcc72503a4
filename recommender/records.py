"""How every clinical record is written: validated, with who and why in its history, under a row lock."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from recommender.models import (
    REASON_MAX_LENGTH,
    TreatmentPlan,
)


def reason_error(reason: str, missing: str) -> str:
    """The message for a reason that is missing or too long, or "" for a good one."""
    if not reason.strip():
        return missing
    if len(reason.strip()) > REASON_MAX_LENGTH:
        return f"Keep the reason to {REASON_MAX_LENGTH} characters (it has {len(reason.strip())})."
    return ""


def save_record(instance, *, by, reason: str = "", **kwargs) -> None:
    """Validate, then save, recording who made the change (and why) in the instance's history."""
    instance.full_clean()
    instance._history_user = by
    if reason:
        instance._change_reason = reason[:100]
    instance.save(**kwargs)


def locked_active_plan(plan: TreatmentPlan) -> TreatmentPlan:
    locked = TreatmentPlan.objects.select_for_update().get(pk=plan.pk)
    if locked.status != TreatmentPlan.Status.ACTIVE:
        raise ValidationError("This plan is no longer active.")
    return locked


def person_name(user) -> str:
    return user.get_full_name() or user.get_username()


def check_length(errors: dict, field: str, value: str, limit: int = REASON_MAX_LENGTH) -> None:
    if len(value) > limit:
        errors[field] = f"At most {limit} characters, please (this has {len(value)})."
