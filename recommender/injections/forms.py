"""Forms for injections: a dose given, not attended, declined or held, and its correction."""

from __future__ import annotations

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Div, Layout, Row
from django import forms
from django.utils import timezone

from recommender.guideline import (
    DEFAULT_RULESET,
)
from recommender.models import (
    REASON_MAX_LENGTH,
    DoseRecord,
)
from recommender.ruleset_words import RULESET_WORDS
from recommender.web.plaintext import PlainTextForm
from recommender.web.widgets import DayMonthYearField


def length_hint(limit: int) -> str:
    return f"Up to {limit} characters."


BATCH_MAX_LENGTH = DoseRecord._meta.get_field("batch").max_length


class GivenDetailsForm(PlainTextForm):
    """What a nurse records about an injection given: when, how much, how, where, which batch."""

    given_at = forms.DateTimeField(
        label="Given at",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Not in the future.",
    )
    dose_mg = forms.DecimalField(label="Dose (mg)", required=False, max_digits=5, decimal_places=2)
    route = forms.ChoiceField(
        label="Route",
        required=False,
        choices=[(RULESET_WORDS.route_short, f"{RULESET_WORDS.route.capitalize()} ({RULESET_WORDS.route_short})")],
    )
    site = forms.ChoiceField(label="Site", required=False, choices=[("", "choose…"), *DoseRecord.Site.choices])
    batch = forms.CharField(
        label="Batch number", required=False, max_length=BATCH_MAX_LENGTH, help_text=length_hint(BATCH_MAX_LENGTH)
    )
    expiry = DayMonthYearField(
        label="Batch expiry",
        required=False,
        help_text="Day/month/year. An expired batch is refused.",
    )
    early_reason = forms.CharField(
        label="Reason for giving it early",
        required=False,
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=f"Only when given before the due date. {length_hint(REASON_MAX_LENGTH)}",
    )

    def __init__(self, *args, due_on=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.due_on = due_on
        self.fields["dose_mg"].initial = DEFAULT_RULESET.dose_mg
        self.fields["route"].initial = DEFAULT_RULESET.route

    def asks_early_reason(self) -> bool:
        """The early-dose reason is asked for when the dose is not yet due, or once it has been asked for."""
        return bool(
            (self.due_on and self.due_on > timezone.localdate())
            or "early_reason" in self.errors
            or self.data.get("early_reason")
            or self.initial.get("early_reason")
        )

    def given_layout(self) -> Div:
        return Div(
            Row(Column("given_at", css_class="col-md-6"), Column("site", css_class="col-md-6")),
            Row(Column("dose_mg", css_class="col-6 col-md-3"), Column("route", css_class="col-6 col-md-3")),
            Row(Column("batch", css_class="col-md-6"), Column("expiry", css_class="col-md-6")),
            *(["early_reason"] if self.asks_early_reason() else []),
            css_class="given-fields",
        )


class DoseRecordForm(GivenDetailsForm):
    """The due dose, given or not given. The dose's identity (phase, number, sequence) travels beside the form,
    in hidden inputs the view reads, so that a stale form is recognised rather than re-labelled."""

    outcome = forms.ChoiceField(label="Outcome", choices=DoseRecord.Outcome.choices, widget=forms.RadioSelect)
    allergy_checked = forms.BooleanField(
        label="Asked about cobalt allergy or hypersensitivity before this first dose", required=False
    )
    baseline_sample_taken = forms.BooleanField(
        label="Baseline blood sample taken before this first dose", required=False
    )
    reason = forms.CharField(
        label="Reason (if not given; optional when the patient did not attend)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=REASON_MAX_LENGTH,
        help_text=length_hint(REASON_MAX_LENGTH),
    )

    field_order = ["outcome"]

    def __init__(self, *args, first_dose: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.first_dose = first_dose
        self.fields["outcome"].initial = DoseRecord.Outcome.GIVEN
        self.fields["given_at"].initial = lambda: timezone.localtime().replace(second=0, microsecond=0)

    @property
    def helper(self) -> FormHelper:
        """Built when rendered: which questions are asked depends on the dose and on the errors found."""
        helper = FormHelper()
        helper.form_tag = False
        first_dose = ["allergy_checked", "baseline_sample_taken"] if self.first_dose else []
        helper.layout = Layout("outcome", *first_dose, self.given_layout(), "reason")
        return helper


class DoseCorrectionForm(GivenDetailsForm):
    """The corrected details of a dose that was given, and why the first record was wrong."""

    reason = forms.CharField(
        label="What was wrong with the record?",
        error_messages={"required": "Give the reason the record is wrong."},
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=REASON_MAX_LENGTH,
        help_text=length_hint(REASON_MAX_LENGTH),
    )

    @property
    def helper(self) -> FormHelper:
        helper = FormHelper()
        helper.form_tag = False
        helper.layout = Layout(self.given_layout(), "reason")
        return helper


class ReasonForm(PlainTextForm):
    reason = forms.CharField(
        label="Reason",
        error_messages={"required": "Give the reason the record is wrong."},
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=REASON_MAX_LENGTH,
        help_text=length_hint(REASON_MAX_LENGTH),
    )


class DoseIdentityForm(PlainTextForm):
    """Which dose a posted form is for: the dose that was due when the page was opened (phase, number and the
    plan's calendar sequence, posted back with it). Anything malformed names no dose, so it is refused as not due."""

    _WHOLE = r"\A[0-9]{1,9}\Z"  # ASCII digits only, and no 5,000-digit numbers

    phase = forms.CharField(required=False, max_length=16)
    number = forms.RegexField(regex=_WHOLE, required=False)
    sequence = forms.RegexField(regex=_WHOLE, required=False)

    def identity(self) -> tuple[str, int, int]:
        self.is_valid()
        data = self.cleaned_data

        def whole(name: str) -> int:
            return int(data[name]) if data.get(name) else -1

        return data.get("phase", ""), whole("number"), whole("sequence")
