"""Writes for reminders: a patient's contact preference, planning a day's reminders (insert-or-nothing on the
idempotency key, in batches) and sending one reminder (claimed under a row lock, so that however many workers run
the same task, it goes once), with retries and back-off."""

from __future__ import annotations

import logging
import smtplib
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, make_msgid
from django.db import connection, transaction
from django.utils import timezone

from recommender.models import ContactPreference, Patient, ReminderAttempt, ReminderSend
from recommender.records import save_record

from . import selectors
from .messages import reminder_text
from .providers import DeliveryError, sms_provider

log = logging.getLogger("recommender.reminders")

# When, on the day planned, a patient's reminders go out (local time): the start of the window they chose.
WINDOW_STARTS = {
    ContactPreference.Window.ANY: time(9, 0),
    ContactPreference.Window.MORNING: time(9, 0),
    ContactPreference.Window.AFTERNOON: time(12, 0),
    ContactPreference.Window.EVENING: time(17, 0),
}
# Reminders inserted (and handed to one task) at a time: a fixed number of queries per batch.
BATCH_SIZE = 1000
# The longest error kept on a reminder and in its log.
ERROR_MAX_LENGTH = 300
# A UK mobile number: 07 and nine digits, or +44 7 and nine digits (spaces and dashes ignored).
UK_MOBILE_DIGITS = 11


def normalise_mobile(raw: str) -> str:
    """ "07700 900123" or "+44 7700 900123" → "+447700900123"; "" stays ""; anything else is refused."""
    digits = "".join(ch for ch in raw if ch not in " -()")
    if not digits:
        return ""
    if digits.startswith("+44"):
        digits = "0" + digits[3:]
    if not (digits.isascii() and digits.isdigit() and len(digits) == UK_MOBILE_DIGITS and digits.startswith("07")):
        raise ValidationError({"mobile": "Enter a UK mobile number, like 07700 900123."})
    return "+44" + digits[1:]


@transaction.atomic
def contact_preference_save(
    *, patient: Patient, email: str, mobile: str, consent: str, window: str, by
) -> ContactPreference:
    """Create or change the patient's contact details and consent; the previous ones stay in the history."""
    preference = ContactPreference.objects.select_for_update().filter(patient=patient).first() or ContactPreference(
        patient=patient
    )
    preference.email = email.strip()
    preference.mobile = normalise_mobile(mobile)
    preference.consent = consent
    preference.window = window
    preference.updated_by = by
    errors = {}
    if consent == ContactPreference.Consent.EMAIL and not preference.email:
        errors["email"] = "Reminders by email need an email address."
    if consent == ContactPreference.Consent.SMS and not preference.mobile:
        errors["mobile"] = "Reminders by text message need a mobile number."
    if errors:
        raise ValidationError(errors)
    save_record(preference, by=by)
    return preference


def send_time(*, on: date, window: str, now: datetime) -> datetime:
    """The first moment a reminder planned for ``on`` may go: the start of the patient's window, never the past."""
    start = timezone.make_aware(datetime.combine(on, WINDOW_STARTS.get(window, time(9, 0))))
    return max(start, now)


@dataclass(frozen=True, slots=True)
class Batch:
    """Reminders just planned, to go together at ``run_after``."""

    ids: list
    run_after: datetime


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# The columns a planned reminder is inserted with (the rest keep their database defaults: empty or NULL).
_PLANNED = (
    "id",
    "appointment_key",
    "kind",
    "patient",
    "appointment_on",
    "place",
    "channel",
    "to",
    "status",
    "attempts",
    "next_attempt_at",
    "provider_id",
    "last_error",
    "created_at",
)


def _insert_new(rows: list[dict]) -> list[uuid.UUID]:
    """Insert-or-nothing on (appointment key, kind) in one statement, ``INSERT … ON CONFLICT DO NOTHING RETURNING``
    (PostgreSQL and SQLite alike): the ids of the rows this call created; a row another planner inserted first is
    left alone. Written out rather than bulk_create, whose per-object work cost more than the database's here (the
    rows come from the database's own reads, built by reminders_plan: nothing typed by a user)."""
    meta = ReminderSend._meta
    fields = [meta.get_field(name) for name in _PLANNED]
    quote = connection.ops.quote_name
    columns = [[field.get_db_prep_save(row[field.name], connection) for row in rows] for field in fields]
    if connection.vendor == "postgresql":
        # One array a column (as Django's own bulk_create does there): 14 parameters, not 14 a row.
        casts = ", ".join(f"%s::{field.db_type(connection)}[]" for field in fields)
        values = f"SELECT * FROM unnest({casts})"  # noqa: S608 (column types from the model)
        params = columns
    else:
        values = "VALUES " + ", ".join(["(" + ", ".join(["%s"] * len(fields)) + ")"] * len(rows))
        params = [value for row in zip(*columns, strict=True) for value in row]
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) "
        f"{values} ON CONFLICT DO NOTHING RETURNING {quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [uuid.UUID(str(value)) for (value,) in cursor.fetchall()]


