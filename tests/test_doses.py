"""Recording doses, scheduling the next one, corrections, and the clinician's plan actions (services and views)."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import get_resolver, reverse
from django.utils import timezone

from recommender.clinic import services as clinic_services
from recommender.guideline import schedule
from recommender.injections import selectors as injections_selectors
from recommender.injections import services as injections_services
from recommender.injections.forms import DoseIdentityForm, DoseRecordForm
from recommender.models import DoseRecord, TreatmentPlan
from tests.factories import (
    at,
    correct,
    dose_form_data,
    finish_loading,
    give,
    given_fields,
    make_plan,
    messages_of,
)


def form_post(plan: TreatmentPlan, **overrides) -> dict:
    """What the dose form posts for the plan's next dose, given an hour ago with an unexpired batch."""
    due = {"phase": plan.next_phase, "number": plan.next_number, "sequence": plan.calendar_sequence}
    return dose_form_data(**(due | overrides))


def record_url(plan) -> str:
    return reverse("dose-record", kwargs={"plan_id": plan.pk})


# Recording a dose as given, through the nurse's form


def test_nurse_records_a_given_dose(nurse_client, nurse, clinician, recent_plan):
    data = form_post(recent_plan, recorded_by=str(clinician.pk))  # a forged author is ignored
    response = nurse_client.post(record_url(recent_plan), data)
    assert response.status_code == 302
    assert response["Location"] == reverse("worklist")
    record = DoseRecord.objects.get(plan=recent_plan)
    assert record.recorded_by == nurse
    assert (record.phase, record.number, record.outcome) == ("loading", 1, "given")
    assert record.dose_mg == Decimal(1)
    assert record.route == "IM"
    assert record.site == "right_deltoid"
    assert record.batch == "HX2025-118"
    assert record.expiry == date.fromisoformat(data["expiry"])
    assert timezone.is_aware(record.given_at)
    assert timezone.localtime(record.given_at).strftime("%Y-%m-%dT%H:%M") == data["given_at"]
    assert record.due_date == recent_plan.next_due_on
    assert any("recorded" in m for m in messages_of(response))
    recent_plan.refresh_from_db()
    assert (recent_plan.next_phase, recent_plan.next_number) == ("loading", 2)


def test_dose_form_shows_the_due_dose(nurse_client, recent_plan):
    response = nurse_client.get(record_url(recent_plan))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Record loading 1 of 6" in html
    assert f'name="number" value="{recent_plan.next_number}"' in html
    assert 'name="phase" value="loading"' in html


def test_clinician_without_the_record_permission_cannot_record(clinician_client, recent_plan):
    response = clinician_client.post(record_url(recent_plan), form_post(recent_plan))
    assert response.status_code == 403
    assert not DoseRecord.objects.exists()


def test_time_given_in_the_future_is_refused_naming_the_field(nurse_client, recent_plan):
    future = (timezone.localtime() + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    response = nurse_client.post(record_url(recent_plan), form_post(recent_plan, given_at=future))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "given_at" in errors
    assert "future" in " ".join(errors["given_at"])
    assert "The time given cannot be in the future." in response.content.decode()
    assert not DoseRecord.objects.exists()


def test_expired_batch_is_refused(nurse_client, recent_plan):
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    now = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
    response = nurse_client.post(record_url(recent_plan), form_post(recent_plan, given_at=now, expiry=yesterday))
    assert response.status_code == 200
    assert "expired" in " ".join(response.context["form"].errors["expiry"])
    assert not DoseRecord.objects.exists()


def test_batch_expiring_on_the_day_given_is_accepted(nurse, recent_plan):
    day = timezone.localdate() - timedelta(days=1)
    record = give(recent_plan, nurse, on=day, expiry=day)
    assert record.expiry == day


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("dose_mg", Decimal(2), "1 mg"),
        ("dose_mg", None, "1 mg"),
        ("route", "SC", "intramuscular"),
        ("route", "", "intramuscular"),
        ("site", "", "site"),
        ("batch", "  ", "batch"),
        ("expiry", None, "expiry"),
        ("given_at", None, "when"),
    ],
)
def test_given_dose_needs_1_mg_im_site_batch_and_expiry(nurse, recent_plan, field, value, message):
    with pytest.raises(ValidationError) as refused:
        give(recent_plan, nurse, on=timezone.localdate() - timedelta(days=1), **{field: value})
    assert field in refused.value.message_dict
    assert message.lower() in " ".join(refused.value.message_dict[field]).lower()
    assert not DoseRecord.objects.exists()


def test_given_before_the_plan_started_is_refused(nurse, recent_plan):
    with pytest.raises(ValidationError) as refused:
        give(recent_plan, nurse, on=recent_plan.start_date - timedelta(days=1))
    assert "given_at" in refused.value.message_dict


