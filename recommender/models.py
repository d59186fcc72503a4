from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.module_loading import import_string
from simple_history.models import HistoricalRecords

from recommender import vocabulary
from recommender.clock_changes import clock_changes_across
from recommender.guideline.ruleset import DEFAULT_RULESET
from recommender.guideline.stored import Decision
from recommender.identifiers import nhs_number_display, validate_date_of_birth, validate_nhs_number

# The longest free-text reason a clinician gives for an action (ending a plan, marking stable).
REASON_MAX_LENGTH = 500
# A reason kept in the history row itself (django-simple-history's change reason holds 100 characters).
CHANGE_REASON_MAX_LENGTH = 100


class SignInSession(AbstractBaseSession):
    """A browser's signed-in session (settings.SESSION_ENGINE: recommender.access.sessions): Django's database
    session with its user as a column, so a request reads the session and its user in one query, and an account's
    sessions are found without decoding every one (access.accounts.user_sign_out_everywhere)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+", editable=False
    )

    class Meta(AbstractBaseSession.Meta):
        verbose_name = "signed-in session"
        verbose_name_plural = "signed-in sessions"

    @classmethod
    def get_session_store_class(cls):
        return import_string(settings.SESSION_ENGINE).SessionStore


class AccessToken(models.Model):
    """A secret that stands for a user where a browser session cannot: the JSON API and calendar feeds.

    Only a SHA-256 digest is stored; the token itself is shown once, when it is issued."""

    class Purpose(models.TextChoices):
        API = "api", "JSON API"
        CALENDAR = "calendar", "Calendar subscription"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_tokens")
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    name = models.CharField(max_length=100, blank=True)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Optional end of validity (an API token issued for a trial); None: until revoked.
    expires_at = models.DateTimeField(null=True, blank=True)
    # When the token last opened anything (kept to the minute): an unused token is a candidate for revoking.
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One live calendar address per user: issuing a new one revokes the old (services.access_token_issue).
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(purpose="calendar", revoked_at__isnull=True),
                name="one_active_calendar_token_per_user",
            )
        ]

    def __str__(self) -> str:
        label = self.name or (f"{self.created_at:%Y-%m-%d}" if self.created_at else "new")
        return f"{self.get_purpose_display()} token of {self.user} ({label})"

    @staticmethod
    def digest_of(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    @staticmethod
    def new_secret() -> str:
        return "b12_" + secrets.token_urlsafe(32)


class Patient(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    hospital_number = models.CharField(
        "hospital number", max_length=32, unique=True, help_text="The hospital's identifier for this patient."
    )
    family_name = models.CharField(max_length=100)
    given_name = models.CharField(max_length=100)
    date_of_birth = models.DateField(validators=[validate_date_of_birth])
    # Ten digits, stored without spaces; NULL (not "") when unknown, so that unknown numbers never collide.
    nhs_number = models.CharField(
        "NHS number",
        max_length=10,
        null=True,
        blank=True,
        unique=True,
        validators=[validate_nhs_number],
        help_text="Optional. 10 digits; spaces are ignored.",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    usual_location = models.ForeignKey(
        "Location",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Where the patient usually has injections: appointments are proposed there.",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["family_name", "given_name"]
        indexes = [
            models.Index(fields=["family_name", "given_name"]),
            # The home page's "your recent patients": a user's latest registrations, read a few rows at a time.
            models.Index(fields=["created_by", "-created_at"], name="patient_author_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.family_name.upper()}, {self.given_name} ({self.hospital_number})"

    @property
    def display_name(self) -> str:
        return f"{self.family_name.upper()}, {self.given_name}"

    @property
    def nhs_number_display(self) -> str:
        return nhs_number_display(self.nhs_number) if self.nhs_number else ""


# A new lab profile starts from the ruleset's numbers (callables, so that the migrations name the ruleset and
# never copy its numbers: editing the ruleset changes the defaults of the next profile).
def default_total_b12_deficient_below() -> Decimal:
    return DEFAULT_RULESET.thresholds.total_b12.deficient_below


def default_total_b12_not_deficient_above() -> Decimal:
    return DEFAULT_RULESET.thresholds.total_b12.not_deficient_above


def default_active_b12_deficient_below() -> Decimal:
    return DEFAULT_RULESET.thresholds.active_b12.deficient_below


def default_active_b12_not_deficient_above() -> Decimal:
    return DEFAULT_RULESET.thresholds.active_b12.not_deficient_above


def default_mma_upper_limit_umol_l() -> Decimal:
    return DEFAULT_RULESET.thresholds.mma_upper_limit_umol_l


class LabProfile(models.Model):
    """A lab's or assay's own thresholds; the seed ruleset's numbers are the defaults."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)
    total_b12_deficient_below = models.DecimalField(
        "total B12 deficient below (pg/mL)", max_digits=8, decimal_places=2, default=default_total_b12_deficient_below
    )
    total_b12_not_deficient_above = models.DecimalField(
        "total B12 not deficient above (pg/mL)",
        max_digits=8,
        decimal_places=2,
        default=default_total_b12_not_deficient_above,
    )
    active_b12_deficient_below = models.DecimalField(
        "active B12 deficient below (pmol/L)",
        max_digits=8,
        decimal_places=2,
        default=default_active_b12_deficient_below,
    )
    active_b12_not_deficient_above = models.DecimalField(
        "active B12 not deficient above (pmol/L)",
        max_digits=8,
        decimal_places=2,
        default=default_active_b12_not_deficient_above,
    )
    mma_upper_limit_umol_l = models.DecimalField(
        "MMA upper reference limit (µmol/L)", max_digits=6, decimal_places=3, default=default_mma_upper_limit_umol_l
    )
    is_default = models.BooleanField(default=False, help_text="Pre-selected on the assessment form.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_lab_profile"
            ),
            models.CheckConstraint(
                condition=Q(total_b12_deficient_below__gt=0)
                & Q(total_b12_not_deficient_above__gte=F("total_b12_deficient_below")),
                name="lab_profile_total_bands_ordered",
            ),
            models.CheckConstraint(
                condition=Q(active_b12_deficient_below__gt=0)
                & Q(active_b12_not_deficient_above__gte=F("active_b12_deficient_below")),
                name="lab_profile_active_bands_ordered",
            ),
            models.CheckConstraint(condition=Q(mma_upper_limit_umol_l__gt=0), name="lab_profile_mma_limit_positive"),
        ]

    def __str__(self) -> str:
        return self.name + (" (default)" if self.is_default else "")


