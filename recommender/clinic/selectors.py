"""Reads for the clinic: patients, assessments, plans, lab profiles and the patient's record export."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.db.models import FilteredRelation, Q, QuerySet
from django.utils import timezone

from recommender import shared_cache, vocabulary
from recommender.guideline import DEFAULT_RULESET, Thresholds, schedule
from recommender.identifiers import NHS_NUMBER_LENGTH, nhs_number_normalise
from recommender.injections.selectors import plan_facts
from recommender.models import (
    Assessment,
    DoseRecord,
    LabProfile,
    Patient,
    ResultImport,
    TreatmentPlan,
)
from recommender.prebuilt import Prebuilt
from recommender.serializers import choice_words, record_fields


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


SEARCH_QUERY_MAX = 250


def typed_date(word: str) -> date | None:
    """A date as people type it in a search box: dd/mm/yyyy (also with - or .) or yyyy-mm-dd; None otherwise."""
    for pattern in ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(word, pattern).date()
        except ValueError:
            continue
    return None


def patient_search(*, query: str, limit: int = 50) -> QuerySet[Patient]:
    """Patients whose hospital number starts with the query, whose NHS number is the query (spaces ignored), or
    whose name contains every word of it; a word that is a date (dd/mm/yyyy or yyyy-mm-dd) is the date of birth."""
    query = query.strip()
    # PostgreSQL text cannot hold NUL, and no name or number is longer than a name and a number together: such
    # a query matches no one (and a 200,000-character one would be too complex a pattern for the database).
    if not query or "\x00" in query or len(query) > SEARCH_QUERY_MAX:
        return Patient.objects.none()
    match = Q(hospital_number__istartswith=query)
    digits = nhs_number_normalise(query)
    if len(digits) == NHS_NUMBER_LENGTH and digits.isascii() and digits.isdigit():
        match |= Q(nhs_number=digits)
    words = Q()
    for word in query.split():
        born = typed_date(word)
        words &= Q(date_of_birth=born) if born else Q(family_name__icontains=word) | Q(given_name__icontains=word)
    return Patient.objects.filter(match | words)[:limit]


def patient_detail(*, patient_id) -> Patient:
    """One patient, read afresh (a form may validate this copy while the page shows the saved one)."""
    return Patient.objects.get(pk=patient_id)


class Correction(NamedTuple):
    """A correction of a patient's details as the patient page lists it."""

    at: datetime
    by: str  # the user's full name, else their username; "unknown" if the history has no user
    reason: str


def patient_corrections(*, patient: Patient) -> list[Correction]:
    """The corrections of a patient's details, newest first: who, when and why (the history keeps the values).
    Read as three values a row: a history row carries every field of the patient, and the page shows none of them."""
    rows = _CORRECTIONS.filter(id=patient.pk)
    return [
        Correction(at, f"{first or ''} {last or ''}".strip() or username or "unknown", reason or "")
        for at, first, last, username, reason in rows
    ]


_CORRECTIONS = Prebuilt(
    lambda: (
        Patient.history.filter(history_type="~")
        .order_by("-history_date")
        .values_list(
            "history_date",
            "history_user__first_name",
            "history_user__last_name",
            "history_user__username",
            "history_change_reason",
        )
    )
)


def patient_by_identifier(*, query: str) -> Patient | None:
    """The one patient whose hospital number (any case) or NHS number (spaces ignored) is exactly the query."""
    query = query.strip()
    if not query or "\x00" in query or len(query) > SEARCH_QUERY_MAX:
        return None
    match = Q(hospital_number__iexact=query)
    digits = nhs_number_normalise(query)
    if len(digits) == NHS_NUMBER_LENGTH and digits.isascii() and digits.isdigit():
        match |= Q(nhs_number=digits)
    found = list(Patient.objects.filter(match)[:2])
    return found[0] if len(found) == 1 else None


