"""Issue 16, items 3 and 4: "did not attend" is one outcome with one name, a dose not recorded by the end of its
day shows as "not yet recorded", and the recall list fills and empties; contact attempts and the recall letter."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommender.models import AccessRecord, Appointment, ContactAttempt, DoseRecord, RecallSettings
from recommender.recall import presenters, selectors
from recommender.recall import services as recall_services
from recommender.vocabulary import DoseState, Outcome, dose_state
from tests.factories import give, make_plan, messages_of, miss, miss_on_its_day

LONDON = zoneinfo.ZoneInfo("Europe/London")


def recalled(today=None) -> list:
    today = today or timezone.localdate()
    return list(selectors.recall_list(today=today, settings=RecallSettings.current()))


def signed_in(client, user):
    """A session begun now (on a frozen clock, a session from the real now would have expired)."""
    client.logout()
    client.force_login(user)
    return client


def overdue_plan(clinician, days: int, **fields):
    """A plan started ``days`` days ago whose first dose was never recorded."""
    return make_plan(clinician, start=timezone.localdate() - timedelta(days=days), **fields)


# ---- Item 3: did not attend ---------------------------------------------------------------------------------------


def test_missed_is_called_did_not_attend_everywhere_and_keeps_its_stored_code():
    assert Outcome.MISSED.value == "missed"
    assert Outcome.MISSED.label == "Did not attend"
    assert DoseRecord._meta.get_field("outcome").choices == Outcome.choices


def test_the_service_records_did_not_attend_and_offers_the_dose_again(clinician, nurse):
    plan = overdue_plan(clinician, 3)
    due = plan.next_due_on
    record, booking = recall_services.dose_did_not_attend(plan=plan, by=nurse)
    assert booking is None
    assert (record.outcome, record.get_outcome_display(), record.due_date) == ("missed", "Did not attend", due)
    assert record.reason == "Did not attend."
    plan.refresh_from_db()
    # Offered again under the same number, from a day after the record (not the old date, not skipped).
    assert (plan.next_phase, plan.next_number) == (record.phase, record.number)
    assert plan.next_due_on > timezone.localdate()


def test_did_not_attend_is_refused_for_a_dose_not_yet_due(clinician, nurse):
    plan = make_plan(clinician, start=timezone.localdate() + timedelta(days=10))
    with pytest.raises(ValidationError, match="not due until"):
        recall_services.dose_did_not_attend(plan=plan, by=nurse)
    assert not DoseRecord.objects.exists()


def test_a_nurse_marks_did_not_attend_on_the_dose_form_without_typing_a_reason(nurse_client, nurse, clinician):
    plan = overdue_plan(clinician, 2)
    page = nurse_client.get(reverse("dose-record", args=[plan.pk]))
    assert "Did not attend" in page.content.decode()
    data = {"phase": plan.next_phase, "number": plan.next_number, "sequence": plan.calendar_sequence}
    response = nurse_client.post(reverse("dose-record", args=[plan.pk]), data | {"outcome": "missed", "reason": ""})
    assert response.status_code == 302
    record = DoseRecord.objects.get(plan=plan)
    assert (record.outcome, record.reason, record.recorded_by) == ("missed", "Did not attend.", nurse)


def test_declined_and_held_still_need_their_reason(clinician, nurse):
    plan = overdue_plan(clinician, 2)
    for outcome in ("declined", "held"):
        with pytest.raises(ValidationError) as refused:
            give(plan, nurse, outcome=outcome, reason="")
        assert "reason" in refused.value.message_dict


def test_a_nurse_marks_did_not_attend_from_the_recall_list(nurse_client, clinician):
    plan = overdue_plan(clinician, 30)
    response = nurse_client.post(reverse("recall-dna", args=[plan.pk]), {"sequence": plan.calendar_sequence})
    assert response.status_code == 302 and response["Location"] == reverse("recall-list")
    assert DoseRecord.objects.get(plan=plan).outcome == "missed"
    assert any("did not attend" in m for m in messages_of(response))


def test_a_stale_did_not_attend_button_records_nothing_more(nurse_client, clinician):
    plan = overdue_plan(clinician, 30)
    stale = {"sequence": plan.calendar_sequence}
    nurse_client.post(reverse("recall-dna", args=[plan.pk]), stale)
    response = nurse_client.post(reverse("recall-dna", args=[plan.pk]), stale)  # a double click
    assert response.status_code == 302
    assert DoseRecord.objects.filter(plan=plan).count() == 1


def test_a_clinician_may_not_record_did_not_attend(clinician_client, clinician):
    plan = overdue_plan(clinician, 30)
    response = clinician_client.post(reverse("recall-dna", args=[plan.pk]), {"sequence": plan.calendar_sequence})
    assert response.status_code == 403
    assert not DoseRecord.objects.exists()


def test_did_not_attend_marks_the_passed_booking_too(clinician, nurse):
    """A booked dose the patient missed: the booking is marked did not attend with the dose (the booking service),
    so the plan's bookings propose the next slot."""
    plan = overdue_plan(clinician, 3)
    from tests.factories import make_location

    yesterday = timezone.now() - timedelta(days=1)
    booking = Appointment.objects.create(
        plan=plan,
        kind="dose",
        phase=plan.next_phase,
        number=plan.next_number,
        due_on=plan.next_due_on,
        location=make_location(),
        starts_at=yesterday,
        slot_minutes=10,
        seat=1,
        capacity=1,
        booked_by=nurse,
    )
    _record, marked = recall_services.dose_did_not_attend(plan=plan, by=nurse)
    assert marked == booking
    booking.refresh_from_db()
    assert booking.status == Appointment.Status.DNA
    assert DoseRecord.objects.get(plan=plan).outcome == "missed"


