"""Patient reminders (issue 16 items 1, 2, 6): planned once per appointment and kind, sent by email (a real local
SMTP server) or SMS (the provider interface), retried with back-off, then listed for staff; contact details for the
roles that need them, audited; settings for admins only."""

from __future__ import annotations

import json
import socket
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import jwt
import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.core import mail
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from recommender.models import AccessRecord, ContactPreference, ReminderAttempt, ReminderSend, ReminderSettings
from recommender.reminders import providers, selectors, services, tasks
from recommender.reminders.messages import reminder_text
from tests.factories import give, make_assessment, make_location, make_patient, make_plan, make_sessions

LONDON = ZoneInfo("Europe/London")
# Monday 7 December 2026, 10:00 in the clinic: reminders planned today go at once (the window has opened).
MONDAY = date(2026, 12, 7)
THURSDAY = MONDAY + timedelta(days=3)


@pytest.fixture
def clock():
    with time_machine.travel(datetime(2026, 12, 7, 10, 0, tzinfo=LONDON), tick=False) as traveller:
        yield traveller


@pytest.fixture
def sms(settings):
    settings.B12_SMS_PROVIDER = "fake"
    return providers.fake_sms_provider()


def consent(patient, by, *, by_sms=False, window="any") -> ContactPreference:
    return services.contact_preference_save(
        patient=patient,
        email="pat@example.org",
        mobile="07700 900123",
        consent="sms" if by_sms else "email",
        window=window,
        by=by,
    )


def plan_due_thursday(by, **kwargs):
    """A plan whose first loading dose is due on Thursday, three days after the frozen Monday."""
    plan = make_plan(by, start=THURSDAY, **kwargs)
    assert plan.next_due_on == THURSDAY
    return plan


# Planning and sending ----------------------------------------------------------------------------------------------


def test_a_reminder_goes_three_days_before_and_once_only(clock, clinician):
    plan = plan_due_thursday(clinician)
    consent(plan.patient, clinician)

    assert tasks.plan_reminders(on=MONDAY) == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["pat@example.org"]
    assert message.body == "You have an appointment at the clinic on Thursday 10 December 2026."
    send = ReminderSend.objects.get()
    assert (send.status, send.attempts, send.provider_id) == ("sent", 1, message.extra_headers["Message-ID"])
    assert [a.status for a in send.log.all()] == ["sending", "sent"]

    # Planned again the same day, and the next days: nothing more for this appointment.
    assert tasks.plan_reminders(on=MONDAY) == 0
    assert tasks.plan_reminders(on=MONDAY + timedelta(days=1)) == 0
    assert len(mail.outbox) == 1


def test_nothing_before_the_window_of_days_and_nothing_without_consent(clock, clinician):
    plan = plan_due_thursday(clinician)
    assert tasks.plan_reminders(on=MONDAY) == 0  # no contact preference at all
    services.contact_preference_save(
        patient=plan.patient, email="pat@example.org", mobile="", consent="none", window="any", by=clinician
    )
    assert tasks.plan_reminders(on=MONDAY) == 0
    consent(plan.patient, clinician)
    assert tasks.plan_reminders(on=MONDAY - timedelta(days=1)) == 0  # four days before
    assert mail.outbox == []


def test_the_days_before_is_the_admins_setting(clock, clinician):
    plan = plan_due_thursday(clinician)
    consent(plan.patient, clinician)
    ReminderSettings.objects.update_or_create(pk=1, defaults={"days_before": 1})
    assert tasks.plan_reminders(on=MONDAY) == 0
    assert tasks.plan_reminders(on=THURSDAY - timedelta(days=1)) == 1


def test_a_text_message_goes_through_the_provider_with_its_id_logged(clock, clinician, sms):
    plan = plan_due_thursday(clinician)
    consent(plan.patient, clinician, by_sms=True)
    tasks.plan_reminders(on=MONDAY)
    assert [(m["to"], m["body"]) for m in sms.sent] == [
        ("+447700900123", "You have an appointment at the clinic on Thursday 10 December 2026.")
    ]
    send = ReminderSend.objects.get()
    assert send.provider_id == sms.sent[0]["id"] and send.log.filter(provider_id=send.provider_id).exists()
    assert mail.outbox == []