class Assessment(models.Model):
    """One set of results and the decision made on them. Never edited: a correction is a new assessment."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="assessments")
    sample_date = models.DateField(help_text="The date the blood sample was taken.")
    lab_profile = models.ForeignKey(LabProfile, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    inputs = models.JSONField(help_text="The request as entered, in the API contract's shape.")
    decision = models.JSONField(help_text="The engine's full decision, as the API returns it.")
    ruleset_id = models.CharField(max_length=32)
    ruleset_version = models.CharField(max_length=16)
    thresholds = models.JSONField(help_text="The thresholds the decision used.")

    Status = vocabulary.Status

    status = models.CharField(max_length=16, choices=Status.choices)
    im_recommended = models.BooleanField()
    # Denormalised for the trend chart, converted exactly from the entered values.
    b12_pg_per_ml = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    active_b12_pmol_per_l = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    homocysteine_umol_per_l = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-sample_date", "-created_at"]
        indexes = [
            models.Index(fields=["patient", "-sample_date"]),
            # The home page's "your recent patients": a user's latest assessments, read a few rows at a time.
            models.Index(fields=["created_by", "-created_at"], name="assessment_author_recent"),
            # The clinician's home page: results waiting for an MMA (a few rows among every assessment).
            models.Index(
                fields=["sample_date", "created_at"],
                condition=Q(decision__next_test="mma"),
                name="assessment_awaits_mma",
            ),
        ]

    def __str__(self) -> str:
        return f"Assessment of {self.sample_date:%d %b %Y}: {self.get_status_display()}"

    @cached_property
    def decided(self) -> Decision:
        """The stored decision as a typed object (the JSON stays the record)."""
        return Decision.from_dict(self.decision)


class TreatmentPlan(models.Model):
    Status = vocabulary.PlanStatus
    Pattern = vocabulary.Pattern

    class IntervalUnit(models.TextChoices):
        DAYS = "days", "days"
        WEEKS = "weeks", "weeks"
        MONTHS = "months", "months"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="plans")
    assessment = models.OneToOneField(Assessment, on_delete=models.PROTECT, related_name="plan")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    indications = models.JSONField()
    loading_pattern = models.CharField(
        max_length=32, choices=Pattern.choices, blank=True, help_text="Empty when there is no loading course."
    )
    loading_doses = models.PositiveSmallIntegerField(null=True, blank=True)
    maintenance_every = models.PositiveSmallIntegerField()
    maintenance_unit = models.CharField(max_length=8, choices=IntervalUnit.choices)
    individualised = models.BooleanField(default=False)
    individualised_reason = models.TextField(blank=True)
    pending_mma = models.BooleanField(
        default=False, help_text="Started before the MMA result (neurological signs, indeterminate B12)."
    )
    pending_mma_reason = models.TextField(blank=True)
    lifelong = models.BooleanField(default=True)
    start_date = models.DateField()
    loading_ended_on = models.DateField(null=True, blank=True)
    stable_on = models.DateField(null=True, blank=True)
    stable_reason = models.CharField(max_length=REASON_MAX_LENGTH, blank=True)
    ended_on = models.DateField(null=True, blank=True)
    end_reason = models.TextField(blank=True)
    superseded_by = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # The next dose, kept current by the services whenever a dose is recorded or the plan changes, so that the
    # nurses' worklist is one indexed query however many doses have been given.
    next_due_on = models.DateField(null=True, blank=True)
    next_phase = models.CharField(max_length=16, choices=vocabulary.Phase.choices, blank=True)
    next_number = models.PositiveIntegerField(null=True, blank=True)
    # Why the next dose is not on its usual day (e.g. alternate days interrupted by a closure); empty when it is.
    next_due_note = models.CharField(max_length=200, blank=True)
    # Raised on every change that moves a date, so that calendar clients replace their copy (RFC 5545 SEQUENCE).
    calendar_sequence = models.PositiveIntegerField(default=0)
    # Injections may be given on days the clinic is closed (a district nurse, a weekend session): alternate days
    # are then every 48 hours, weekends and holidays included. Set from B12_DOSES_ON_CLOSED_DAYS at creation.
    doses_on_closed_days = models.BooleanField(default=False)
    # Months from the start to the first monitoring review, from the decision (1 in pregnancy or breastfeeding).
    first_review_months = models.PositiveSmallIntegerField(null=True, blank=True)
    # The first monitoring visit not yet done (no results sampled since it came due), kept with the next dose by
    # the services so the home page filters on it instead of walking every plan's schedule.
    next_visit_on = models.DateField(null=True, blank=True, editable=False)
    # The next visit is derived from the plan and the patient's results (both with their own history): not kept twice.
    history = HistoricalRecords(excluded_fields=["next_visit_on"])

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["next_due_on", "id"], condition=Q(status="active"), name="active_plan_next_due"),
            models.Index(fields=["next_visit_on", "id"], condition=Q(status="active"), name="active_plan_next_visit"),
            # The home page's short lists, read without scanning every plan: treatment started pending an MMA
            # result, and alternate-day loading still running (its reviews).
            models.Index(
                fields=["start_date", "id"],
                condition=Q(status="active", pending_mma=True),
                name="active_plan_pending_mma",
            ),
            models.Index(
                fields=["start_date", "id"],
                condition=Q(
                    status="active", loading_pattern=vocabulary.Pattern.ALTERNATE_DAYS, loading_ended_on__isnull=True
                ),
                name="active_plan_neuro_loading",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["patient"], condition=Q(status="active"), name="one_active_plan_per_patient"
            ),
            models.CheckConstraint(condition=Q(maintenance_every__gte=1), name="plan_interval_positive"),
            models.CheckConstraint(
                condition=Q(individualised=False) | ~Q(individualised_reason=""),
                name="individualised_plan_has_reason",
            ),
        ]
        permissions = [("record_dose", "Can record a dose given or not given")]

    def __str__(self) -> str:
        return f"Plan from {self.start_date:%d %b %Y} ({self.get_status_display()})"

    @property
    def indications_text(self) -> str:
        """The indications in words: "deficiency, ileal resection"."""
        return vocabulary.words_list(vocabulary.Indication, self.indications)

    @property
    def interval_text(self) -> str:
        unit = self.maintenance_unit
        if self.maintenance_every == 1:
            return {"days": "every day", "weeks": "every week", "months": "every month"}[unit]
        return f"every {self.maintenance_every} {unit}"


class DoseRecord(models.Model):
    """One scheduled dose, recorded as given or not given. Never deleted: a mistake is marked entered in error,
    and a given dose whose details were wrong is replaced by a corrected record that the old one links to."""

    Phase = vocabulary.Phase
    Outcome = vocabulary.Outcome

    class Site(models.TextChoices):
        LEFT_DELTOID = "left_deltoid", "Left deltoid"
        RIGHT_DELTOID = "right_deltoid", "Right deltoid"
        LEFT_THIGH = "left_thigh", "Left thigh (vastus lateralis)"
        RIGHT_THIGH = "right_thigh", "Right thigh (vastus lateralis)"
        LEFT_GLUTEAL = "left_gluteal", "Left gluteal"
        RIGHT_GLUTEAL = "right_gluteal", "Right gluteal"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    plan = models.ForeignKey(TreatmentPlan, on_delete=models.PROTECT, related_name="doses")
    phase = models.CharField(max_length=16, choices=Phase.choices)
    number = models.PositiveIntegerField()
    due_date = models.DateField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    given_at = models.DateTimeField(null=True, blank=True)
    # The clinic's local date of given_at, set by the services: the database refuses two given doses on one day.
    given_on = models.DateField(null=True, blank=True)
    dose_mg = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    route = models.CharField(max_length=8, blank=True)
    site = models.CharField(max_length=16, choices=Site.choices, blank=True)
    batch = models.CharField(max_length=40, blank=True)
    expiry = models.DateField(null=True, blank=True)
    reason = models.TextField(blank=True)
    early_reason = models.CharField(
        "reason for giving early", max_length=REASON_MAX_LENGTH, blank=True, help_text="Given before its due date."
    )
    allergy_checked = models.BooleanField(
        "cobalt allergy or hypersensitivity asked about", default=False, help_text="Before the plan's first dose."
    )
    baseline_sample_taken = models.BooleanField(
        "baseline blood sample taken", default=False, help_text="Before the plan's first dose."
    )
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)
    entered_in_error = models.BooleanField(default=False)
    error_reason = models.TextField(blank=True)
    replaced_by = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="replaces",
        help_text="The corrected record of the same dose, when this one was given with wrong details.",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["-recorded_at"]
        constraints = [
            # The database itself refuses a second given record of the same dose, whoever sends it and whenever.
            # A dose not given (missed, declined, held) is offered again under the same number.
            models.UniqueConstraint(
                fields=["plan", "phase", "number"],
                condition=Q(outcome="given", entered_in_error=False),
                name="one_given_record_per_dose",
            ),
            models.CheckConstraint(
                condition=~Q(outcome="given") | (Q(given_at__isnull=False) & ~Q(batch="") & Q(expiry__isnull=False)),
                name="given_dose_has_time_batch_expiry",
            ),
            models.CheckConstraint(condition=Q(outcome="given") | ~Q(reason=""), name="dose_not_given_has_reason"),
            # Never two given doses of one plan on one calendar day, whoever records them.
            models.UniqueConstraint(
                fields=["plan", "given_on"],
                condition=Q(outcome="given", entered_in_error=False),
                name="one_given_dose_per_plan_day",
            ),
            models.CheckConstraint(
                condition=Q(replaced_by__isnull=True) | Q(entered_in_error=True), name="replaced_dose_entered_in_error"
            ),
        ]
        indexes = [
            # A plan's records in the order of the course (the phases' values sort in the course's order: tested):
            # the plan page's latest ten and the all-doses page's pages read the first rows of it, the same work for
            # a plan with 5 records as with 500; and a dose's records (plan, phase, number).
            models.Index(fields=["plan", "phase", "number", "recorded_at"], name="dose_course_order"),
            # The nurse's home page: patients who did not attend (a few rows among every dose ever recorded).
            models.Index(
                fields=["recorded_at"],
                condition=Q(outcome="missed", entered_in_error=False),
                name="dose_did_not_attend",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_phase_display()} dose {self.number}: {self.get_outcome_display()}"


class ClinicClosure(models.Model):
    """A day the clinic is closed beyond its weekdays and the public holidays (training day, Christmas week).
    No due date falls on it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    date = models.DateField(unique=True)
    reason = models.CharField(max_length=100, help_text="Shown where a dose or visit moves, e.g. “Training day”.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date:%a %d %b %Y}: {self.reason}"


class AccessRecord(models.Model):
    """One look at a patient's record: who, when, which patient, what, from where. Written by the access audit
    (recommender/access/audit.py), never edited or deleted, in the admin or anywhere else."""

    class What(models.TextChoices):
        PATIENT = "patient.view", "Patient page"
        ASSESSMENT = "assessment.view", "Assessment"
        PLAN = "plan.view", "Treatment plan (page or print)"
        MONTH = "plan.month", "Plan month view"
        ICS = "plan.ics", "Plan calendar (.ics)"
        CARD = "appointment.card", "Appointment card"
        API = "api.read", "JSON API"
        FHIR = "fhir.read", "FHIR API"
        EXPORT_ADMIN = "export.admin", "Whole record exported (admin)"
        EXPORT_COMMAND = "export.command", "Whole record exported (export_patient)"
        ADMIN = "admin.view", "Opened in the admin"
        CONTACT = "contact.view", "Contact details and reminders"
        RECALL_LETTER = "recall.letter", "Recall letter"
        CONTACTS = "recall.contacts", "Contact attempts"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    # PROTECT: an account that looked at a record can be deactivated, never deleted.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The name at the time (also for exports from the command line, which have no account).
    username = models.CharField(max_length=150)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    what = models.CharField(max_length=32, choices=What.choices)
    ip = models.GenericIPAddressField("client address", null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["patient", "-at"], name="access_patient_at")]

    def __str__(self) -> str:
        return f"{self.username} · {self.get_what_display()} · {self.at:%Y-%m-%d %H:%M}"