@pytest.mark.parametrize("outcome", ["declined", "held"])
def test_dose_not_given_needs_a_reason(nurse_client, nurse, recent_plan, outcome):
    data = form_post(recent_plan, outcome=outcome, reason="")
    response = nurse_client.post(record_url(recent_plan), data)
    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    assert not DoseRecord.objects.exists()

    response = nurse_client.post(record_url(recent_plan), form_post(recent_plan, outcome=outcome, reason="Unwell."))
    assert response.status_code == 302
    record = DoseRecord.objects.get(plan=recent_plan)
    assert record.outcome == outcome
    assert record.reason == "Unwell."
    assert record.recorded_by == nurse
    # Nothing about an injection is kept for a dose that was not given.
    assert (record.given_at, record.dose_mg, record.route, record.site, record.batch, record.expiry) == (
        None,
        None,
        "",
        "",
        "",
        None,
    )


# The next dose: six loading slots, then maintenance one interval after the last dose given


def test_loading_six_slots_then_maintenance_one_interval_after_the_last_dose_given(nurse, clinician):
    plan = make_plan(clinician, start=date(2025, 3, 3))  # Monday: Mon/Wed/Fri for two weeks
    expected = [date(2025, 3, d) for d in (3, 5, 7, 10, 12, 14)]
    assert (plan.next_phase, plan.next_number, plan.next_due_on) == ("loading", 1, expected[0])
    for number, due in enumerate(expected, 1):
        assert (plan.next_phase, plan.next_number, plan.next_due_on) == ("loading", number, due)
        # The last loading dose is given three days late: maintenance counts from the day it was given.
        give(plan, nurse, on=date(2025, 3, 17) if number == 6 else due)
    # 17 May 2025 is a Saturday: the dose moves to Monday 19 May.
    assert (plan.next_phase, plan.next_number, plan.next_due_on) == ("maintenance", 1, date(2025, 5, 19))
    give(plan, nurse, on=date(2025, 5, 20))
    # 20 July 2025 is a Sunday: Monday 21 July.
    assert (plan.next_phase, plan.next_number, plan.next_due_on) == ("maintenance", 2, date(2025, 7, 21))
    assert plan.doses.count() == 7


def test_recording_a_dose_raises_the_calendar_sequence(nurse, recent_plan):
    before = recent_plan.calendar_sequence
    give(recent_plan, nurse, on=timezone.localdate() - timedelta(days=1))
    assert recent_plan.calendar_sequence > before


@pytest.mark.parametrize(
    ("every", "individualised", "last_given", "next_due"),
    [
        (1, True, date(2025, 1, 31), date(2025, 2, 28)),
        (1, True, date(2024, 1, 31), date(2024, 2, 29)),
        (2, False, date(2024, 12, 31), date(2025, 2, 28)),
        (3, False, date(2024, 11, 30), date(2025, 2, 28)),
    ],
)
def test_maintenance_month_arithmetic_clamps_to_the_end_of_the_month(
    nurse, clinician, every, individualised, last_given, next_due
):
    start = last_given - timedelta(days=30 * every + 20)  # maintenance 1 falls due shortly before last_given
    plan = make_plan(clinician, start=start, every=every, individualised=individualised)
    while plan.next_phase == "loading":
        give(plan, nurse)
    give(plan, nurse, on=last_given)  # maintenance 1, on the last day of a long month
    assert (plan.next_phase, plan.next_number) == ("maintenance", 2)
    assert plan.next_due_on == next_due


# A dose is recorded once


def already_recorded(label: str, record: DoseRecord) -> str:
    """The worklist's message for a refused second recording: which dose, who recorded it and when."""
    at = timezone.localtime(record.recorded_at)
    who = record.recorded_by.get_full_name() or record.recorded_by.username
    return f"{label} was already recorded by {who} at {at:%H:%M}, {at.day} {at:%b %Y}"


def test_a_second_post_of_the_same_dose_goes_back_to_the_worklist_saying_who_and_when(nurse_client, recent_plan):
    data = form_post(recent_plan)
    assert nurse_client.post(record_url(recent_plan), data).status_code == 302
    record = DoseRecord.objects.get(plan=recent_plan)
    for _ in range(2):  # a double click, a second tab, Back and resubmit: never the next dose, however often
        again = nurse_client.post(record_url(recent_plan), data, follow=True)
        assert again.redirect_chain == [(reverse("worklist"), 302)]
        assert already_recorded("Loading 1 of 6", record) in again.content.decode()
        assert "Nurse_Patel" in again.content.decode()
        assert "form" not in again.context or not isinstance(again.context.get("form"), DoseRecordForm)
    assert DoseRecord.objects.filter(plan=recent_plan).count() == 1
    recent_plan.refresh_from_db()
    assert (recent_plan.next_phase, recent_plan.next_number) == ("loading", 2)