def test_a_booked_appointment_is_reminded_with_its_place_and_the_unbooked_dose_is_not(clock, clinician, nurse):
    from recommender.appointments import selectors as booking
    from recommender.appointments import services as booking_services

    location = make_location("Riverside Surgery")
    make_sessions(location, weekdays=(3,))
    plan = plan_due_thursday(clinician)
    consent(plan.patient, clinician)
    due = next(d for d in booking.plan_to_book(plan, today=MONDAY) if d.kind == "dose")
    slot = booking.slot_proposal(due=due, location=location, today=MONDAY).slot
    appointment = booking_services.appointment_book(
        plan=plan,
        kind="dose",
        phase=due.phase,
        number=due.number,
        location=location,
        starts_at=slot.starts_at,
        by=nurse,
    )
    assert tasks.plan_reminders(on=MONDAY) == 1
    send = ReminderSend.objects.get()
    assert send.appointment_key == f"appointment:{appointment.pk}"
    assert mail.outbox[0].body == "You have an appointment at Riverside Surgery on Thursday 10 December 2026."


def test_an_overdue_dose_is_reminded_once(clock, clinician):
    plan = make_plan(clinician, start=MONDAY - timedelta(days=4))  # Thursday last week: its first dose not given
    assert plan.next_due_on == MONDAY - timedelta(days=4)
    consent(plan.patient, clinician)
    assert tasks.plan_reminders(on=MONDAY) == 1
    assert ReminderSend.objects.get().kind == "overdue"
    assert mail.outbox[0].body == (
        "You had an appointment at the clinic on Thursday 3 December 2026. "
        "Please contact the clinic to arrange a new one."
    )
    assert tasks.plan_reminders(on=MONDAY + timedelta(days=1)) == 0
    assert len(mail.outbox) == 1


def test_a_preferred_evening_waits_for_the_evening(clock, clinician):
    plan = plan_due_thursday(clinician)
    consent(plan.patient, clinician, window="evening")
    assert tasks.plan_reminders(on=MONDAY) == 1
    send = ReminderSend.objects.get()
    assert send.status == "queued" and timezone.localtime(send.next_attempt_at).hour == 17
    assert mail.outbox == []
    assert tasks.run_due_reminders() == 0
    clock.move_to(datetime(2026, 12, 7, 17, 0, tzinfo=LONDON))
    assert tasks.run_due_reminders() == 1
    assert len(mail.outbox) == 1


def test_send_reminders_command_is_idempotent(clock, clinician, capsys):
    plan = plan_due_thursday(clinician)
    consent(plan.patient, clinician)
    call_command("send_reminders", "--on", "2026-12-07")
    call_command("send_reminders", "--on", "2026-12-07")
    out = capsys.readouterr().out
    assert "1 reminders planned" in out and "0 reminders planned" in out
    assert len(mail.outbox) == 1
    with pytest.raises(CommandError, match="--on"):
        call_command("send_reminders", "--on", "07/12/2026")


# Failures: retries with back-off, then the staff list ---------------------------------------------------------------


def test_a_failing_send_retries_with_back_off_then_shows_on_the_staff_list(clock, clinician, client, nurse, sms):
    plan = plan_due_thursday(clinician)
    consent(plan.patient, clinician, by_sms=True)
    sms.fail_next = 99
    start = timezone.now()
    tasks.plan_reminders(on=MONDAY)  # attempt 1
    send = ReminderSend.objects.get()
    waits = []
    while send.status == "retry":
        waits.append(send.next_attempt_at - timezone.now())
        clock.move_to(send.next_attempt_at - timedelta(seconds=1))
        assert tasks.run_due_reminders() == 0  # not before its time
        send.refresh_from_db()
        assert send.status == "retry"
        clock.move_to(send.next_attempt_at)
        tasks.run_due_reminders()
        send.refresh_from_db()
    assert waits == [timedelta(minutes=15), timedelta(minutes=30), timedelta(minutes=60)]
    assert (send.status, send.attempts, send.sent_at) == ("failed", 4, None)
    assert send.log.filter(status="sending").count() == 4 and send.log.filter(status="failed").count() == 1
    assert timezone.now() - start == timedelta(minutes=105)
    assert sms.sent == []

    client.force_login(nurse)
    page = client.get(reverse("reminders-failed")).content.decode()
    assert plan.patient.display_name in page and "+447700900123" in page
    assert "The test provider refused the message." in page
    # Planned again: the failed reminder is not planned twice.
    assert tasks.plan_reminders(on=MONDAY) == 0


def test_a_retry_that_works_is_sent_once(clock, clinician, sms):
    plan = plan_due_thursday(clinician)
    consent(plan.patient, clinician, by_sms=True)
    sms.fail_next = 1
    tasks.plan_reminders(on=MONDAY)
    clock.shift(timedelta(minutes=15))
    assert tasks.run_due_reminders() == 1
    assert tasks.run_due_reminders() == 0
    assert len(sms.sent) == 1 and ReminderSend.objects.get().status == "sent"


