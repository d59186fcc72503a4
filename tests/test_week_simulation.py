"""Issue 16's week, day by day on a frozen clock, through reminders, did-not-attend and recall together: each
reminder goes out once per appointment, a dose not recorded shows as such and becomes a DNA, the recall list fills
and empties as doses are recorded."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from recommender.models import RecallSettings, ReminderSend
from recommender.recall import selectors as recall_selectors
from recommender.recall import services as recall_services
from recommender.reminders import providers, tasks
from recommender.vocabulary import DoseState, dose_state
from tests.factories import give, make_plan
from tests.test_reminders import LONDON, consent

MONDAY = date(2026, 12, 7)
THURSDAY = MONDAY + timedelta(days=3)


@pytest.fixture
def sms(settings):
    settings.B12_SMS_PROVIDER = "fake"
    return providers.fake_sms_provider()


def recalled() -> list[str]:
    today = timezone.localdate()
    return [p.patient.family_name for p in recall_selectors.recall_list(today=today, settings=RecallSettings.current())]


def test_a_week_of_reminders_dnas_and_recall(clinician, nurse, sms):
    RecallSettings.objects.create(overdue_days=3, dnas_in_a_row=2)
    with time_machine.travel(datetime(2026, 12, 7, 10, 0, tzinfo=LONDON), tick=False) as clock:
        comes = make_plan(clinician, start=THURSDAY, family_name="Comes")
        stays_away = make_plan(clinician, start=THURSDAY, family_name="Awayday")
        consent(comes.patient, clinician)
        consent(stays_away.patient, clinician, by_sms=True)
        listed: dict[date, list[str]] = {}
        for offset in range(8):  # Monday 7 to Monday 14 December, 10:00 each day
            day = MONDAY + timedelta(days=offset)
            clock.move_to(datetime.combine(day, datetime.min.time().replace(hour=10), tzinfo=LONDON))
            tasks.plan_reminders(on=day)
            tasks.plan_reminders(on=day)  # the daily run twice (a retried cron job): nothing more is sent
            for plan in (comes, stays_away):
                plan.refresh_from_db()
            if day == THURSDAY + timedelta(days=1):
                # Thursday's dose was not recorded: on Friday it says so, and the nurse marks it did not attend.
                assert dose_state(stays_away.next_due_on, day) == DoseState.NOT_YET_RECORDED
                recall_services.dose_did_not_attend(plan=stays_away, by=nurse)
            if comes.next_due_on == day:
                give(comes, nurse)
            listed[day] = recalled()

        # Recall: not on the first days; the patient who stayed away once the dose has waited more than 3 days
        # (from Thursday, the day it first fell due), never the one who came.
        assert all(listed[MONDAY + timedelta(days=n)] == [] for n in range(7)), listed  # Monday to Sunday
        assert listed[MONDAY + timedelta(days=7)] == ["Awayday"]  # the next Monday: waiting since Thursday
        # ...and off it once the dose is given.
        stays_away.refresh_from_db()
        give(stays_away, nurse)
        assert recalled() == []

    sends = list(ReminderSend.objects.all())
    assert sends and {send.status for send in sends} == {"sent"}
    assert len(mail.outbox) + len(sms.sent) == len(sends), "one message per reminder"
    per_appointment = Counter((s.patient_id, s.appointment_on, s.kind) for s in sends)
    assert max(per_appointment.values()) == 1, "never two reminders for one appointment"
    away = [(s.kind, s.appointment_on) for s in sends if s.patient_id == stays_away.patient_id]
    assert ("before", THURSDAY) in away and ("overdue", THURSDAY) in away
