"""Reads: querysets and read-only mappings. Views call these; they never write."""

from __future__ import annotations

from django.db.models import Max, Q, QuerySet

from .guideline import DEFAULT_RULESET, Thresholds
from .models import AccessToken, Assessment, LabProfile, Patient, TreatmentPlan


def access_token_user(*, raw: str, purpose: str):
    """The active user a token stands for, or None."""
    if not raw:
        return None
    token = (
        AccessToken.objects.select_related("user")
        .filter(digest=AccessToken.digest_of(raw), purpose=purpose, revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    return token.user


def thresholds_for(profile: LabProfile | None) -> Thresholds:
    """The engine's thresholds for a lab profile (the seed ruleset's own when there is none)."""
    base = DEFAULT_RULESET.thresholds
    if profile is None:
        return base
    return base.with_values(
        profile=profile.name,
        total_deficient_below=profile.total_b12_deficient_below,
        total_not_deficient_above=profile.total_b12_not_deficient_above,
        active_deficient_below=profile.active_b12_deficient_below,
        active_not_deficient_above=profile.active_b12_not_deficient_above,
        mma_upper_limit_umol_l=profile.mma_upper_limit_umol_l,
    )


def patient_search(*, query: str, limit: int = 50) -> QuerySet[Patient]:
    """Patients whose hospital number starts with, or whose name contains, the query."""
    query = query.strip()
    if not query:
        return Patient.objects.none()
    words = query.split()
    name_match = Q()
    for word in words:
        name_match &= Q(family_name__icontains=word) | Q(given_name__icontains=word)
    return Patient.objects.filter(Q(hospital_number__istartswith=query) | name_match)[:limit]


def patients_recent_for(*, user, limit: int = 10) -> QuerySet[Patient]:
    """The patients this user assessed or registered most recently."""
    return (
        Patient.objects.filter(Q(assessments__created_by=user) | Q(created_by=user))
        .annotate(last_seen=Max("assessments__created_at"))
        .order_by("-last_seen", "-created_at")
        .distinct()[:limit]
    )


def patient_assessments(*, patient: Patient) -> QuerySet[Assessment]:
    return patient.assessments.select_related("created_by", "plan").order_by("-sample_date", "-created_at")


def patient_plans(*, patient: Patient) -> QuerySet[TreatmentPlan]:
    return patient.plans.select_related("created_by", "assessment").order_by("-created_at")


def plan_detail(*, plan_id) -> TreatmentPlan:
    return TreatmentPlan.objects.select_related("patient", "assessment", "created_by", "assessment__created_by").get(
        pk=plan_id
    )


def assessment_detail(*, assessment_id) -> Assessment:
    return Assessment.objects.select_related("patient", "created_by", "lab_profile").get(pk=assessment_id)