# Email through a real SMTP server -----------------------------------------------------------------------------------


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's hook name
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": controller.port, "use_tls": False, "timeout": 5},
        }
    }
    yield inbox
    controller.stop()


def test_email_reaches_a_real_smtp_server(clock, clinician, smtp_server):
    plan = plan_due_thursday(clinician)
    consent(plan.patient, clinician)
    tasks.plan_reminders(on=MONDAY)
    [envelope] = smtp_server.messages
    assert envelope.rcpt_tos == ["pat@example.org"]
    text = envelope.content.decode()
    assert "Subject: Appointment reminder" in text
    assert "You have an appointment at the clinic on Thursday 10 December 2026." in text
    send = ReminderSend.objects.get()
    assert send.status == "sent" and f"Message-ID: {send.provider_id}" in text


def test_a_mail_server_that_is_down_is_a_retry(clock, clinician, settings):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": free_port(), "use_tls": False, "timeout": 2},
        }
    }
    plan = plan_due_thursday(clinician)
    consent(plan.patient, clinician)
    tasks.plan_reminders(on=MONDAY)
    send = ReminderSend.objects.get()
    assert send.status == "retry" and "mail server" in send.last_error


# What a message may say -----------------------------------------------------------------------------------------

CLINICAL_WORDS = (
    "b12",
    "vitamin",
    "injection",
    "hydroxocobalamin",
    "cobalamin",
    "dose",
    "deficien",
    "anaemia",
    "mg",
    "neurolog",
    "pregnan",
    "bariatric",
    "ileal",
    "folic",
    "review",
    "result",
    "blood",
)


@hypothesis_settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    neuro=st.booleans(),
    pregnant=st.booleans(),
    bariatric=st.booleans(),
    folic=st.booleans(),
    by_sms=st.booleans(),
    family=st.text(alphabet=st.characters(categories=["Lu", "Ll"]), min_size=2, max_size=12),
)
def test_no_message_carries_clinical_detail_or_the_patients_name(
    clinician, sms, neuro, pregnant, bariatric, folic, by_sms, family
):
    with time_machine.travel(datetime(2026, 12, 7, 10, 0, tzinfo=LONDON), tick=False):
        payload = {
            "b12": {"value": 150, "unit": "pg/mL"},
            "neurological_involvement": neuro,
            "pregnant": pregnant,
            "bariatric_surgery": bariatric,
            "folic_acid": folic,
        }
        plan = make_plan(clinician, payload, start=THURSDAY, family_name=f"Zz{family}")
        consent(plan.patient, clinician, by_sms=by_sms)
        mail.outbox.clear()
        sms.sent.clear()
        tasks.plan_reminders(on=MONDAY)
        bodies = [m.body + m.subject for m in mail.outbox] + [m["body"] for m in sms.sent]
        assert bodies
        for body in bodies:
            lowered = body.lower()
            assert not [word for word in CLINICAL_WORDS if word in lowered], body
            assert plan.patient.family_name.lower() not in lowered and plan.patient.hospital_number not in body


@given(kind=st.sampled_from(["before", "overdue"]), day=st.dates(date(2020, 1, 1), date(2040, 12, 31)))
def test_the_date_is_written_the_british_way(kind, day):
    body = reminder_text(kind=kind, place="Riverside Surgery", on=day).body
    assert f"{day:%A} {day.day} {day:%B} {day.year}" in body and "Riverside Surgery" in body


# Contact details: who sees them, who changes them -------------------------------------------------------------------


def test_a_nurse_records_contact_details_kept_in_history_and_the_look_is_audited(nurse_client, nurse, clinician):
    patient = make_patient(by=clinician)
    url = reverse("patient-contact-edit", args=[patient.pk])
    response = nurse_client.post(url, {"consent": "sms", "email": "", "mobile": "07700 900123", "window": "morning"})
    assert response.status_code == 302
    contact = ContactPreference.objects.get(patient=patient)
    assert (contact.consent, contact.mobile, contact.window) == ("sms", "+447700900123", "morning")
    nurse_client.post(url, {"consent": "none", "email": "", "mobile": "07700 900123", "window": "morning"})
    assert [h.consent for h in ContactPreference.history.order_by("history_date")] == ["sms", "none"]
    assert ContactPreference.history.latest("history_date").history_user == nurse

    page = nurse_client.get(reverse("patient-contact", args=[patient.pk])).content.decode()
    assert "+447700900123" in page
    assert AccessRecord.objects.filter(patient=patient, what="contact.view", user=nurse).exists()


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"consent": "sms", "mobile": "12345"}, "mobile", "Enter a UK mobile number"),
        ({"consent": "sms", "mobile": ""}, "mobile", "need a mobile number"),
        ({"consent": "email", "email": ""}, "email", "need an email address"),
        ({"consent": "email", "email": "not-an-address"}, "email", "Enter an email address"),
        ({"consent": "carrier pigeon"}, "consent", "Select a valid choice"),
    ],
)
def test_bad_contact_details_are_refused_naming_the_field(clinician_client, clinician, data, field, words):
    patient = make_patient(by=clinician)
    form = {"consent": "none", "email": "", "mobile": "", "window": "any"} | data
    response = clinician_client.post(reverse("patient-contact-edit", args=[patient.pk]), form)
    assert response.status_code == 200
    assert words in " ".join(response.context["form"].errors[field])
    assert not ContactPreference.objects.exists()