class Location(models.Model):
    """A place where the clinic gives injections (a surgery, a hospital outpatient room)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)
    address = models.CharField(max_length=300, blank=True, help_text="Printed on the patient's appointment card.")
    active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


# A recurring session is checked against the clock changes of the coming year (each zone changes once or twice).
CLOCK_CHANGES_AHEAD_DAYS = 366


def clock_change_refusal(start, end, *, first: date, days: int, weekday: int | None = None) -> str | None:
    """What an admin is told when a session from ``start`` to ``end`` on those days runs across a clock change of the
    clinic's time zone (its slots would not exist, or would happen twice); None when it does not."""
    changes = clock_changes_across(
        start=start, end=end, zone=timezone.get_default_timezone(), first=first, days=days, weekday=weekday
    )
    if not changes:
        return None
    change = changes[0]
    what = "do not exist" if change.skipped else "happen twice"
    return (
        f"The clocks change on {change.day:%a} {change.day.day} {change.day:%b %Y}: the times from "
        f"{change.start:%H:%M} to {change.end:%H:%M} {what}, so this session's slots would not be where they seem. "
        "Choose times outside them (or let the session end before that day)."
    )


class Session(models.Model):
    """A recurring clinic session: every week on one weekday, from start to end, in slots of ``slot_minutes``,
    each slot taking up to ``capacity`` patients (one per nurse, say)."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="sessions")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start = models.TimeField()
    end = models.TimeField()
    slot_minutes = models.PositiveSmallIntegerField(default=10)
    capacity = models.PositiveSmallIntegerField("patients per slot", default=1)
    valid_from = models.DateField(null=True, blank=True, help_text="Empty: from always.")
    valid_until = models.DateField(null=True, blank=True, help_text="Empty: until further notice.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["location__name", "weekday", "start"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="session_ends_after_start"),
            models.CheckConstraint(condition=Q(slot_minutes__gte=1), name="session_slot_positive"),
            models.CheckConstraint(condition=Q(capacity__gte=1), name="session_capacity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.location}: {self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.start and self.end and self.weekday is not None and self.end > self.start:
            first = max(timezone.localdate(), self.valid_from or date.min)
            days = CLOCK_CHANGES_AHEAD_DAYS
            if self.valid_until is not None:
                days = min(days, (self.valid_until - first).days + 1)
            refusal = clock_change_refusal(self.start, self.end, first=first, days=days, weekday=self.weekday)
            if refusal:
                raise ValidationError({"start": refusal})


class SessionChange(models.Model):
    """A one-off change to the sessions: a session cancelled on one date, or an extra session added."""

    class Kind(models.TextChoices):
        CANCEL = "cancel", "Session cancelled"
        EXTRA = "extra", "Extra session"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    date = models.DateField()
    session = models.ForeignKey(
        Session, on_delete=models.PROTECT, null=True, blank=True, related_name="changes", help_text="The one cancelled."
    )
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, null=True, blank=True, related_name="+", help_text="An extra session's."
    )
    start = models.TimeField(null=True, blank=True)
    end = models.TimeField(null=True, blank=True)
    slot_minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    capacity = models.PositiveSmallIntegerField("patients per slot", null=True, blank=True)
    reason = models.CharField(max_length=100)
    history = HistoricalRecords()

    class Meta:
        ordering = ["date"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="cancel") & Q(session__isnull=False))
                | (
                    Q(kind="extra")
                    & Q(location__isnull=False, start__isnull=False, end__isnull=False, end__gt=F("start"))
                    & Q(slot_minutes__gte=1, capacity__gte=1)
                ),
                name="session_change_complete",
            ),
            models.UniqueConstraint(fields=["session", "date"], condition=Q(kind="cancel"), name="one_cancel_a_day"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.date:%a %d %b %Y}: {self.reason}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        errors = {}
        if self.kind == self.Kind.CANCEL:
            if self.session_id is None:
                errors["session"] = "Choose the session that is cancelled."
            elif self.date and self.session.weekday != self.date.weekday():
                errors["date"] = f"This session runs on {self.session.get_weekday_display()}s."
        elif self.kind == self.Kind.EXTRA:
            for name in ("location", "start", "end", "slot_minutes", "capacity"):
                if getattr(self, name) in (None, ""):
                    errors[name] = "Needed for an extra session."
            if self.start and self.end and self.end <= self.start:
                errors["end"] = "The session ends after it starts."
            elif self.start and self.end and self.date:
                refusal = clock_change_refusal(self.start, self.end, first=self.date, days=1)
                if refusal:
                    errors["start"] = refusal
        if errors:
            raise ValidationError(errors)


class Appointment(models.Model):
    """A patient booked into one seat of one slot of a session, for a dose (phase and number) or a review.

    The database holds the capacity: a slot's seats are numbered from 1 and a seat takes one live appointment;
    a seat beyond the slot's capacity (kept with the booking) needs an overbooking reason."""

    Kind = vocabulary.AppointmentKind
    Status = vocabulary.AppointmentStatus

    # The statuses that hold a seat (a moved or cancelled appointment frees it).
    SEATED = (Status.BOOKED, Status.ATTENDED, Status.DNA)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    plan = models.ForeignKey(TreatmentPlan, on_delete=models.PROTECT, related_name="appointments")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.DOSE)
    phase = models.CharField(max_length=16, blank=True, help_text="loading or maintenance; empty for a review.")
    number = models.PositiveIntegerField()
    due_on = models.DateField(help_text="The date the guideline's schedule gave when it was booked.")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="appointments")
    starts_at = models.DateTimeField()
    slot_minutes = models.PositiveSmallIntegerField()
    seat = models.PositiveSmallIntegerField()
    capacity = models.PositiveSmallIntegerField(help_text="The slot's capacity when booked.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BOOKED)
    window_reason = models.CharField("reason for booking outside the window", max_length=REASON_MAX_LENGTH, blank=True)
    overbook_reason = models.CharField("reason for overbooking", max_length=REASON_MAX_LENGTH, blank=True)
    moved_from = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="moved_to", help_text="The booking moved."
    )
    change_reason = models.CharField("reason moved or cancelled", max_length=REASON_MAX_LENGTH, blank=True)
    booked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    booked_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["starts_at", "seat"]
        indexes = [
            models.Index(fields=["location", "starts_at"], name="appointment_slot"),
            models.Index(fields=["plan", "status"], name="appointment_plan_status"),
        ]
        constraints = [
            # Two nurses booking the last seat at once: the database takes one and refuses the other.
            models.UniqueConstraint(
                fields=["location", "starts_at", "seat"],
                condition=Q(status__in=["booked", "attended", "dna"]),
                name="one_appointment_per_seat",
                violation_error_code="seat_taken",
                violation_error_message="This seat of the slot has just been taken by another booking.",
            ),
            models.CheckConstraint(
                condition=Q(seat__gte=1) & (Q(seat__lte=F("capacity")) | ~Q(overbook_reason="")),
                name="appointment_within_capacity_or_overbooked",
            ),
            # One live booking per dose or review of a plan.
            models.UniqueConstraint(
                fields=["plan", "kind", "phase", "number"],
                condition=Q(status="booked"),
                name="one_booking_per_dose",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["booked", "attended", "dna"]) | ~Q(change_reason=""),
                name="appointment_change_has_reason",
            ),
        ]
        permissions = [("book_appointment", "Can book, move and cancel appointments")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number} at {self.starts_at:%Y-%m-%d %H:%M} ({self.status})"