def test_a_form_left_open_while_the_plan_changed_is_refused(nurse_client, nurse, clinician, recent_plan):
    data = form_post(recent_plan)  # opened now, for loading 1
    clinic_services.plan_change_interval(plan=recent_plan, every=3, unit="months", reason="Settled.", by=clinician)
    response = nurse_client.post(record_url(recent_plan), data)
    assert response.status_code == 302
    assert response["Location"] == reverse("worklist")
    assert any("changed since this form was opened" in m for m in messages_of(response))
    assert not DoseRecord.objects.exists()
    recent_plan.refresh_from_db()
    with pytest.raises(injections_services.DoseNotDue):
        injections_services.dose_record(
            plan=recent_plan,
            phase="loading",
            number=1,
            sequence=int(data["sequence"]),
            by=nurse,
            **given_fields(timezone.localdate() - timedelta(days=1)),
        )
    assert not DoseRecord.objects.exists()


def test_a_form_for_a_dose_recorded_as_missed_since_is_refused(nurse_client, nurse, clinician):
    """After a missed dose the same or the next number is offered with a new sequence: the old form is stale."""
    plan = make_plan(clinician, start=date(2025, 3, 3))
    give(plan, nurse)
    give(plan, nurse)
    stale = form_post(plan)  # for loading 3, opened before it was recorded as missed
    missed = injections_services.dose_record(
        plan=plan, phase="loading", number=3, outcome="missed", reason="Did not attend.", by=nurse
    )
    response = nurse_client.post(record_url(plan), stale, follow=True)
    assert response.redirect_chain == [(reverse("worklist"), 302)]
    assert already_recorded("Loading 3 of 6", missed) + " (did not attend" in response.content.decode()
    assert not plan.doses.filter(phase="loading", number=3, outcome="given").exists()
    with pytest.raises(injections_services.DoseAlreadyRecorded) as refused:
        injections_services.dose_record(
            plan=plan,
            phase="loading",
            number=3,
            sequence=int(stale["sequence"]),
            by=nurse,
            **given_fields(timezone.localdate()),
        )
    assert refused.value.record == missed


@pytest.mark.parametrize(
    "number", ["", "abc", "99", "-1", "²"], ids=["empty", "letters", "not-due", "negative", "superscript-two"]
)
def test_a_tampered_dose_number_gives_a_message_not_a_500(nurse_client, recent_plan, number):
    nurse_client.raise_request_exception = False
    response = nurse_client.post(record_url(recent_plan), form_post(recent_plan, number=number))
    assert response.status_code == 302
    assert response["Location"] == reverse("worklist")
    assert any("nothing was saved" in m.lower() for m in messages_of(response))
    assert not DoseRecord.objects.exists()


def test_database_refuses_a_second_live_record_of_the_same_dose(nurse, recent_plan):
    first = give(recent_plan, nurse, on=timezone.localdate() - timedelta(days=1))
    with pytest.raises(IntegrityError), transaction.atomic():
        DoseRecord.objects.create(
            plan=recent_plan,
            phase=first.phase,
            number=first.number,
            due_date=first.due_date,
            outcome="given",
            given_at=first.given_at,
            batch="HX-SECOND",
            expiry=first.expiry,
            recorded_by=nurse,
        )


# Corrections: entered in error, never deleted


def error_url(dose) -> str:
    return reverse("dose-error", kwargs={"dose_id": dose.pk})


def test_marking_entered_in_error_keeps_the_row_and_the_dose_falls_due_again(nurse_client, nurse, recent_plan):
    due = recent_plan.next_due_on
    dose = give(recent_plan, nurse, on=timezone.localdate() - timedelta(days=1))
    assert recent_plan.next_number == 2
    response = nurse_client.post(error_url(dose), {"reason": "Recorded on the wrong patient."})
    assert response.status_code == 302
    assert response["Location"] == reverse("plan-detail", kwargs={"plan_id": recent_plan.pk})
    assert any("entered in error" in m for m in messages_of(response))
    dose.refresh_from_db()
    assert dose.entered_in_error is True
    assert dose.error_reason == "Recorded on the wrong patient."
    assert DoseRecord.objects.filter(pk=dose.pk).exists()
    assert dose.history.first().history_user == nurse
    recent_plan.refresh_from_db()
    assert (recent_plan.next_phase, recent_plan.next_number, recent_plan.next_due_on) == ("loading", 1, due)

    # The dose can be recorded again; both rows stay.
    again = give(recent_plan, nurse, on=timezone.localdate() - timedelta(days=1))
    assert (again.phase, again.number) == ("loading", 1)
    assert DoseRecord.objects.filter(plan=recent_plan).count() == 2
    page = nurse_client.get(reverse("plan-detail", kwargs={"plan_id": recent_plan.pk}))
    assert "entered in error" in page.content.decode()
    assert "Recorded on the wrong patient." in page.content.decode()