def test_the_patient_page_links_to_contact_details_only_for_the_roles_that_need_them(
    client, nurse, admin_user, clinician
):
    patient = make_patient(by=clinician)
    contact_url = reverse("patient-contact", args=[patient.pk])
    client.force_login(nurse)
    assert contact_url in client.get(reverse("patient-detail", args=[patient.pk])).content.decode()
    client.force_login(admin_user)
    assert contact_url not in client.get(reverse("patient-detail", args=[patient.pk])).content.decode()
    assert client.get(contact_url).status_code == 403


def test_only_admins_change_reminder_settings(client, admin_user, nurse, clinician):
    url = reverse("admin:recommender_remindersettings_add")
    client.force_login(admin_user)
    response = client.post(url, {"days_before": "5", "max_attempts": "3", "retry_minutes": "10"})
    assert response.status_code == 302
    assert selectors.reminder_settings().days_before == 5
    assert ReminderSettings.history.get().history_user == admin_user
    assert client.get(url).status_code == 403  # one row only
    change = reverse("admin:recommender_remindersettings_change", args=[1])
    for user in (nurse, clinician):
        client.force_login(user)
        assert client.post(change, {"days_before": "1", "max_attempts": "1", "retry_minutes": "1"}).status_code == 302
        assert selectors.reminder_settings().days_before == 5  # sent to the admin's login page, nothing changed


# The SMS provider's real API shape (never called here: no network) -------------------------------------------------

SERVICE_ID = "26785a09-ab16-4eb0-8407-a37497a57506"
SECRET = "3d844edf-8d35-48ac-975b-e847b4f122b0"


def test_the_notify_request_has_govuk_notifys_shape():
    provider = providers.NotifySmsProvider(
        api_key=f"b12_test-{SERVICE_ID}-{SECRET}",
        template_id="f33517ff-2a88-4f6e-b855-c550268ce08a",
        base_url="https://api.notifications.service.gov.uk",
    )
    request = provider.request_for(to="+447700900123", body="You have an appointment.", reference="r-1")
    assert request.get_method() == "POST"
    assert request.full_url == "https://api.notifications.service.gov.uk/v2/notifications/sms"
    assert json.loads(request.data) == {
        "phone_number": "+447700900123",
        "template_id": "f33517ff-2a88-4f6e-b855-c550268ce08a",
        "personalisation": {"message": "You have an appointment."},
        "reference": "r-1",
    }
    token = request.get_header("Authorization").removeprefix("Bearer ")
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert claims["iss"] == SERVICE_ID and abs(claims["iat"] - timezone.now().timestamp()) < 60


def test_a_malformed_notify_key_is_a_delivery_error_not_a_crash():
    with pytest.raises(providers.DeliveryError, match="B12_NOTIFY_API_KEY"):
        providers.notify_token("short")


# Several workers at once never send twice ------------------------------------------------------------------------


def test_two_claims_of_one_reminder_send_it_once(clock, clinician, sms):
    """The claim itself, whatever the database: a reminder already sending or sent is not taken again."""
    plan = plan_due_thursday(clinician)
    consent(plan.patient, clinician, by_sms=True, window="evening")
    tasks.plan_reminders(on=MONDAY)
    send_id = ReminderSend.objects.get().pk
    later = timezone.now() + timedelta(hours=8)
    first = services.reminder_send(send_id=send_id, worker="a", now=later)
    second = services.reminder_send(send_id=send_id, worker="b", now=later)
    assert first.status == "sent" and second is None and len(sms.sent) == 1
    assert ReminderAttempt.objects.filter(status="sent").count() == 1


