"""The clinic services (recommender/clinic/services.py), called directly: what they refuse whichever door the
request came through (page, API, admin), and what they save."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from recommender.clinic import services as clinic_services
from recommender.models import TreatmentPlan
from tests.factories import (
    ILEAL,
    NO_LOADING,
    give,
    make_assessment,
    make_patient,
    make_plan,
    pending_decision,
    today,
)


def test_three_times_weekly_stable_only_after_the_last_loading_dose(clinician, nurse, settings):
    settings.B12_CLINIC_DAYS = list(range(7))
    start = today() - timedelta(days=40)
    plan = make_plan(by=clinician, start=start)
    give(plan, nurse)
    with pytest.raises(ValidationError, match="loading course is not complete"):
        clinic_services.plan_mark_stable(plan=plan, on=today(), reason="Feels better.", by=clinician)
    while plan.next_phase == "loading":
        give(plan, nurse)
    last_loading = timezone.localdate(plan.doses.filter(phase="loading").order_by("-given_at").first().given_at)
    with pytest.raises(ValidationError) as refused:
        clinic_services.plan_mark_stable(plan=plan, on=last_loading - timedelta(days=1), reason="Better.", by=clinician)
    assert "the day the last loading dose was given" in refused.value.message_dict["on"][0]
    with pytest.raises(ValidationError) as refused:
        clinic_services.plan_mark_stable(plan=plan, on=today() + timedelta(days=1), reason="Better.", by=clinician)
    assert "cannot be in the future" in refused.value.message_dict["on"][0]
    clinic_services.plan_mark_stable(plan=plan, on=last_loading, reason="Better.", by=clinician)
    plan.refresh_from_db()
    assert plan.stable_on == last_loading


def test_without_loading_stable_is_not_before_the_plan_started(clinician):
    plan = make_plan(by=clinician, payload=NO_LOADING, every=3, start=today() - timedelta(days=5))
    with pytest.raises(ValidationError, match="the day the plan started"):
        clinic_services.plan_mark_stable(plan=plan, on=today() - timedelta(days=6), reason="Stable.", by=clinician)
    clinic_services.plan_mark_stable(plan=plan, on=today() - timedelta(days=5), reason="Stable.", by=clinician)


def test_the_service_needs_a_reason_to_mark_stable(clinician):
    plan = make_plan(by=clinician, payload=NO_LOADING, every=3)
    for reason, message in (("  ", "Give the reason"), ("x" * 501, "500 characters")):
        with pytest.raises(ValidationError) as refused:
            clinic_services.plan_mark_stable(plan=plan, on=today(), reason=reason, by=clinician)
        assert message in refused.value.message_dict["reason"][0]


def test_a_plan_started_pending_mma_can_change_its_interval(clinician):
    """Its maintenance is the treatment pending MMA's (the decision's own maintenance is null): no 500."""
    patient = make_patient(by=clinician)
    assessment = pending_decision(
        make_assessment(
            patient, clinician, payload={"b12": {"value": 250, "unit": "pg/mL"}, "neurological_involvement": True}
        )
    )
    plan = clinic_services.plan_create(
        assessment=assessment, start_date=today(), maintenance_every=2, pending_mma_reason="Ataxia.", by=clinician
    )
    clinic_services.plan_change_interval(
        plan=plan, every=4, unit="weeks", reason="Symptoms return early.", by=clinician
    )
    plan.refresh_from_db()
    assert (plan.maintenance_every, plan.maintenance_unit, plan.individualised) == (4, "weeks", True)
    with pytest.raises(ValidationError) as refused:
        clinic_services.plan_change_interval(plan=plan, every=3, unit="months", reason="Less often.", by=clinician)
    assert "individualised_every" in refused.value.message_dict


def test_plan_reasons_too_long_are_refused_by_the_service(clinician):
    assessment = make_assessment(make_patient(by=clinician), clinician)
    with pytest.raises(ValidationError) as refused:
        clinic_services.plan_create(
            assessment=assessment,
            start_date=today(),
            maintenance_every=4,
            maintenance_unit="weeks",
            individualised=True,
            individualised_reason="x" * 200_000,
            by=clinician,
        )
    assert "At most 500 characters" in refused.value.message_dict["individualised_reason"][0]
    assert not TreatmentPlan.objects.filter(assessment=assessment).exists()


def test_changing_the_interval_is_bounded_by_the_plans_own_maximum(clinician):
    plan = make_plan(clinician, ILEAL, start=timezone.localdate(), every=1)
    with pytest.raises(ValidationError) as refused:
        clinic_services.plan_change_interval(plan=plan, every=2, unit="months", reason="Fewer visits.", by=clinician)
    assert "every month" in " ".join(refused.value.message_dict["individualised_every"])