def test_entered_in_error_needs_a_reason(nurse_client, nurse, recent_plan):
    dose = give(recent_plan, nurse, on=timezone.localdate() - timedelta(days=1))
    response = nurse_client.post(error_url(dose), {"reason": ""})
    assert response.status_code == 302
    assert any("reason" in m for m in messages_of(response))
    dose.refresh_from_db()
    assert dose.entered_in_error is False
    with pytest.raises(ValidationError) as refused:
        injections_services.dose_mark_entered_in_error(dose=dose, reason="   ", by=nurse)
    assert "reason" in refused.value.message_dict


def test_only_the_latest_record_can_be_marked_entered_in_error(nurse_client, nurse, clinician):
    plan = make_plan(clinician, start=date(2025, 3, 3))
    first = give(plan, nurse)
    second = give(plan, nurse)
    response = nurse_client.post(error_url(first), {"reason": "Wrong batch."})
    assert any("most recent" in m for m in messages_of(response))
    first.refresh_from_db()
    assert first.entered_in_error is False
    with pytest.raises(ValidationError, match="most recent"):
        injections_services.dose_mark_entered_in_error(dose=first, reason="Wrong batch.", by=nurse)

    injections_services.dose_mark_entered_in_error(dose=second, reason="Wrong patient.", by=nurse)
    with pytest.raises(ValidationError, match="already"):
        injections_services.dose_mark_entered_in_error(
            dose=DoseRecord.objects.get(pk=second.pk), reason="Again.", by=nurse
        )
    # Once the later one is corrected, the earlier one is the latest and can be corrected in turn.
    injections_services.dose_mark_entered_in_error(dose=first, reason="Wrong batch.", by=nurse)
    plan.refresh_from_db()
    assert (plan.next_phase, plan.next_number, plan.next_due_on) == ("loading", 1, date(2025, 3, 3))
    assert DoseRecord.objects.filter(plan=plan).count() == 2


def test_there_is_no_way_to_delete_a_dose_record(client, admin_user, nurse, recent_plan):
    dose = give(recent_plan, nurse, on=timezone.localdate() - timedelta(days=1))
    count = DoseRecord.objects.count()
    routes = []

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                routes.append((prefix + str(pattern.pattern), pattern.name or ""))

    walk(get_resolver().url_patterns)
    assert not [r for r in routes if "delete" in (r[0] + r[1]).lower() and not r[0].startswith("admin/")]
    assert not any(
        name.startswith("delete") or "_delete" in name for name in dir(clinic_services) + dir(injections_services)
    )
    assert not admin_user.has_perm("recommender.delete_doserecord")

    client.force_login(admin_user)
    for method, url in [
        ("delete", error_url(dose)),
        ("delete", record_url(recent_plan)),
        ("post", f"/doses/{dose.pk}/delete/"),
        ("delete", f"/doses/{dose.pk}/"),
        ("post", f"/admin/recommender/doserecord/{dose.pk}/delete/"),
    ]:
        response = getattr(client, method)(url, {"post": "yes"} if method == "post" else None)
        assert response.status_code in (403, 404, 405), (method, url, response.status_code)
    assert DoseRecord.objects.count() == count
    assert DoseRecord.objects.filter(pk=dose.pk, entered_in_error=False).exists()


# Clinician actions on a plan: end loading, mark stable, change the interval


@pytest.fixture(params=["clinician_client", "admin_client_"])
def changer(request):
    """A logged-in clinician or admin, both allowed to change a plan."""
    client = request.getfixturevalue(request.param)
    return client, client.session["_auth_user_id"]


def test_clinician_or_admin_ends_neurological_loading(changer, clinician, nurse):
    client, user_id = changer
    today = timezone.localdate()
    # Started a week and more ago, the first two doses given on their due dates (open days, whatever the weekday
    # the test runs on: a start on a Saturday had moved the first dose to the Monday).
    plan = make_plan(clinician, start=today - timedelta(days=8), neuro=True)
    assert plan.loading_pattern == "alternate_days"
    give(plan, nurse)
    second = give(plan, nurse)
    assert (plan.next_phase, plan.next_number) == ("loading", 3)
    response = client.post(reverse("plan-end-loading", kwargs={"plan_id": plan.pk}), {"on": today.isoformat()})
    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.loading_ended_on == today
    assert (plan.next_phase, plan.next_number) == ("maintenance", 1)
    nominal = schedule.add_months(timezone.localdate(second.given_at), 2)
    assert plan.next_due_on == schedule.next_open_day(
        nominal, injections_selectors.clinic_days(), injections_selectors.clinic_calendar()
    )
    assert str(plan.history.first().history_user.pk) == user_id


