"""What a reminder says: where and when, never why. No drug, dose, result or diagnosis leaves the clinic in a
text message or an email (a shared phone, a work inbox)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

SUBJECT = "Appointment reminder"


def en_gb_date(day: date) -> str:
    """ "Friday 4 December 2026": the day spelled out, no leading zero, as people in the UK write it."""
    return f"{day:%A} {day.day} {day:%B %Y}"


@dataclass(frozen=True, slots=True)
class Reminder:
    subject: str
    body: str


def reminder_text(*, kind: str, place: str, on: date) -> Reminder:
    """The words of a reminder of ``kind`` ("before" or "overdue") for an appointment at ``place`` on ``on``."""
    when = en_gb_date(on)
    if kind == "overdue":
        body = f"You had an appointment at {place} on {when}. Please contact the clinic to arrange a new one."
    else:
        body = f"You have an appointment at {place} on {when}."
    return Reminder(subject=SUBJECT, body=body)
