"""The demo clinic: refused with DEBUG off, idempotent, and every state the app knows present, as the home pages
see them (through their selectors)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from recommender.home import selectors
from recommender.identifiers import nhs_number_is_valid
from recommender.management.commands.demo_clinic import CASES, DEMO_PREFIX, demo_patients
from recommender.models import Assessment, DoseRecord, Patient, TreatmentPlan


def run(*args) -> str:
    out = io.StringIO()
    call_command("demo_clinic", *args, stdout=out)
    return out.getvalue()


def counts() -> tuple[int, int, int, int]:
    return (
        Patient.objects.count(),
        Assessment.objects.count(),
        TreatmentPlan.objects.count(),
        DoseRecord.objects.count(),
    )


def test_refused_with_debug_off(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="only runs with DEBUG on"):
        run()
    assert Patient.objects.count() == 0


def test_make_run_skips_it_quietly_with_debug_off(db, settings):
    settings.DEBUG = False
    assert "no demo clinic" in run("--skip-without-debug")
    assert Patient.objects.count() == 0


@pytest.mark.django_db
def test_every_state_is_there_and_a_second_run_changes_nothing(settings):
    settings.DEBUG = True
    settings.B12_PLAN_START_WINDOW_DAYS = 365
    run()
    today = timezone.localdate()
    patients = list(demo_patients())
    assert len(patients) == len(CASES) >= 30
    assert all(p.nhs_number.startswith("999") and nhs_number_is_valid(p.nhs_number) for p in patients)

    caseload = selectors.caseload(today=today)
    for state in (
        "loading_three_weekly",
        "loading_neuro",
        "maintenance",
        "overdue",
        "individualised",
        "ileal_resection",
        "bariatric_surgery",
        "pregnant",
        "pending_mma",
        "stable",
        "ended",
    ):
        assert caseload[state] > 0, state
    assert len(selectors.mma_awaited()) >= 2
    assert len(selectors.treatment_pending_mma()) >= 2
    assert selectors.neuro_loading_reviews_due(today=today)
    assert selectors.monitoring_due(today=today)
    overdue = selectors.injections_overdue(today=today)
    assert overdue and all(plan.patient.hospital_number.startswith(DEMO_PREFIX) for plan in overdue)
    assert len(selectors.dnas_to_follow_up()) >= 2
    assert selectors.closures_coming(today=today)
    assert selectors.lab_profiles()
    # Doses were given and missed, through the services (so with history).
    assert DoseRecord.objects.filter(outcome=DoseRecord.Outcome.GIVEN).count() > 50
    assert TreatmentPlan.history.count() > TreatmentPlan.objects.count()

    before = counts()
    assert "already loaded" in run()
    assert counts() == before

    run("--reset")
    assert counts() == before
    assert demo_patients().count() == len(CASES)