def reminders_plan(
    *, on: date, now: datetime | None = None, due: Iterable[selectors.Due] | None = None, batch_size=BATCH_SIZE
) -> Iterator[Batch]:
    """Plan the reminders for ``on``: each due appointment not reminded yet gets a row (the database's unique key
    refuses a second one, whoever plans at the same time); yields the new rows in batches, grouped by the time
    they may go. Running it again for the same day plans nothing more."""
    now = now or timezone.now()
    if due is None:
        due = selectors.due_on(on=on, days_before=selectors.reminder_settings().days_before)
    by_time: dict[datetime, list[dict]] = defaultdict(list)
    for item in due:
        at = send_time(on=on, window=item.window, now=now)
        by_time[at].append(
            {
                "id": uuid.uuid4(),
                "appointment_key": item.key,
                "kind": item.kind,
                "patient": item.patient_id,
                "appointment_on": item.on,
                "place": item.place[: ReminderSend._meta.get_field("place").max_length],
                "channel": item.channel,
                "to": item.to,
                "status": ReminderSend.Status.QUEUED,
                "attempts": 0,
                "next_attempt_at": at,
                "provider_id": "",
                "last_error": "",
                "created_at": now,
            }
        )
    for at, rows in sorted(by_time.items()):
        for chunk in _chunks(rows, batch_size):
            ids = _insert_new(chunk)
            if ids:
                log.info("reminders planned on=%s count=%d run_after=%s", on, len(ids), at.isoformat())
                yield Batch(ids, at)


def _deliver(send: ReminderSend) -> str:
    """Send one reminder by its channel; the provider's id (or the email's Message-ID)."""
    text = reminder_text(kind=send.kind, place=send.place, on=send.appointment_on)
    if send.channel == ReminderSend.Channel.SMS:
        return sms_provider().send(to=send.to, body=text.body, reference=str(send.pk))
    message_id = make_msgid(domain="b12.invalid")
    email = EmailMessage(
        text.subject, text.body, settings.B12_REMINDER_FROM_EMAIL, [send.to], headers={"Message-ID": message_id}
    )
    try:
        email.send()
    except (smtplib.SMTPException, OSError) as error:
        raise DeliveryError(f"The mail server did not take the message ({type(error).__name__}).") from None
    return message_id


def _claim(send_id, *, now: datetime, worker: str) -> ReminderSend | None:
    """Take one ready reminder for this worker, or None if another has it or it is not ready. The row lock
    (skipped, not waited for) and the status change commit before anything is sent."""
    with transaction.atomic():
        send = selectors.sends_ready(now=now, ids=[send_id]).select_for_update(skip_locked=True).first()
        if send is None:
            return None
        send.status = ReminderSend.Status.SENDING
        send.attempts += 1
        send.next_attempt_at = now
        send.save(update_fields=["status", "attempts", "next_attempt_at"])
        ReminderAttempt.objects.create(send=send, at=now, status=ReminderSend.Status.SENDING, worker=worker[:64])
        return send


def reminder_send(*, send_id, worker: str = "", now: datetime | None = None) -> ReminderSend | None:
    """Send one reminder if it is ready and nobody else is sending it; record what came of it. A failure is retried
    after ``retry_minutes`` × 2^(tries − 1) until ``max_attempts`` tries, then shows on the staff list."""
    now = now or timezone.now()
    send = _claim(send_id, now=now, worker=worker)
    if send is None:
        return None
    try:
        provider_id = _deliver(send)
    except DeliveryError as error:
        reason = str(error)[:ERROR_MAX_LENGTH]
        limits = selectors.reminder_settings()
        if send.attempts >= limits.max_attempts:
            send.status = ReminderSend.Status.FAILED
        else:
            send.status = ReminderSend.Status.RETRY
            send.next_attempt_at = now + timedelta(minutes=limits.retry_minutes * 2 ** (send.attempts - 1))
        send.last_error = reason
        with transaction.atomic():
            send.save(update_fields=["status", "next_attempt_at", "last_error"])
            ReminderAttempt.objects.create(send=send, status=send.status, error=reason, worker=worker[:64])
        log.warning("reminder %s id=%s attempt=%d: %s", send.status, send.pk, send.attempts, reason)
        return send
    send.status = ReminderSend.Status.SENT
    send.provider_id = provider_id[:100]
    send.sent_at = timezone.now()
    with transaction.atomic():
        send.save(update_fields=["status", "provider_id", "sent_at"])
        ReminderAttempt.objects.create(send=send, status=send.status, provider_id=send.provider_id, worker=worker[:64])
    log.info("reminder sent id=%s channel=%s provider_id=%s", send.pk, send.channel, send.provider_id)
    return send
