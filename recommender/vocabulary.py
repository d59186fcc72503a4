"""Codes and their words, shared by models, admin, pages, calendars, the export and the OpenAPI: each said once.

The engine (``recommender.guideline``) keeps its own codes as plain strings and never imports this module; these
enums mirror them, and ``tests/test_vocabulary.py`` asserts that every code the engine can answer has a word here.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import models
from django.utils import timezone


class Status(models.TextChoices):
    """What the results say."""

    DEFICIENT = "deficient", "B12 deficient"
    INDETERMINATE = "indeterminate", "Indeterminate"
    NOT_DEFICIENT = "not_deficient", "Not deficient"


class Basis(models.TextChoices):
    """Which result decided the status."""

    B12 = "b12", "total B12"
    ACTIVE_B12 = "active_b12", "active B12"
    MMA = "mma", "MMA"


class Indication(models.TextChoices):
    """Why intramuscular hydroxocobalamin is given."""

    DEFICIENCY = "deficiency", "deficiency"
    ILEAL_RESECTION = "ileal_resection", "ileal resection"
    BARIATRIC_SURGERY = "bariatric_surgery", "bariatric surgery"


class Pattern(models.TextChoices):
    """How the loading course is given."""

    THREE_TIMES_WEEKLY = "three_times_weekly", "Three times a week"
    ALTERNATE_DAYS = "alternate_days", "Alternate days"


class Phase(models.TextChoices):
    """The phase a dose belongs to."""

    LOADING = "loading", "Loading"
    MAINTENANCE = "maintenance", "Maintenance"


class Outcome(models.TextChoices):
    """What happened to a scheduled dose."""

    GIVEN = "given", "Given"
    # The code stays "missed" (stored records, the export); the words are the clinic's: one outcome, one name.
    MISSED = "missed", "Did not attend"
    DECLINED = "declined", "Declined by the patient"
    HELD = "held", "Held (clinical reason)"


class DoseState(models.TextChoices):
    """Where a plan's next dose stands on a day: computed from its due date, never stored. A dose due on a day that
    has ended with nothing recorded is "not yet recorded" until a nurse records it (given, did not attend...)."""

    NOT_YET_RECORDED = "not_yet_recorded", "Not yet recorded"
    DUE_TODAY = "due_today", "Due today"
    UPCOMING = "upcoming", "Due"


def dose_state(due_on, today) -> str:
    """The state of a dose due on ``due_on`` as of ``today`` (a DoseState code)."""
    if due_on < today:
        return DoseState.NOT_YET_RECORDED
    return DoseState.DUE_TODAY if due_on == today else DoseState.UPCOMING


class ContactMethod(models.TextChoices):
    """How staff tried to reach a patient for recall."""

    PHONE = "phone", "Phone"
    LETTER = "letter", "Letter"
    TEXT = "text", "Text message"
    IN_PERSON = "in_person", "In person"


class ContactOutcome(models.TextChoices):
    """What came of a contact attempt."""

    REACHED = "reached", "Spoke to the patient"
    BOOKED = "booked", "Appointment agreed"
    MESSAGE = "message", "Left a message"
    NO_ANSWER = "no_answer", "No answer"
    SENT = "sent", "Sent (no reply yet)"
    WRONG_DETAILS = "wrong_details", "Contact details wrong"
    DECLINED = "declined", "Patient declines injections"


class AppointmentKind(models.TextChoices):
    """What an appointment is for."""

    DOSE = "dose", "Injection"
    REVIEW = "review", "Review"


class AppointmentStatus(models.TextChoices):
    """Where an appointment stands: a moved or cancelled one frees its seat."""

    BOOKED = "booked", "Booked"
    MOVED = "moved", "Moved"
    CANCELLED = "cancelled", "Cancelled"
    ATTENDED = "attended", "Attended"
    DNA = "dna", "Did not attend"


class PlanStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ENDED = "ended", "Ended"
    SUPERSEDED = "superseded", "Superseded"


class Level(models.TextChoices):
    """How loud a warning is."""

    RED_FLAG = "red_flag", "Red flag"
    CAUTION = "caution", "Caution"
    ADVICE = "advice", "Advice"


class WarningCode(models.TextChoices):
    """The engine's warning codes, named for a list or a filter (the engine words each warning in full)."""

    HIGH_B12 = "high_b12", "High B12"
    MMA_DISCORDANT = "mma_discordant", "MMA raised with B12 not low"
    MMA_RENAL = "mma_renal", "MMA and renal function"
    FOLIC_ACID = "folic_acid", "Folic acid before B12"
    NEURO_URGENT_ADVICE = "neuro_urgent_advice", "Neurological involvement: urgent advice"
    NITROUS_OXIDE = "nitrous_oxide", "Nitrous oxide"
    SEVERE_PREFER_IM = "severe_prefer_im", "Severe deficiency: intramuscular preferred"
    POTASSIUM_PLATELETS = "potassium_platelets", "Potassium and platelets"
    PREGNANCY = "pregnancy", "Pregnancy"
    SAMPLE_BEFORE_TREATMENT = "sample_before_treatment", "Sample before treatment"
    INDETERMINATE_CLINICAL_JUDGEMENT = "indeterminate_clinical_judgement", "Indeterminate: clinical judgement"
    INDIVIDUALISED_REGIMEN = "individualised_regimen", "Individualised regimen"
    NO_BIOMARKER_TITRATION = "no_biomarker_titration", "No titration by blood levels"
    COBALT_ALLERGY = "cobalt_allergy", "Cobalt allergy"
    HOMOCYSTEINE_ABOVE_TARGET = "homocysteine_above_target", "Homocysteine above target"