# --- FHIR R4 (issue 15): the codes imported results map through, and imported results awaiting a clinician ------


class FhirCodeMapping(models.Model):
    """A lab result's code and UCUM unit (LOINC out of the box; the admin adds local SNOMED or lab codes) mapped to
    the assessment input it fills and the unit the engine takes it in."""

    class Input(models.TextChoices):
        B12 = "b12", "Total B12"
        ACTIVE_B12 = "active_b12", "Active B12"
        MMA = "mma", "Methylmalonic acid (MMA)"
        HOMOCYSTEINE = "homocysteine", "Total homocysteine"
        EGFR = "egfr", "eGFR"
        NOT_USED = "not_used", "Recognised, not used by the assessment (accepted and left out)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    system = models.CharField(
        max_length=200, help_text="The code system's URI: http://loinc.org, http://snomed.info/sct or the lab's own."
    )
    code = models.CharField(max_length=64)
    unit = models.CharField(
        "UCUM unit", max_length=32, help_text="The result's unit as its UCUM code says it, e.g. ng/L or umol/L."
    )
    input = models.CharField("assessment input", max_length=16, choices=Input.choices)
    input_unit = models.CharField(
        "unit the assessment takes",
        max_length=16,
        blank=True,
        help_text="One of the input's units (pg/mL, ng/L, pmol/L, umol/L, nmol/L); empty for eGFR and unused codes.",
    )
    display = models.CharField(max_length=200, blank=True)
    active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["input", "system", "code", "unit"]
        constraints = [
            models.UniqueConstraint(fields=["system", "code", "unit"], name="one_mapping_per_code_and_unit"),
        ]

    def __str__(self) -> str:
        return f"{self.code} [{self.unit}] → {self.get_input_display()}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from recommender.guideline.inputs import MEASUREMENTS

        spec = MEASUREMENTS.get(self.input)
        if spec is not None and self.input_unit not in spec.units:
            units = ", ".join(spec.units)
            raise ValidationError({"input_unit": f"{self.get_input_display()} is taken in one of: {units}."})
        if spec is None and self.input_unit:
            raise ValidationError({"input_unit": f"{self.get_input_display()} takes no unit: leave it empty."})