def test_nurse_cannot_end_loading_mark_stable_or_change_the_interval(nurse_client, clinician):
    plan = make_plan(clinician, start=timezone.localdate() - timedelta(days=6), neuro=True)
    history = plan.history.count()
    today = timezone.localdate().isoformat()
    for name, data in [
        ("plan-end-loading", {"on": today}),
        ("plan-stable", {"on": today}),
        ("plan-interval", {"every": "3", "unit": "months", "reason": "Nurse tries."}),
    ]:
        assert nurse_client.post(reverse(name, kwargs={"plan_id": plan.pk}), data).status_code == 403
    plan.refresh_from_db()
    assert plan.loading_ended_on is None
    assert plan.stable_on is None
    assert plan.maintenance_every == 2
    assert plan.history.count() == history


def test_end_loading_refuses_a_fixed_course_and_a_date_outside_the_plan(clinician_client, clinician):
    today = timezone.localdate()
    fixed = make_plan(clinician, start=today - timedelta(days=3))
    response = clinician_client.post(reverse("plan-end-loading", kwargs={"plan_id": fixed.pk}), {"on": today})
    assert any("alternate-day" in m for m in messages_of(response))
    neuro = make_plan(clinician, start=today - timedelta(days=3), neuro=True)
    for day in (today - timedelta(days=4), today + timedelta(days=1)):
        response = clinician_client.post(reverse("plan-end-loading", kwargs={"plan_id": neuro.pk}), {"on": day})
        assert response.status_code == 302
        assert any("between the plan's start and today" in m for m in messages_of(response))
    neuro.refresh_from_db()
    assert neuro.loading_ended_on is None


def test_change_interval_with_a_reason_reschedules_and_keeps_history(changer, clinician, nurse):
    client, user_id = changer
    plan = make_plan(clinician, start=date(2025, 3, 3))
    while plan.next_phase == "loading":
        give(plan, nurse)
    assert plan.next_due_on == date(2025, 5, 14)
    sequence = plan.calendar_sequence
    response = client.post(
        reverse("plan-interval", kwargs={"plan_id": plan.pk}),
        {"every": "3", "unit": "months", "reason": "Symptoms settled on treatment."},
    )
    assert response.status_code == 302
    assert any("interval changed" in m.lower() for m in messages_of(response))
    plan.refresh_from_db()
    assert (plan.maintenance_every, plan.maintenance_unit, plan.individualised) == (3, "months", False)
    assert plan.next_due_on == date(2025, 6, 16)  # 14 June 2025 is a Saturday: Monday 16 June
    assert plan.calendar_sequence > sequence
    latest = plan.history.first()
    assert str(latest.history_user.pk) == user_id
    assert "Symptoms settled on treatment." in latest.history_change_reason


def test_change_interval_without_a_reason_is_refused(clinician_client, clinician):
    plan = make_plan(clinician, start=date(2025, 3, 3))
    history = plan.history.count()
    response = clinician_client.post(
        reverse("plan-interval", kwargs={"plan_id": plan.pk}), {"every": "3", "unit": "months", "reason": ""}
    )
    assert response.status_code == 302
    assert any("Reason" in m for m in messages_of(response))
    plan.refresh_from_db()
    assert plan.maintenance_every == 2
    assert plan.history.count() == history
    with pytest.raises(ValidationError) as refused:
        clinic_services.plan_change_interval(plan=plan, every=3, unit="months", reason="  ", by=clinician)
    assert "reason" in refused.value.message_dict


def test_change_interval_outside_the_guideline_is_individualised_within_the_limit(clinician_client, clinician):
    plan = make_plan(clinician, start=date(2025, 3, 3))
    url = reverse("plan-interval", kwargs={"plan_id": plan.pk})
    clinician_client.post(url, {"every": "4", "unit": "weeks", "reason": "Symptoms return after a month."})
    plan.refresh_from_db()
    assert (plan.maintenance_every, plan.maintenance_unit, plan.individualised) == (4, "weeks", True)
    assert plan.individualised_reason == "Symptoms return after a month."
    response = clinician_client.post(url, {"every": "60", "unit": "months", "reason": "Far too long."})
    assert any("less often" in m for m in messages_of(response))
    plan.refresh_from_db()
    assert (plan.maintenance_every, plan.maintenance_unit) == (4, "weeks")


# Dose-timing safety: one given dose a day, early doses, the first dose


def test_two_given_doses_of_one_plan_on_one_day_are_refused_by_the_service(nurse, clinician):
    plan = make_plan(clinician, start=date(2025, 3, 3))
    first = give(plan, nurse, on=date(2025, 3, 3))
    with pytest.raises(ValidationError) as refused:
        give(plan, nurse, given_at=at(date(2025, 3, 3), 15), early_reason="Patient travelling.")
    message = " ".join(refused.value.message_dict["given_at"])
    assert "never given on one day" in message
    assert "Loading dose 1" in message and "Nurse_Patel" in message
    assert list(plan.doses.all()) == [first]
    plan.refresh_from_db()
    assert (plan.next_phase, plan.next_number) == ("loading", 2)