def test_did_not_attend_waits_for_a_booking_still_to_come(clinician, nurse):
    plan = overdue_plan(clinician, 3)
    from tests.factories import make_location

    Appointment.objects.create(
        plan=plan,
        kind="dose",
        phase=plan.next_phase,
        number=plan.next_number,
        due_on=plan.next_due_on,
        location=make_location(),
        starts_at=timezone.now() + timedelta(days=2),
        slot_minutes=10,
        seat=1,
        capacity=1,
        booked_by=nurse,
    )
    with pytest.raises(ValidationError, match="booked for"):
        recall_services.dose_did_not_attend(plan=plan, by=nurse)


def test_a_dose_not_recorded_by_the_end_of_its_day_shows_as_not_yet_recorded(client, nurse, clinician):
    """Frozen clock: due on Wednesday 3 March 2027; at 23:59 it is due today, a minute later not yet recorded on the
    worklist, the plan page and the patient page."""
    due_day = date(2027, 3, 3)
    with time_machine.travel(datetime(2027, 3, 3, 9, 0, tzinfo=LONDON), tick=False):
        plan = make_plan(clinician, start=due_day)
        assert plan.next_due_on == due_day
    with time_machine.travel(datetime(2027, 3, 3, 23, 59, tzinfo=LONDON), tick=False):
        nurse_client = signed_in(client, nurse)
        worklist = nurse_client.get(reverse("worklist")).content.decode()
        assert "Not yet recorded" not in worklist
        assert "Not yet recorded" not in nurse_client.get(reverse("plan-detail", args=[plan.pk])).content.decode()
    with time_machine.travel(datetime(2027, 3, 4, 0, 1, tzinfo=LONDON), tick=False):
        nurse_client = signed_in(client, nurse)
        response = nurse_client.get(reverse("worklist"))
        overdue = response.content.decode().split('id="wl-overdue"')[1].split("</section>")[0]
        assert plan.patient.display_name in overdue and "Not yet recorded" in overdue
        for page in ("plan-detail", "patient-detail"):
            pk = plan.pk if page == "plan-detail" else plan.patient.pk
            assert "Not yet recorded" in nurse_client.get(reverse(page, args=[pk])).content.decode(), page


def test_did_not_attend_shows_on_the_patient_and_the_plan_with_count_and_dates(nurse_client, clinician, nurse):
    plan = overdue_plan(clinician, 10)
    first = miss(plan, nurse)
    for page, pk in (("plan-detail", plan.pk), ("patient-detail", plan.patient.pk)):
        body = nurse_client.get(reverse(page, args=[pk])).content.decode()
        section = body.split('class="did-not-attend')[1].split("</section>")[0]
        assert 'dna-count">1<' in section, page
        assert f"{first.due_date:%d %b %Y}" in section, page


# ---- Item 4: the recall list --------------------------------------------------------------------------------------


def test_the_recall_list_holds_patients_overdue_by_more_than_the_setting(clinician):
    over = overdue_plan(clinician, 15)
    at_limit = overdue_plan(clinician, 14)
    recent = overdue_plan(clinician, 3)
    ids = [p.pk for p in recalled()]
    assert over.pk in ids
    assert at_limit.pk not in ids and recent.pk not in ids


def test_the_setting_changes_who_is_recalled(clinician):
    plan = overdue_plan(clinician, 8)
    assert plan.pk not in [p.pk for p in recalled()]
    RecallSettings.objects.create(overdue_days=7)
    assert plan.pk in [p.pk for p in recalled()]