# How a loading course is described in a sentence ("1 mg hydroxocobalamin intramuscular <these words>").
PATTERN_SENTENCES = {
    Pattern.THREE_TIMES_WEEKLY: "three times a week, {doses} doses",
    Pattern.ALTERNATE_DAYS: "on alternate days until there is no further improvement (a clinician ends this phase)",
}


def words(enum: type[models.TextChoices], code: str) -> str:
    """The word for a code; an unknown code (an old record, a newer engine) is shown as itself, never an error."""
    try:
        return str(enum(code).label)
    except ValueError:
        return code.replace("_", " ")


def words_list(enum: type[models.TextChoices], codes) -> str:
    """Several codes as one line: "deficiency, ileal resection"."""
    return ", ".join(words(enum, code) for code in codes or ())


def local_when(at: datetime) -> str:
    """An instant as the clinic reads it, in its local time: "Mon 14 Dec 2026 at 09:00"."""
    local = timezone.localtime(at)
    return f"{local:%a} {local.day} {local:%b %Y} at {local:%H:%M}"


def dose_label(phase: str, number: int | None, loading_doses: int | None = None) -> str:
    """How a dose is named everywhere: "Loading 2 of 6", "Loading 4 (alternate days)", "Maintenance 3"."""
    if phase == Phase.LOADING:
        return f"Loading {number} of {loading_doses}" if loading_doses else f"Loading {number} (alternate days)"
    return f"Maintenance {number}"


# The panel's names for these words (kept for its callers; each is the enum's own words).
STATUS_WORDS = dict(Status.choices)
BASIS_WORDS = dict(Basis.choices)
INDICATION_WORDS = dict(Indication.choices)


def quantity(value, unit: str = "") -> str:
    """A measured value with its unit and without spurious decimals: 150.00 → "150 pg/mL", 0.450 → "0.45 µmol/L"."""
    if value is None or value == "":
        return ""
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    text = f"{number.normalize():f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} {unit}".strip()


# Reminders (recommender/reminders/): how a patient is reminded, and what became of each reminder.
class ReminderConsent(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "Text message (SMS)"
    NONE = "none", "No reminders"


class ReminderWindow(models.TextChoices):
    """The part of the day a patient prefers reminders in (local time); the start hour is in reminders/tasks.py."""

    ANY = "any", "Any time (from 9:00)"
    MORNING = "morning", "Morning (9:00–12:00)"
    AFTERNOON = "afternoon", "Afternoon (12:00–17:00)"
    EVENING = "evening", "Evening (17:00–20:00)"


class ReminderKind(models.TextChoices):
    BEFORE = "before", "Before the appointment"
    OVERDUE = "overdue", "Overdue"


class ReminderChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class ReminderStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    RETRY = "retry", "Failed, will retry"
    FAILED = "failed", "Could not be sent"