def test_the_database_refuses_two_given_doses_of_one_plan_on_one_day(nurse, clinician):
    plan = make_plan(clinician, start=date(2025, 3, 3))
    first = give(plan, nurse, on=date(2025, 3, 3))
    assert first.given_on == date(2025, 3, 3)
    with pytest.raises(IntegrityError), transaction.atomic():
        DoseRecord.objects.create(  # bypassing the service, as a script or a bug might
            plan=plan,
            phase="loading",
            number=2,
            due_date=date(2025, 3, 5),
            outcome="given",
            given_at=at(date(2025, 3, 3), 16),
            given_on=date(2025, 3, 3),
            batch="HX1",
            expiry=date(2026, 1, 1),
            recorded_by=nurse,
        )
    assert plan.doses.count() == 1


def test_the_given_date_is_the_clinics_local_date(settings, nurse, clinician):
    settings.TIME_ZONE = "Pacific/Auckland"
    plan = make_plan(clinician, start=date(2025, 3, 3))
    record = give(plan, nurse, given_at=datetime(2025, 3, 3, 19, 30, tzinfo=UTC))  # 08:30 on 4 March there
    assert record.given_on == date(2025, 3, 4)


def test_the_next_dose_on_the_same_day_through_the_form_names_the_field(nurse_client, nurse, recent_plan):
    """The defect: after a dose was saved, the next dose's form accepted a second injection the same minute."""
    data = form_post(recent_plan)
    assert nurse_client.post(record_url(recent_plan), data).status_code == 302
    recent_plan.refresh_from_db()
    response = nurse_client.post(
        record_url(recent_plan), form_post(recent_plan, given_at=data["given_at"], early_reason="Wants it done.")
    )
    assert response.status_code == 200
    assert "never given on one day" in " ".join(response.context["form"].errors["given_at"])
    assert DoseRecord.objects.filter(plan=recent_plan).count() == 1


def test_an_early_dose_needs_a_reason_kept_in_the_record_and_its_history(nurse, clinician):
    plan = make_plan(clinician, start=date(2025, 3, 3))
    finish_loading(plan, nurse)
    due = plan.next_due_on
    early = due - timedelta(days=4)
    with pytest.raises(ValidationError) as refused:
        give(plan, nurse, on=early)
    assert "early" in " ".join(refused.value.message_dict["early_reason"])
    assert due.strftime("%b %Y") in " ".join(refused.value.message_dict["early_reason"])
    assert not plan.doses.filter(phase="maintenance").exists()
    record = give(plan, nurse, on=early, early_reason="On holiday the week it is due.")
    assert record.early_reason == "On holiday the week it is due."
    assert record.history.get().early_reason == "On holiday the week it is due."
    on_time = give(plan, nurse, early_reason="Typed by mistake.")  # on its due date: no reason is kept
    assert on_time.early_reason == ""


def test_the_dose_form_asks_for_an_early_reason_only_before_the_due_date(nurse_client, nurse, clinician):
    plan = make_plan(clinician, start=timezone.localdate() - timedelta(days=120))
    finish_loading(plan, nurse)
    assert plan.next_due_on < timezone.localdate()
    page = nurse_client.get(record_url(plan)).content.decode()
    assert 'name="early_reason"' not in page  # maintenance 1 is overdue
    give(plan, nurse, on=timezone.localdate() - timedelta(days=1))
    page = nurse_client.get(record_url(plan)).content.decode()
    assert "not due until" in page
    assert 'name="early_reason"' in page
    response = nurse_client.post(record_url(plan), form_post(plan))
    assert response.status_code == 200
    assert "early_reason" in response.context["form"].errors
    response = nurse_client.post(record_url(plan), form_post(plan, early_reason="Flying abroad for three months."))
    assert response.status_code == 302
    assert plan.doses.get(phase="maintenance", number=2).early_reason == "Flying abroad for three months."


@pytest.mark.parametrize("missing", ["allergy_checked", "baseline_sample_taken"])
def test_the_first_dose_needs_the_allergy_question_and_the_baseline_sample(nurse, nurse_client, recent_plan, missing):
    with pytest.raises(ValidationError) as refused:
        give(recent_plan, nurse, on=timezone.localdate() - timedelta(days=1), **{missing: False})
    assert list(refused.value.message_dict) == [missing]
    assert not DoseRecord.objects.exists()

    data = form_post(recent_plan)
    del data[missing]
    response = nurse_client.post(record_url(recent_plan), data)
    assert response.status_code == 200
    assert missing in response.context["form"].errors
    assert not DoseRecord.objects.exists()