class ResultImport(models.Model):
    """Results received as a FHIR Bundle for one patient. They never decide alone: they open the assessment form
    pre-filled, for a clinician to complete the clinical picture and save."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    sample_date = models.DateField()
    results = models.JSONField(help_text="The assessment form's fields the results fill, as text.")
    source = models.CharField(max_length=200, blank=True, help_text="The Bundle's identifier or id, when it has one.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Results of {self.sample_date:%d %b %Y} imported {self.created_at:%Y-%m-%d %H:%M}"


# ---------------------------------------------------------------------------------------------------------------
# Reminders (issue 16 items 1, 2, 6): the patient's contact details and consent, the admins' reminder settings, and
# one row per reminder planned (its idempotency key, its state and each attempt). Code: recommender/reminders/.
# ---------------------------------------------------------------------------------------------------------------


class ContactPreference(models.Model):
    """How a patient wants to be reminded: by email, by text message or not at all, and at what time of day.
    Visible only to the roles that need it (clinicians, nurses); every change kept in the history."""

    Consent = vocabulary.ReminderConsent
    Window = vocabulary.ReminderWindow

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="contact_preference")
    email = models.EmailField("email address", blank=True)
    # UK mobile, stored in E.164 (+447…) so that the SMS provider and the database agree.
    mobile = models.CharField("mobile number", max_length=16, blank=True)
    consent = models.CharField("reminders by", max_length=8, choices=Consent.choices, default=Consent.NONE)
    window = models.CharField("preferred time", max_length=12, choices=Window.choices, default=Window.ANY)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(consent="email") | ~Q(email=""), name="contact_email_consent_has_email"
            ),
            models.CheckConstraint(condition=~Q(consent="sms") | ~Q(mobile=""), name="contact_sms_consent_has_mobile"),
        ]

    def __str__(self) -> str:
        return f"Contact preference: {self.get_consent_display()}"


class ReminderSettings(models.Model):
    """The one row of reminder settings, changed only by admins (in the admin)."""

    days_before = models.PositiveSmallIntegerField(
        "days before", default=3, help_text="A reminder goes this many days before each injection or review."
    )
    max_attempts = models.PositiveSmallIntegerField(
        "attempts before giving up", default=4, help_text="A send that fails this many times shows on the staff list."
    )
    retry_minutes = models.PositiveSmallIntegerField(
        "first retry after (minutes)", default=15, help_text="Doubled after each further failure."
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = "reminder settings"
        verbose_name_plural = "reminder settings"
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="reminder_settings_singleton"),
            models.CheckConstraint(condition=Q(days_before__lte=60), name="reminder_days_before_at_most_60"),
            models.CheckConstraint(condition=Q(max_attempts__gte=1), name="reminder_max_attempts_positive"),
            models.CheckConstraint(condition=Q(retry_minutes__gte=1), name="reminder_retry_minutes_positive"),
        ]

    def __str__(self) -> str:
        return f"Reminders {self.days_before} days before"


class ReminderSend(models.Model):
    """One reminder for one appointment (a booking, or a due dose or review not booked yet) and kind. The database
    refuses a second row for the same appointment and kind: whoever plans it, however often, it is sent once."""

    Kind = vocabulary.ReminderKind
    Status = vocabulary.ReminderStatus
    Channel = vocabulary.ReminderChannel

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    appointment_key = models.CharField(max_length=120)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    appointment_on = models.DateField("appointment date")
    place = models.CharField(max_length=100)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    to = models.CharField("sent to", max_length=254)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    provider_id = models.CharField("provider's id", max_length=100, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["appointment_key", "kind"], name="one_reminder_per_kind")]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="reminder_status_next"),
            models.Index(fields=["patient", "-created_at"], name="reminder_patient_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} reminder for {self.appointment_on:%d %b %Y} ({self.get_status_display()})"


class ReminderAttempt(models.Model):
    """The log of one try at sending a reminder: when, what came of it, the provider's id or the error."""

    send = models.ForeignKey(ReminderSend, on_delete=models.PROTECT, related_name="log")
    at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=8, choices=vocabulary.ReminderStatus.choices)
    provider_id = models.CharField("provider's id", max_length=100, blank=True)
    error = models.CharField(max_length=300, blank=True)
    worker = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.status}"