def patients_recent_for(*, user, limit: int = 10) -> list[Patient]:
    """The patients this user assessed or registered most recently, latest first.

    Bounded whatever the length of the user's history: the user's latest assessments and latest registrations
    are read from two (author, created) indexes, a few rows each, then the patients by primary key."""
    last_seen: dict = {}
    assessed = (
        Assessment.objects.filter(created_by=user)
        .order_by("-created_at")
        .values_list("patient_id", "created_at")[: limit * RECENT_ASSESSMENTS_PER_PATIENT]
    )
    registered = Patient.objects.filter(created_by=user).order_by("-created_at").values_list("id", "created_at")
    for patient_id, at in [*assessed, *registered[:limit]]:
        if patient_id not in last_seen or at > last_seen[patient_id]:
            last_seen[patient_id] = at
    latest = sorted(last_seen, key=last_seen.__getitem__, reverse=True)[:limit]
    patients = Patient.objects.in_bulk(latest)
    return [patients[pk] for pk in latest]


# How many of the user's latest assessments the home page reads per patient it lists (repeat assessments of one
# patient share the window).
RECENT_ASSESSMENTS_PER_PATIENT = 5


def patient_assessments(*, patient: Patient) -> QuerySet[Assessment]:
    """The patient page's list and charts: each assessment's result, thresholds and author (not its inputs and
    decision, the largest columns, which the assessment's own page shows)."""
    return _ASSESSMENTS.filter(patient_id=patient.pk)


_ASSESSMENTS = Prebuilt(
    lambda: (
        Assessment.objects.select_related("created_by")
        .defer("inputs", "decision")
        .order_by("-sample_date", "-created_at")
    )
)


def patient_plans(*, patient: Patient) -> QuerySet[TreatmentPlan]:
    return _PLANS.filter(patient_id=patient.pk)


_PLANS = Prebuilt(lambda: TreatmentPlan.objects.order_by("-created_at"))


def patient_active_plan(*, patient: Patient) -> TreatmentPlan | None:
    """The patient's active plan, if any (at most one: a database constraint)."""
    return patient.plans.filter(status=TreatmentPlan.Status.ACTIVE).first()


def patient_with_active_plan(*, patient_id) -> Patient:
    """The patient with their active plan (or None) as ``active_plan_row``, read in the same query (at most one:
    a database constraint); Patient.DoesNotExist when there is no such patient."""
    active = FilteredRelation("plans", condition=Q(plans__status=TreatmentPlan.Status.ACTIVE))
    patient = Patient.objects.annotate(active_plan_row=active).select_related("active_plan_row").get(pk=patient_id)
    if not hasattr(patient, "active_plan_row"):  # no plan joined: the attribute is left unset
        patient.active_plan_row = None
    return patient


def plan_detail(*, plan_id) -> TreatmentPlan:
    """The plan page's plan: with its patient, its author, and its assessment's decision (not the assessment's
    author nor its inputs, which the page does not show)."""
    return (
        TreatmentPlan.objects.select_related("patient", "assessment", "created_by")
        .defer("assessment__inputs")
        .get(pk=plan_id)
    )


def assessment_detail(*, assessment_id) -> Assessment:
    return Assessment.objects.select_related("patient", "created_by", "lab_profile").get(pk=assessment_id)


def assessment_plan(*, assessment: Assessment) -> TreatmentPlan | None:
    """The plan started from this assessment, if one was."""
    return TreatmentPlan.objects.filter(assessment=assessment).first()


def plan_pending_mma_before(*, assessment: Assessment) -> TreatmentPlan | None:
    """For an assessment bringing an MMA result: the patient's latest earlier plan started pending MMA."""
    if "mma" not in (assessment.inputs or {}):
        return None
    return (
        TreatmentPlan.objects.filter(
            patient=assessment.patient_id, pending_mma=True, created_at__lt=assessment.created_at
        )
        .order_by("-created_at")
        .first()
    )


def assessments_after_pending_plan(*, plan: TreatmentPlan) -> QuerySet[Assessment] | list:
    """For a plan started pending MMA, the patient's later assessments, oldest first (where its MMA result comes)."""
    if not plan.pending_mma:
        return []
    return plan.patient.assessments.filter(created_at__gt=plan.assessment.created_at).order_by("created_at")