def test_the_first_dose_questions_are_asked_on_the_first_dose_only(nurse_client, nurse, recent_plan):
    page = nurse_client.get(record_url(recent_plan)).content.decode()
    assert 'name="allergy_checked"' in page and 'name="baseline_sample_taken"' in page
    assert "cobalt allergy" in page
    first = give(recent_plan, nurse, on=timezone.localdate() - timedelta(days=1))
    assert (first.allergy_checked, first.baseline_sample_taken) == (True, True)
    page = nurse_client.get(record_url(recent_plan)).content.decode()
    assert 'name="allergy_checked"' not in page and 'name="baseline_sample_taken"' not in page
    # A dose not given is no first dose: the questions wait for the dose that is given.
    injections_services.dose_mark_entered_in_error(dose=first, reason="Wrong patient.", by=nurse)
    assert 'name="allergy_checked"' in nurse_client.get(record_url(recent_plan)).content.decode()


def test_free_text_shows_its_limit_and_too_long_is_not_called_missing(nurse_client, nurse, recent_plan):
    page = nurse_client.get(record_url(recent_plan)).content.decode()
    assert "Up to 40 characters." in page and "Up to 500 characters." in page
    response = nurse_client.post(record_url(recent_plan), form_post(recent_plan, batch="B" * 41))
    assert "at most 40 characters" in " ".join(response.context["form"].errors["batch"])
    dose = give(recent_plan, nurse, on=timezone.localdate() - timedelta(days=1))
    response = nurse_client.post(reverse("dose-error", kwargs={"dose_id": dose.pk}), {"reason": "x" * 501})
    [message] = messages_of(response)
    assert "at most 500 characters" in message
    assert "Give the reason" not in message
    with pytest.raises(ValidationError) as refused:
        injections_services.dose_mark_entered_in_error(dose=dose, reason="x" * 501, by=nurse)
    assert "At most 500 characters" in " ".join(refused.value.message_dict["reason"])
    dose.refresh_from_db()
    assert dose.entered_in_error is False


# Corrections that keep the truth


def correct_url(dose) -> str:
    return reverse("dose-correct", kwargs={"dose_id": dose.pk})


def correction_post(dose, **overrides) -> dict:
    data = {
        "given_at": timezone.localtime(dose.given_at).strftime("%Y-%m-%dT%H:%M"),
        "dose_mg": "1",
        "route": "IM",
        "site": dose.site,
        "batch": dose.batch,
        "expiry": dose.expiry.isoformat(),
        "reason": "Batch number mistyped.",
    }
    return data | overrides


def test_correcting_a_given_dose_keeps_the_old_record_and_does_not_requeue_it(nurse_client, nurse, clinician):
    plan = make_plan(clinician, start=date(2025, 3, 3))
    first = give(plan, nurse, batch="HX-WRONG")
    give(plan, nurse)
    before = (plan.next_phase, plan.next_number, plan.next_due_on)
    page = nurse_client.get(reverse("plan-detail", kwargs={"plan_id": plan.pk})).content.decode()
    assert "Correct details" in page and "Not given — entered in error" in page

    response = nurse_client.post(correct_url(first), correction_post(first, batch="HX-RIGHT", site="right_thigh"))
    assert response.status_code == 302
    assert response["Location"] == reverse("plan-detail", kwargs={"plan_id": plan.pk})
    assert any("corrected" in m for m in messages_of(response))
    first.refresh_from_db()
    new = first.replaced_by
    assert first.entered_in_error is True
    assert first.error_reason == "Batch number mistyped."
    assert (first.batch, first.site) == ("HX-WRONG", "left_deltoid")  # the old record is kept as it was
    assert (new.phase, new.number, new.outcome, new.batch, new.site) == (
        "loading",
        1,
        "given",
        "HX-RIGHT",
        "right_thigh",
    )
    assert (new.given_at, new.due_date, new.recorded_by) == (first.given_at, first.due_date, nurse)
    assert new.entered_in_error is False
    assert (new.allergy_checked, new.baseline_sample_taken) == (True, True)
    plan.refresh_from_db()
    assert (plan.next_phase, plan.next_number, plan.next_due_on) == before
    assert plan.doses.filter(entered_in_error=False, phase="loading", number=1).count() == 1
    reasons = [h.history_change_reason for h in first.history.order_by("history_date")]
    assert reasons == [None, "entered in error: details corrected", "replaced by the corrected record"]
    assert new.history.get().history_user == nurse

    page = nurse_client.get(reverse("plan-detail", kwargs={"plan_id": plan.pk})).content.decode()
    assert "HX-WRONG" in page and "HX-RIGHT" in page and "replaced by the corrected record" in page