def test_two_dnas_in_a_row_recall_a_patient_and_a_dose_given_takes_them_off(clinician, nurse):
    plan = overdue_plan(clinician, 1)
    miss(plan, nurse)
    assert plan.pk not in [p.pk for p in recalled()]  # one DNA, and not waiting long
    plan.refresh_from_db()
    with time_machine.travel(timezone.make_aware(datetime.combine(plan.next_due_on, datetime.min.time()))):
        miss(plan, nurse)  # on the day it was offered again
        rows = recalled()
        assert [p.pk for p in rows] == [plan.pk] and rows[0].dnas_in_a_row == 2
        give(plan, nurse, on=timezone.localdate(), early_reason="Came in when phoned.")
        assert recalled() == []


def test_marking_did_not_attend_does_not_reset_how_long_the_patient_has_waited(clinician, nurse):
    plan = overdue_plan(clinician, 30)
    first_due = plan.next_due_on
    miss(plan, nurse)
    (row,) = recalled()
    assert row.pk == plan.pk and row.due_since == first_due


def test_the_recall_list_empties_as_doses_are_recorded(clinician, nurse):
    plans = [overdue_plan(clinician, 20 + n) for n in range(3)]
    assert len(recalled()) == 3
    for n, plan in enumerate(plans):
        give(plan, nurse, on=timezone.localdate())
        assert len(recalled()) == 2 - n


@pytest.mark.parametrize("patients", [1, 6])
def test_the_recall_list_is_one_query_however_many_patients(clinician, nurse, patients, django_assert_num_queries):
    for n in range(patients):
        plan = overdue_plan(clinician, 20 + n)
        miss(plan, nurse)
        recall_services.contact_attempt_record(
            patient=plan.patient, at=timezone.now(), method="phone", outcome="no_answer", by=nurse
        )
    settings = RecallSettings.current()
    with django_assert_num_queries(1):
        rows = presenters.recall_rows(
            selectors.recall_list(today=timezone.localdate(), settings=settings), today=timezone.localdate()
        )
        assert len(rows) == patients and all(r.last_contact == "Phone: no answer" for r in rows)


def test_the_recall_page_is_a_constant_number_of_queries(nurse_client, clinician, nurse, django_assert_num_queries):
    def queries() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            assert nurse_client.get(reverse("recall-list")).status_code == 200
        return len(captured)

    overdue_plan(clinician, 20)
    one = queries()
    for n in range(4):
        overdue_plan(clinician, 21 + n)
    assert queries() == one


def test_the_recall_page_shows_last_contact_and_next_action(nurse_client, clinician, nurse):
    plan = overdue_plan(clinician, 20)
    body = nurse_client.get(reverse("recall-list")).content.decode()
    assert "Record the dose, or mark did not attend" in body and "None yet" in body
    miss(plan, nurse)
    body = nurse_client.get(reverse("recall-list")).content.decode()
    assert "Phone the patient" in body
    for _ in range(2):
        recall_services.contact_attempt_record(
            patient=plan.patient, at=timezone.now(), method="phone", outcome="no_answer", by=nurse
        )
    body = nurse_client.get(reverse("recall-list")).content.decode()
    assert "Phone: no answer" in body and "Send the recall letter" in body


# ---- Contact attempts ---------------------------------------------------------------------------------------------


