"""Clinic closures (issue 10, item 3), alternate days and closed days (item 2), individualised intervals (item 4),
pregnancy reviews (item 5) and rebooked doses (item 1), through the services, selectors, admin and pages."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from recommender.guideline import schedule
from recommender.injections import selectors as injections_selectors
from recommender.injections import services as injections_services
from recommender.models import ClinicClosure, DoseRecord, TreatmentPlan
from recommender.web import checks
from tests.factories import (
    DEFICIENT,
    DEFICIENT_NEURO,
    ILEAL,
    give,
    make_plan,
)

PREGNANT = {"b12": {"value": 150, "unit": "pg/mL"}, "pregnant": True}


# Public holidays of the clinic's nation


@pytest.mark.parametrize("code", ["ZZ", "GB-XYZ", "Narnia"])
def test_a_bad_holidays_code_is_refused_at_start_up(settings, code):
    settings.B12_HOLIDAYS = code
    errors = checks.check_holidays(None)
    assert [e.id for e in errors] == ["recommender.E003"]
    assert "B12_HOLIDAYS" in errors[0].msg


@pytest.mark.parametrize("code", ["GB-ENG", "GB-SCT", "GB-NIR", "FR", ""])
def test_good_holidays_codes_pass_the_check(settings, code):
    settings.B12_HOLIDAYS = code
    assert checks.check_holidays(None) == []


@override_settings(B12_HOLIDAYS="GB-ENG")
def test_defect_maintenance_due_on_christmas_day_2026_moves_past_the_bank_holidays(clinician, nurse):
    plan = make_plan(clinician, ILEAL, start=date(2026, 9, 25), every=1)
    give(plan, nurse, on=date(2026, 9, 25))
    give(plan, nurse, on=date(2026, 11, 25))  # a month later is Fri 25 Dec
    assert plan.next_due_on == date(2026, 12, 29)  # 25th, weekend, 28th (Boxing Day substitute) closed
    assert "Christmas Day" in plan.next_due_note


# Clinic closures that admins manage


def test_admin_adds_a_closure_in_the_admin_and_the_worklist_follows(admin_client_, clinician, nurse):
    today = timezone.localdate()
    plan = make_plan(clinician, ILEAL, start=today - timedelta(days=20), every=1)
    give(plan, nurse)  # on its due date: the start, or the next open day when the start is not one
    due = plan.next_due_on
    response = admin_client_.post(
        reverse("admin:recommender_clinicclosure_add"), {"date": due.isoformat(), "reason": "Staff training"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    plan.refresh_from_db()
    assert plan.next_due_on > due
    assert ClinicClosure.objects.get(date=due).reason == "Staff training"


def test_month_view_marks_closed_days(nurse_client, clinician):
    plan = make_plan(clinician, start=timezone.localdate())
    response = nurse_client.get(reverse("plan-month", kwargs={"plan_id": plan.pk}), {"month": "2026-12-01"})
    days = {day["date"]: day for week in response.context["weeks"] for day in week}
    assert days[date(2026, 12, 25)]["closed"] == "Christmas Day"
    assert "Closed: Christmas Day" in response.content.decode()


# Alternate days: every 48 hours, and the plan says where a closure interrupts it


def test_alternate_days_interrupted_by_a_weekend_is_said_on_the_plan_page(clinician_client, clinician, nurse):
    today = timezone.localdate()
    friday = today - timedelta(days=(today.weekday() - 4) % 7 or 7)  # the last Friday before today
    plan = make_plan(clinician, DEFICIENT_NEURO, start=friday)
    give(plan, nurse, on=friday)  # Friday + 2 = Sunday: closed
    assert plan.next_due_on == friday + timedelta(days=3)
    assert plan.next_due_note == "3 days since the last dose: alternate days interrupted by a day the clinic is closed."
    page = clinician_client.get(reverse("plan-detail", kwargs={"plan_id": plan.pk})).content.decode()
    assert "alternate days interrupted by a day the clinic is closed" in page


def test_alternate_days_with_doses_on_closed_days_continue_over_the_weekend(settings, clinician, nurse):
    settings.B12_DOSES_ON_CLOSED_DAYS = True
    today = timezone.localdate()
    friday = today - timedelta(days=(today.weekday() - 4) % 7 or 7)
    plan = make_plan(clinician, DEFICIENT_NEURO, start=friday)
    give(plan, nurse, on=friday)
    assert plan.next_due_on == friday + timedelta(days=2)  # Sunday
    assert plan.next_due_note == ""


# Loading counts doses given: a dose not given is rebooked under its number


def test_defect_a_held_first_dose_leaves_loading_1_next_and_can_then_be_given(clinician, nurse):
    today = timezone.localdate()
    plan = make_plan(clinician, start=today - timedelta(days=3))
    give(plan, nurse, outcome="held")
    assert (plan.next_phase, plan.next_number) == ("loading", 1)
    record = give(
        plan, nurse, on=today, early_reason="Here today."
    )  # the same dose number, now given: the database allows it
    assert (record.phase, record.number, record.outcome) == ("loading", 1, "given")
    assert (plan.next_phase, plan.next_number) == ("loading", 2)


def test_database_refuses_a_second_given_record_of_one_dose_but_keeps_the_not_given_ones(clinician, nurse):
    today = timezone.localdate()
    plan = make_plan(clinician, start=today - timedelta(days=3))
    give(plan, nurse, outcome="missed")
    first = give(plan, nurse, on=today, early_reason="Here today.")
    with pytest.raises(IntegrityError), transaction.atomic():
        DoseRecord.objects.create(
            plan=plan,
            phase=first.phase,
            number=first.number,
            due_date=first.due_date,
            outcome="given",
            given_at=first.given_at,
            batch="X",
            expiry=first.expiry,
            recorded_by=nurse,
        )
    assert plan.doses.filter(number=1).count() == 2


# Individualised means at least as often as the guideline


@pytest.mark.parametrize(
    ("payload", "every", "unit", "maximum"),
    [
        (ILEAL, 3, "months", "every month"),  # defect: was saved
        (ILEAL, 5, "weeks", "every month"),
        (ILEAL, 29, "days", "every month"),
        (DEFICIENT_NEURO, 13, "weeks", "every 2 months"),  # defect: was saved
        (DEFICIENT_NEURO, 3, "months", "every 2 months"),
        (DEFICIENT_NEURO, 60, "days", "every 2 months"),
        (DEFICIENT, 13, "weeks", "every 3 months"),
    ],
)
def test_defect_individualised_less_often_than_the_guideline_is_refused_naming_its_maximum(
    clinician, payload, every, unit, maximum
):
    with pytest.raises(ValidationError) as refused:
        make_plan(
            clinician,
            payload,
            start=timezone.localdate(),
            every=every,
            unit=unit,
            individualised_reason="Patient's wish.",
        )
    message = " ".join(refused.value.message_dict["individualised_every"])
    assert f"The guideline's maximum here is {maximum}" in message
    assert not TreatmentPlan.objects.exists()


@pytest.mark.parametrize(
    ("payload", "every", "unit"),
    [(ILEAL, 4, "weeks"), (ILEAL, 28, "days"), (ILEAL, 1, "months"), (DEFICIENT_NEURO, 8, "weeks"), (ILEAL, 1, "days")],
)
def test_individualised_as_often_or_more_is_accepted(clinician, payload, every, unit):
    plan = make_plan(
        clinician, payload, start=timezone.localdate(), every=every, unit=unit, individualised_reason="Symptoms return."
    )
    assert (plan.maintenance_every, plan.maintenance_unit, plan.individualised) == (every, unit, True)


# Pregnancy: first review at one month


def test_defect_pregnancy_first_review_at_one_month_on_the_plan_and_its_calendar(clinician_client, clinician):
    start = timezone.localdate()
    plan = make_plan(clinician, PREGNANT, start=start)
    assert plan.first_review_months == 1
    visits = injections_selectors.plan_schedule(plan=plan, today=start)["visits"]
    calendar = injections_selectors.clinic_calendar()
    first = schedule.next_open_day(schedule.add_months(start, 1), injections_selectors.clinic_days(), calendar)
    assert visits[0].on == first
    assert visits[1].nominal == schedule.add_months(start, 4)
    body = clinician_client.get(reverse("plan-ics", kwargs={"plan_id": plan.pk})).content.decode()
    assert "first after 1 month" in body
    other = make_plan(clinician, DEFICIENT, start=start)
    assert other.first_review_months == 3
    assert injections_selectors.plan_schedule(plan=other, today=start)["visits"][0].nominal == schedule.add_months(
        start, 3
    )


def test_individualised_plan_calendar_states_its_regimen_the_guideline_range_and_the_reason(
    clinician_client, clinician
):
    plan = make_plan(
        clinician,
        DEFICIENT,
        start=timezone.localdate(),
        every=4,
        unit="weeks",
        individualised_reason="Tingling by week 5.",
    )
    body = clinician_client.get(reverse("plan-ics", kwargs={"plan_id": plan.pk})).content
    event = next(e for e in Calendar.from_ical(body).walk("VEVENT") if "maintenance" in str(e["UID"]))
    text = str(event["DESCRIPTION"])
    assert "Individualised regimen: every 4 weeks" in text
    assert "The guideline's range for this plan: every 2 to 3 months" in text
    assert "Clinician's reason: Tingling by week 5." in text


def test_any_closure_change_raises_the_sequence_of_every_plans_calendar(clinician_client, clinician, admin_user):
    plan = make_plan(clinician, DEFICIENT, start=timezone.localdate())

    def sequences() -> set[int]:
        body = clinician_client.get(reverse("plan-ics", kwargs={"plan_id": plan.pk})).content
        return {int(e["SEQUENCE"]) for e in Calendar.from_ical(body).walk("VEVENT")}

    before = sequences()
    far = schedule.add_months(timezone.localdate(), 18)
    closure = injections_services.clinic_closure_save(
        closure=ClinicClosure(date=far, reason="Refurbishment"), by=admin_user
    )
    after_add = sequences()
    injections_services.clinic_closure_remove(closure=closure, by=admin_user)
    after_remove = sequences()
    assert len(before) == len(after_add) == len(after_remove) == 1
    assert max(before) < min(after_add) < min(after_remove)


@pytest.mark.parametrize("days", [[0, 1], [0, 1, 9], []])
def test_too_few_or_unknown_clinic_days_are_refused_at_start_up(settings, days):
    settings.B12_CLINIC_DAYS = days
    assert [e.id for e in checks.check_clinic_days(None)] == ["recommender.E004"]
    settings.B12_CLINIC_DAYS = [0, 2, 4]
    assert checks.check_clinic_days(None) == []