def test_a_correction_is_refused_onto_another_given_day_or_out_of_order(nurse, clinician):
    plan = make_plan(clinician, start=date(2025, 3, 3))
    first, second, third = give(plan, nurse), give(plan, nurse), give(plan, nurse)
    with pytest.raises(ValidationError) as refused:
        correct(second, nurse, first.given_on, given_at=at(first.given_on, 15))
    assert "never given on one day" in " ".join(refused.value.message_dict["given_at"])
    with pytest.raises(ValidationError) as refused:
        correct(second, nurse, third.given_on + timedelta(days=1))
    assert "not later than" in " ".join(refused.value.message_dict["given_at"])
    with pytest.raises(ValidationError) as refused:
        correct(second, nurse, second.given_on, reason="  ")
    assert "reason" in refused.value.message_dict
    second.refresh_from_db()
    assert second.entered_in_error is False
    assert plan.doses.filter(entered_in_error=True).count() == 0


def test_only_a_given_dose_has_details_to_correct(nurse_client, nurse, recent_plan):
    missed = injections_services.dose_record(
        plan=recent_plan, phase="loading", number=1, outcome="missed", reason="Did not attend.", by=nurse
    )
    with pytest.raises(ValidationError, match="entered in error instead"):
        correct(missed, nurse, timezone.localdate())
    response = nurse_client.get(correct_url(missed))
    assert response.status_code == 302
    assert not DoseRecord.objects.filter(entered_in_error=True).exists()


def _migration_step(name: str):
    """A function of one of the app's migrations, found by name (migrations are renumbered when merged)."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    modules = [m for (app, _), m in loader.disk_migrations.items() if app == "recommender"]
    [step] = [getattr(sys.modules[m.__module__], name) for m in modules if hasattr(sys.modules[m.__module__], name)]
    return step


def test_the_migration_dates_given_doses_and_leaves_earlier_duplicates_for_review(nurse, clinician):
    """Records made before the constraint: each live given dose gets its date, except a second one the same day
    (as the defect allowed), which keeps none so that the constraint can be created over the old data."""
    from django.apps import apps

    plan = make_plan(clinician, start=date(2025, 3, 3))
    first, second = give(plan, nurse), give(plan, nurse)
    duplicate = DoseRecord.objects.create(
        plan=plan,
        phase="loading",
        number=3,
        due_date=date(2025, 3, 7),
        outcome="given",
        given_at=at(second.given_on, 11),
        batch="HX1",
        expiry=date(2026, 1, 1),
        recorded_by=nurse,
    )
    DoseRecord.objects.update(given_on=None)
    _migration_step("fill_given_on")(apps, None)
    dates = dict(DoseRecord.objects.values_list("pk", "given_on"))
    assert dates == {first.pk: first.given_on, second.pk: second.given_on, duplicate.pk: None}


@pytest.mark.parametrize(
    ("posted", "identity"),
    [
        ({"phase": "loading", "number": "2", "sequence": "0"}, ("loading", 2, 0)),
        ({"phase": "loading", "number": "²", "sequence": "0"}, ("loading", -1, 0)),
        ({"phase": "loading", "number": "١", "sequence": "0"}, ("loading", -1, 0)),
        ({"phase": "loading", "number": "5" * 5000, "sequence": "0"}, ("loading", -1, 0)),
        ({"phase": "loading", "number": "-1", "sequence": "x"}, ("loading", -1, -1)),
        ({}, ("", -1, -1)),
    ],
)
def test_the_posted_dose_identity_names_a_dose_or_none(posted, identity):
    assert DoseIdentityForm(posted).identity() == identity


def test_mark_stable_then_monitoring_is_yearly_with_no_three_monthly_visit_after(changer, clinician, nurse):
    client, user_id = changer
    plan = make_plan(clinician, start=date(2024, 1, 15))
    while plan.next_phase == "loading":  # stable only once the loading course is complete
        give(plan, nurse)
    response = client.post(
        reverse("plan-stable", kwargs={"plan_id": plan.pk}),
        {"on": "2024-08-01", "reason": "Symptoms resolved.", "confirm": "on"},
    )
    assert response.status_code == 302
    assert any("stable" in m for m in messages_of(response))
    plan.refresh_from_db()
    assert plan.stable_on == date(2024, 8, 1)
    assert str(plan.history.first().history_user.pk) == user_id
    assert plan.history.first().stable_on == date(2024, 8, 1)
    visits = injections_selectors.plan_schedule(plan=plan, today=date(2024, 8, 2))["visits"]
    assert [(v.on, v.kind) for v in visits] == [
        (date(2025, 8, 1), "after_stable"),
        (date(2026, 8, 3), "after_stable"),  # 1 August 2026 is a Saturday: the next open day
    ]
    assert not [v for v in visits if v.kind == "until_stable" and v.on > plan.stable_on]
    # Marked once only.
    with pytest.raises(ValidationError, match="already"):
        clinic_services.plan_mark_stable(plan=plan, on=date(2024, 9, 1), reason="Again.", by=clinician)