def test_a_monitoring_visit_is_reminded_unless_its_results_came(clock, clinician):
    reviewed = make_plan(clinician, start=date(2026, 9, 10))  # first review three months on: Thursday 10 December
    unreviewed = make_plan(clinician, start=date(2026, 9, 10))
    for plan in (reviewed, unreviewed):
        consent(plan.patient, clinician)
    make_assessment(reviewed.patient, clinician, sample_date=date(2026, 12, 1))  # results for the visit
    assert tasks.plan_reminders(on=MONDAY) == 1
    send = ReminderSend.objects.get()
    assert (send.appointment_key, send.patient_id) == (f"review:{unreviewed.pk}:2026-12-10", unreviewed.patient_id)
    assert mail.outbox[0].body == "You have an appointment at the clinic on Thursday 10 December 2026."


@pytest.mark.parametrize(
    ("provider", "key", "template", "codes"),
    [
        ("carrier-pigeon", "", "", ["recommender.E101"]),
        ("notify", "short", "", ["recommender.E102", "recommender.E103"]),
        ("notify", f"b12-{SERVICE_ID}-{SECRET}", "f33517ff-2a88-4f6e-b855-c550268ce08a", []),
        ("log", "", "", []),
    ],
)
def test_a_misconfigured_sms_provider_stops_the_start(settings, provider, key, template, codes):
    from recommender.reminders.checks import check_sms_provider

    settings.B12_SMS_PROVIDER, settings.B12_NOTIFY_API_KEY, settings.B12_NOTIFY_TEMPLATE_ID = provider, key, template
    assert [error.id for error in check_sms_provider()] == codes


def test_a_week_day_by_day_sends_each_reminder_once(clock, clinician, nurse, sms):
    """Monday to Sunday at 10:00: the daily run, then the nurse's doses of the day. One patient comes to every dose;
    the other misses the first (not recorded at all): one overdue reminder, once."""
    comes = plan_due_thursday(clinician)
    misses = plan_due_thursday(clinician)
    consent(comes.patient, clinician)
    consent(misses.patient, clinician, by_sms=True)
    for offset in range(7):
        day = MONDAY + timedelta(days=offset)
        clock.move_to(datetime.combine(day, datetime.min.time().replace(hour=10), tzinfo=LONDON))
        tasks.plan_reminders(on=day)
        tasks.plan_reminders(on=day)  # a second run the same day (a retried cron job) changes nothing
        comes.refresh_from_db()
        if comes.next_due_on == day:
            give(comes, nurse)

    sends = list(ReminderSend.objects.order_by("created_at"))
    assert {send.status for send in sends} == {"sent"}
    assert len(mail.outbox) + len(sms.sent) == len(sends)
    came = [(s.kind, s.appointment_on) for s in sends if s.patient_id == comes.patient_id]
    # Doses on Thursday 10 and Monday 14 December (a clear day between loading doses), each reminded once, 3 days
    # ahead or as soon as it was due (the second only once the first was given).
    assert came == [("before", THURSDAY), ("before", date(2026, 12, 14))]
    missed = [(s.kind, s.appointment_on, s.channel) for s in sends if s.patient_id == misses.patient_id]
    assert missed == [("before", THURSDAY, "sms"), ("overdue", THURSDAY, "sms")]


def test_a_send_interrupted_by_a_stopped_worker_is_listed_not_sent_again(clock, clinician, client, nurse, sms):
    plan = plan_due_thursday(clinician)
    consent(plan.patient, clinician, by_sms=True, window="evening")
    tasks.plan_reminders(on=MONDAY)
    send = ReminderSend.objects.get()
    # A worker took it and stopped before it could say what happened.
    ReminderSend.objects.filter(pk=send.pk).update(status="sending", attempts=1)
    clock.shift(timedelta(hours=9))
    assert tasks.run_due_reminders() == 0 and tasks.enqueue_lost() == 0
    client.force_login(nurse)
    page = client.get(reverse("reminders-failed")).content.decode()
    assert "sending was interrupted" in page and plan.patient.display_name in page
    assert sms.sent == []


@pytest.mark.parametrize("raw", ["07٧00 900123", "07700 9001²3", "０７７００ ９００１２３"])
def test_a_mobile_number_in_digits_other_than_ascii_is_refused_not_stored(raw):
    """Found by probing: "٧".isdigit() is true, and such a number would reach the text-message gateway as is."""
    from django.core.exceptions import ValidationError

    from recommender.reminders.services import normalise_mobile

    with pytest.raises(ValidationError):
        normalise_mobile(raw)
    assert normalise_mobile("07700 900123") == "+447700900123"