# ---- Recall (issue 16, items 3–5: recommender/recall/) -------------------------------------------------------------

# A patient whose dose has waited this many days is on the recall list, unless an admin sets another number.
RECALL_OVERDUE_DAYS_DEFAULT = 14
# Doses not attended one after the other that put a patient on the recall list however recent the last one.
RECALL_DNAS_IN_A_ROW_DEFAULT = 2


class RecallSettings(models.Model):
    """The recall list's two numbers: one row (pk 1), changed by admins only (in the admin), its history kept."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    overdue_days = models.PositiveSmallIntegerField(
        "overdue by more than (days)",
        default=RECALL_OVERDUE_DAYS_DEFAULT,
        help_text="A patient whose injection has waited longer than this is recalled.",
    )
    dnas_in_a_row = models.PositiveSmallIntegerField(
        "doses not attended in a row",
        default=RECALL_DNAS_IN_A_ROW_DEFAULT,
        help_text="A patient who did not attend this many doses one after the other is recalled.",
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = verbose_name_plural = "recall settings"
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="recall_settings_one_row"),
            models.CheckConstraint(condition=Q(overdue_days__gte=1), name="recall_overdue_days_positive"),
            models.CheckConstraint(condition=Q(dnas_in_a_row__gte=1), name="recall_dnas_in_a_row_positive"),
        ]

    def __str__(self) -> str:
        return f"Recall after {self.overdue_days} days overdue or {self.dnas_in_a_row} doses not attended in a row"

    @classmethod
    def current(cls) -> RecallSettings:
        """The settings in force: the saved row, or the defaults while an admin has saved none (nothing written)."""
        return cls.objects.filter(pk=1).first() or cls()


class ContactAttempt(models.Model):
    """One try at reaching a patient about a missed or overdue injection: never edited away (history kept)."""

    Method = vocabulary.ContactMethod
    Outcome = vocabulary.ContactOutcome

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="contact_attempts")
    at = models.DateTimeField("when", help_text="When the patient was contacted (or the letter sent).")
    method = models.CharField(max_length=16, choices=Method.choices)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    note = models.CharField(max_length=REASON_MAX_LENGTH, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-at", "-recorded_at"]
        indexes = [models.Index(fields=["patient", "-at"], name="contact_patient_at")]
        permissions = [("record_contact", "Can record a contact attempt with a patient")]

    def __str__(self) -> str:
        return f"{self.get_method_display()} {self.at:%Y-%m-%d %H:%M}: {self.get_outcome_display()}"


# --- CDS Hooks (issue 15, item 3): registered EHR clients, the JWT ids they used, the cards issued, feedback ---


class CdsClient(models.Model):
    """An EHR allowed to call the CDS Hooks service: its JWTs' issuer, its public keys and where it may call from."""

    issuer = models.CharField(max_length=255, unique=True, help_text="The 'iss' of the client's JWTs, exactly.")
    name = models.CharField(max_length=100, blank=True)
    jwks = models.JSONField("public keys (JWKS)", help_text='A JSON Web Key Set: {"keys": [...]}, public keys only.')
    allowed_jku = models.JSONField(
        "allowed jku URLs",
        default=list,
        blank=True,
        help_text="The key-set URLs the client may name in a JWT's 'jku' header; a JWT naming another is refused.",
    )
    origin = models.CharField(
        "browser origin",
        max_length=255,
        blank=True,
        help_text="For CORS: the EHR's origin, e.g. https://ehr.example.org (no path). Blank: none.",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["issuer"]
        verbose_name = "CDS Hooks client"

    def __str__(self) -> str:
        return self.name or self.issuer

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        errors = {}
        keys = self.jwks.get("keys") if isinstance(self.jwks, dict) else None
        if not isinstance(keys, list) or not keys or not all(isinstance(k, dict) for k in keys):
            errors["jwks"] = 'A JSON Web Key Set is an object with a non-empty list of keys: {"keys": [...]}.'
        elif any(private in key for key in keys for private in ("d", "p", "q")):
            errors["jwks"] = "This key set holds a private key: register the public keys only."
        if not isinstance(self.allowed_jku, list) or not all(isinstance(u, str) for u in self.allowed_jku):
            errors["allowed_jku"] = 'A list of URLs, e.g. ["https://ehr.example.org/jwks.json"], or [].'
        if self.origin and (
            self.origin.rstrip("/").count("/") != 2 or not self.origin.startswith(("https://", "http://"))
        ):
            errors["origin"] = "An origin is a scheme and host (and port), e.g. https://ehr.example.org."
        if errors:
            raise ValidationError(errors)


class CdsJwtUse(models.Model):
    """A JWT id seen from an issuer, kept until the JWT expires: the unique pair refuses a replay on every node."""

    issuer = models.CharField(max_length=255)
    jti = models.CharField(max_length=255)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "jti"], name="cds_jti_once_per_issuer")]

    def __str__(self) -> str:
        return f"{self.issuer} {self.jti}"


class CdsCard(models.Model):
    """A card the service returned (no patient identifiers): what feedback refers to by its uuid."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client = models.ForeignKey(CdsClient, on_delete=models.PROTECT, related_name="cards")
    service = models.CharField(max_length=64)
    summary = models.CharField(max_length=140)
    indicator = models.CharField(max_length=16)
    ruleset = models.CharField(max_length=64)
    issued_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-issued_at"]
        verbose_name = "CDS card issued"

    def __str__(self) -> str:
        return self.summary


class CdsFeedback(models.Model):
    """What the clinician did with a card: accepted (which suggestions) or overridden (why)."""

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        OVERRIDDEN = "overridden", "Overridden"

    card = models.ForeignKey(CdsCard, on_delete=models.PROTECT, related_name="feedback")
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    accepted_suggestions = models.JSONField(default=list, blank=True)
    override_code = models.CharField(max_length=64, blank=True)
    override_display = models.CharField(max_length=255, blank=True)
    user_comment = models.CharField(max_length=REASON_MAX_LENGTH, blank=True)
    outcome_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-outcome_at"]
        verbose_name = "CDS feedback"
        verbose_name_plural = "CDS feedback"

    def __str__(self) -> str:
        return f"{self.get_outcome_display()}: {self.card}"
