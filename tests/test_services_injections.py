"""The injection services (recommender/injections/services.py), called directly: recording, correcting and
requeuing doses, closures moving due dates, and two nurses at once."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from recommender.clinic import services as clinic_services
from recommender.guideline import schedule
from recommender.injections import selectors as injections_selectors
from recommender.injections import services as injections_services
from recommender.models import ClinicClosure, DoseRecord
from recommender.roles import NURSE
from tests.conftest import make_user
from tests.factories import (
    CORRECTABLE,
    DEFICIENT_NEURO,
    ILEAL,
    at_once,
    correct,
    finish_loading,
    give,
    given_fields,
    make_patient,
    make_plan,
    only_postgresql,
    recent_day_a_month_before_an_open_day,
)


def test_a_dose_not_given_is_offered_again_from_the_next_open_day(nurse, clinician):
    plan = make_plan(clinician, start=date(2025, 3, 3))  # a Monday, long past
    injections_services.dose_record(
        plan=plan, phase="loading", number=1, outcome="missed", reason="Did not attend.", by=nurse
    )
    plan.refresh_from_db()
    today = timezone.localdate()
    fixed = schedule.fixed_loading_dates(date(2025, 3, 3))
    assert plan.next_phase == "loading"
    assert plan.next_number == 1, "a dose not given is offered again under its own number, never counted"
    calendar = injections_selectors.clinic_calendar()
    assert plan.next_due_on == max(
        fixed[0], schedule.next_open_day(today + timedelta(days=1), injections_selectors.clinic_days(), calendar)
    )
    assert plan.next_due_on > today


def test_service_refuses_a_dose_already_recorded(nurse, recent_plan):
    first = give(recent_plan, nurse, on=timezone.localdate() - timedelta(days=1))
    with pytest.raises(injections_services.DoseAlreadyRecorded, match="already recorded by Nurse_Patel") as refused:
        injections_services.dose_record(
            plan=recent_plan,
            phase="loading",
            number=1,
            by=nurse,
            **given_fields(timezone.localdate() - timedelta(days=1)),
        )
    assert refused.value.record == first
    assert DoseRecord.objects.filter(plan=recent_plan).count() == 1


@only_postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_nurses_recording_the_same_dose_at_the_same_moment_make_one_record(nurse, clinician, django_user_model):
    other_nurse = make_user(django_user_model, "nurse_okoro", NURSE)
    plan = make_plan(clinician, start=timezone.localdate() - timedelta(days=5))
    day = timezone.localdate() - timedelta(days=1)
    opened = (plan.next_phase, plan.next_number, plan.calendar_sequence)  # both open the form for loading 1

    def record(by, identity, **extra):
        phase, number, sequence = identity
        return lambda: injections_services.dose_record(
            plan=plan, phase=phase, number=number, sequence=sequence, by=by, **given_fields(day, **extra)
        )

    outcomes = at_once(record(nurse, opened), record(other_nurse, opened))
    records = [o for o in outcomes if isinstance(o, DoseRecord)]
    refusals = [o for o in outcomes if isinstance(o, injections_services.DoseAlreadyRecorded)]
    assert (len(records), len(refusals)) == (1, 1), outcomes
    assert refusals[0].record == records[0]
    assert "already recorded by" in " ".join(refusals[0].messages)
    plan.refresh_from_db()
    assert (plan.next_phase, plan.next_number) == ("loading", 2)

    # Each tries again: one replays the old form, the other records the dose now offered, on the same day.
    now_due = (plan.next_phase, plan.next_number, plan.calendar_sequence)
    early = {"early_reason": "Asked to have it today."}
    outcomes = at_once(record(nurse, opened), record(other_nurse, now_due, **early))
    assert isinstance(outcomes[0], injections_services.DoseAlreadyRecorded), outcomes
    assert isinstance(outcomes[1], ValidationError), outcomes
    assert "never given on one day" in " ".join(outcomes[1].message_dict["given_at"])
    # And both record the dose now offered at once, on the same day.
    outcomes = at_once(record(nurse, now_due, **early), record(other_nurse, now_due, **early))
    assert all(isinstance(o, ValidationError) for o in outcomes), outcomes

    assert plan.doses.filter(outcome="given", given_on=day, entered_in_error=False).count() == 1
    assert plan.doses.count() == 1
    plan.refresh_from_db()
    assert (plan.next_phase, plan.next_number) == ("loading", 2)


def test_a_corrected_time_moves_the_next_dose_with_it(nurse, clinician):
    plan = make_plan(clinician, start=date(2025, 3, 3))
    finish_loading(plan, nurse)
    maintenance = give(plan, nurse, on=date(2025, 5, 22))
    assert plan.next_due_on == schedule.add_months(date(2025, 5, 22), 2)
    injections_services.dose_correct(
        dose=maintenance,
        reason="Given the day before; entered late.",
        **{k: v for k, v in given_fields(date(2025, 5, 21)).items() if k in CORRECTABLE},
        by=nurse,
    )
    plan.refresh_from_db()
    assert (plan.next_phase, plan.next_number) == ("maintenance", 2)
    assert plan.next_due_on == schedule.add_months(date(2025, 5, 21), 2)


def test_a_corrected_record_then_found_never_given_requeues_the_dose(nurse, clinician):
    plan = make_plan(clinician, start=date(2025, 3, 3))
    give(plan, nurse)
    second = give(plan, nurse)
    replacement = correct(second, nurse, second.given_on, batch="HX-OTHER")
    assert injections_selectors.dose_latest_record(plan=plan) == replacement
    injections_services.dose_mark_entered_in_error(dose=replacement, reason="Wrong patient after all.", by=nurse)
    plan.refresh_from_db()
    assert (plan.next_phase, plan.next_number, plan.next_due_on) == ("loading", 2, date(2025, 3, 5))
    assert plan.doses.count() == 3


def test_correcting_an_older_dose_leaves_the_latest_record_the_only_one_to_mark_not_given(nurse, clinician):
    plan = make_plan(clinician, start=date(2025, 3, 3))
    first = give(plan, nurse)
    second = give(plan, nurse)
    replacement = correct(first, nurse, first.given_on, batch="HX-OTHER")
    with pytest.raises(ValidationError, match="most recent"):
        injections_services.dose_mark_entered_in_error(dose=replacement, reason="Not given.", by=nurse)
    assert injections_selectors.dose_latest_record(plan=plan) == second


def test_a_closure_moves_the_plans_due_that_day_and_back_when_removed(clinician, nurse, admin_user):
    start = recent_day_a_month_before_an_open_day()
    plan = make_plan(clinician, ILEAL, start=start, every=1)
    give(plan, nurse, on=start)
    due = plan.next_due_on
    sequence = plan.calendar_sequence + injections_selectors.closures_version()
    closure = injections_services.clinic_closure_save(
        closure=ClinicClosure(date=due, reason="Training day"), by=admin_user
    )
    plan.refresh_from_db()
    assert plan.next_due_on > due
    assert not schedule.is_open(due, injections_selectors.clinic_days(), injections_selectors.clinic_calendar())
    assert "Training day" in plan.next_due_note
    assert plan.calendar_sequence + injections_selectors.closures_version() > sequence, "calendar clients must refresh"
    assert closure.history.first().history_user == admin_user
    injections_services.clinic_closure_remove(closure=closure, by=admin_user)
    plan.refresh_from_db()
    assert plan.next_due_on == due
    assert plan.next_due_note == ""
    assert ClinicClosure.history.filter(date=due, history_type="-").exists(), "the removal is in the history"


def test_closure_date_must_be_unique(admin_user):
    injections_services.clinic_closure_save(
        closure=ClinicClosure(date=date(2027, 6, 1), reason="Training"), by=admin_user
    )
    with pytest.raises(ValidationError) as refused:
        injections_services.clinic_closure_save(
            closure=ClinicClosure(date=date(2027, 6, 1), reason="Again"), by=admin_user
        )
    assert "date" in refused.value.message_dict


def test_doses_on_closed_days_is_the_clinic_setting_for_new_plans(settings, clinician):
    settings.B12_DOSES_ON_CLOSED_DAYS = True
    assert make_plan(clinician, DEFICIENT_NEURO, start=timezone.localdate()).doses_on_closed_days
    settings.B12_DOSES_ON_CLOSED_DAYS = False
    assert not make_plan(clinician, DEFICIENT_NEURO, start=timezone.localdate()).doses_on_closed_days
    _, chosen = clinic_services.assessment_record(
        patient=make_patient(by=clinician),
        sample_date=timezone.localdate(),
        payload=dict(DEFICIENT_NEURO),
        plan_options={"start_date": timezone.localdate(), "maintenance_every": 2, "doses_on_closed_days": True},
        by=clinician,
    )
    assert chosen.doses_on_closed_days, "a per-plan choice overrides the clinic's default"