def _history(rows) -> list[dict]:
    return [
        {
            "at": h.history_date.isoformat(),
            "type": {"+": "created", "~": "changed", "-": "deleted"}[h.history_type],
            "by": h.history_user.username if h.history_user_id else None,
            "reason": h.history_change_reason or "",
            # The fields the history keeps (a derived field may be left out of it, e.g. a plan's next visit).
            "snapshot": {
                f.attname: getattr(h, f.attname) for f in h.instance_type._meta.concrete_fields if hasattr(h, f.attname)
            },
        }
        for h in rows.select_related("history_user").order_by("history_date")
    ]


def patient_record_export(*, patient: Patient) -> dict:
    """The patient's whole record: patient, assessments, plans with doses and follow-up visits, and the history of
    every one of them, as JSON-ready data. Each record lists every field of its model (``record_fields``)."""
    today = timezone.localdate()
    assessments = list(patient.assessments.select_related("created_by").order_by("sample_date", "created_at"))
    plans = list(
        patient.plans.select_related("created_by").prefetch_related("doses__recorded_by").order_by("created_at")
    )
    return {
        "exported_at": timezone.now().isoformat(),
        "patient": {**record_fields(patient), "history": _history(patient.history.all())},
        "assessments": [{**record_fields(a), "history": _history(a.history.all())} for a in assessments],
        "plans": [
            {
                **record_fields(p),
                "doses": [
                    {**record_fields(d), "history": _history(d.history.all())}
                    for d in sorted(p.doses.all(), key=lambda d: d.recorded_at)
                ],
                "visits": [
                    {"on": v.on.isoformat(), "kind": v.kind}
                    for v in schedule.monitoring_visits(plan_facts(p), until=today + timedelta(days=730))
                ]
                if p.status == TreatmentPlan.Status.ACTIVE
                else [],
                "history": _history(p.history.all()),
            }
            for p in plans
        ],
        "dose_count": sum(len(p.doses.all()) for p in plans),
        "words": _export_words(),
    }


def _export_words() -> dict:
    """The words for the export's codes; a plan's indications are a list of codes, so named here."""
    words = choice_words(Patient, Assessment, TreatmentPlan, DoseRecord)
    words["treatmentplan"]["indications"] = dict(vocabulary.Indication.choices)
    return words


def lab_profile_by_ref(ref: str) -> LabProfile | None:
    """A lab profile by its name or id."""
    if "\x00" in ref:  # no name holds NUL, and PostgreSQL refuses to compare with one
        return None
    try:
        return LabProfile.objects.filter(Q(name=ref) | Q(pk=ref)).first()
    except (ValueError, ValidationError):
        return LabProfile.objects.filter(name=ref).first()


# The default lab profile's entry in the nodes' shared cache (for shared_cache.prefetched).
LAB_PROFILE_DEFAULT = (shared_cache.LAB_PROFILES, "default")


def lab_profile_default() -> LabProfile | None:
    """The lab profile pre-selected on the form and used by the API when none is named (from the nodes' shared
    cache when there is one; any change to a profile retires it everywhere)."""
    return shared_cache.read_through(*LAB_PROFILE_DEFAULT, lambda: LabProfile.objects.filter(is_default=True).first())


def lab_profile_choices() -> list[tuple[int, str, bool]]:
    """Every lab profile as (id, label, is default), the default first (from the nodes' shared cache when there is
    one; any change to a profile retires it everywhere)."""
    return shared_cache.read_through(
        shared_cache.LAB_PROFILES,
        "choices",
        lambda: [(profile.pk, str(profile), profile.is_default) for profile in LabProfile.objects.all()],
    )


def result_import_initial(*, patient: Patient, import_id: str) -> dict | None:
    """The assessment form's fields filled by lab results received over FHIR (interop/fhir), or None."""
    try:
        imported = ResultImport.objects.filter(pk=import_id, patient=patient).first()
    except ValidationError:  # not a UUID
        return None
    if imported is None:
        return None
    return {**imported.results, "sample_date": imported.sample_date}