def test_a_contact_attempt_is_recorded_with_its_history(nurse_client, nurse, clinician):
    plan = overdue_plan(clinician, 20)
    url = reverse("recall-contact", args=[plan.patient.pk])
    assert nurse_client.get(url).status_code == 200
    assert AccessRecord.objects.filter(patient=plan.patient, what="recall.contacts").exists()
    at = timezone.localtime() - timedelta(hours=1)
    response = nurse_client.post(
        url + "?next=/recall/",
        {"at": at.strftime("%Y-%m-%dT%H:%M"), "method": "phone", "outcome": "message", "note": "Left voicemail."},
    )
    assert response.status_code == 302 and response["Location"] == "/recall/"
    attempt = ContactAttempt.objects.get(patient=plan.patient)
    assert (attempt.method, attempt.outcome, attempt.note, attempt.recorded_by) == (
        "phone",
        "message",
        "Left voicemail.",
        nurse,
    )
    assert attempt.history.get().history_user == nurse
    assert "Phone: left a message" in nurse_client.get(reverse("recall-list")).content.decode()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"method": "carrier_pigeon", "outcome": "reached"}, "method"),
        ({"method": "phone", "outcome": ""}, "outcome"),
        ({"method": "phone", "outcome": "reached", "at": "2999-01-01T10:00"}, "at"),
        ({"method": "phone", "outcome": "reached", "at": ""}, "at"),
    ],
)
def test_a_bad_contact_attempt_names_its_field_and_saves_nothing(nurse_client, clinician, data, field):
    plan = overdue_plan(clinician, 20)
    data = {"at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")} | data
    response = nurse_client.post(reverse("recall-contact", args=[plan.patient.pk]), data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not ContactAttempt.objects.exists()


# ---- The recall letter --------------------------------------------------------------------------------------------


def test_the_recall_letter_says_what_a_letter_needs_and_no_clinical_detail(client, nurse, clinician):
    with time_machine.travel(datetime(2027, 3, 17, 10, 0, tzinfo=LONDON), tick=False):
        nurse_client = signed_in(client, nurse)
        plan = make_plan(clinician, start=date(2027, 2, 1), family_name="Okafor", given_name="Ada")
        response = nurse_client.get(reverse("recall-letter", args=[plan.patient.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    letter = body.split('class="recall-letter')[1].split("</article>")[0]
    assert "Dear Ada Okafor" in letter
    assert "17 March 2027" in letter  # written on, en-GB
    assert "1 February 2027" in letter  # due since
    for clinical in ("B12", "hydroxocobalamin", "deficien", "mg", "neurolog"):
        assert clinical.lower() not in letter.lower(), clinical
    assert AccessRecord.objects.filter(patient=plan.patient, what="recall.letter").count() == 1


def test_a_week_day_by_day_dnas_appear_and_the_recall_list_fills_and_empties(clinician, nurse):
    """Frozen clock, Mon 1 to Fri 5 March 2027, recall after 3 days waiting or 2 doses not attended in a row."""
    from tests.factories import ILEAL

    RecallSettings.objects.create(overdue_days=3, dnas_in_a_row=2)

    def day(n: int):
        return time_machine.travel(datetime(2027, 3, n, 12, 0, tzinfo=LONDON), tick=False)

    def listed() -> list[str]:
        return [p.patient.family_name for p in recalled()]

    with day(1):
        a = make_plan(clinician, ILEAL, start=date(2027, 3, 1), every=1, family_name="Adams")
        b = make_plan(clinician, ILEAL, start=date(2027, 3, 1), every=1, family_name="Brown")
        assert presenters.recall_rows([*recalled()], today=timezone.localdate()) == []
    with day(2):
        states = [dose_state(p.next_due_on, timezone.localdate()) for p in (a, b)]
        assert states == [DoseState.NOT_YET_RECORDED] * 2
        recall_services.dose_did_not_attend(plan=a, by=nurse)
        assert listed() == []
    with day(3):
        a.refresh_from_db()
        assert a.next_due_on == date(2027, 3, 3)
        recall_services.dose_did_not_attend(plan=a, by=nurse)
        assert listed() == ["Adams"]  # two in a row
    with day(4):
        assert listed() == ["Adams"]  # Brown has waited 3 days: not more than 3
    with day(5):
        assert listed() == ["Adams", "Brown"]  # the longest waiting first (both since Monday)
        give(a, nurse, on=date(2027, 3, 5))
        assert listed() == ["Brown"]
        give(b, nurse, on=date(2027, 3, 5))
        assert listed() == []


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(waited=st.integers(0, 40), limit=st.integers(1, 30), dnas=st.integers(0, 3))
def test_recalled_exactly_when_waiting_too_long_or_not_attending_in_a_row(clinician, nurse, waited, limit, dnas):
    """Whatever the wait, the setting and the doses not attended: on the list if and only if the dose has waited
    more than the setting's days (from the day it first fell due) or the last two records are did-not-attend."""
    with transaction.atomic():
        RecallSettings.objects.update_or_create(pk=1, defaults={"overdue_days": limit, "dnas_in_a_row": 2})
        plan = overdue_plan(clinician, waited)
        first_due = plan.next_due_on
        for _ in range(dnas):
            miss_on_its_day(plan, nurse)  # each on the day it was offered again
        waited_days = (timezone.localdate() - first_due).days
        assert (plan.pk in [p.pk for p in recalled()]) == (waited_days > limit or dnas >= 2)
        transaction.set_rollback(True)


def test_a_nurse_marks_did_not_attend_from_the_worklist_and_stays_on_it(nurse_client, clinician):
    plan = overdue_plan(clinician, 2)
    worklist = nurse_client.get(reverse("worklist")).content.decode()
    overdue = worklist.split('id="wl-overdue"')[1].split("</section>")[0]
    assert reverse("recall-dna", args=[plan.pk]) in overdue and "Did not attend" in overdue
    response = nurse_client.post(
        reverse("recall-dna", args=[plan.pk]), {"sequence": plan.calendar_sequence, "next": "/worklist/"}
    )
    assert response["Location"] == "/worklist/"
    assert DoseRecord.objects.get(plan=plan).get_outcome_display() == "Did not attend"
