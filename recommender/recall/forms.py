"""Forms for recall: a contact attempt, and the dose marked did not attend from the recall list."""

from __future__ import annotations

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row
from django import forms
from django.utils import timezone

from recommender.models import REASON_MAX_LENGTH, ContactAttempt
from recommender.web.plaintext import PlainTextForm


class ContactAttemptForm(PlainTextForm):
    at = forms.DateTimeField(
        label="When",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Not in the future.",
    )
    method = forms.ChoiceField(
        label="How", choices=ContactAttempt.Method.choices, widget=forms.RadioSelect, required=False
    )
    outcome = forms.ChoiceField(
        label="What came of it", choices=[("", "choose…"), *ContactAttempt.Outcome.choices], required=False
    )
    note = forms.CharField(
        label="Note",
        required=False,
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=f"Optional. Up to {REASON_MAX_LENGTH} characters. No clinical detail is needed here.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["at"].initial = lambda: timezone.localtime().replace(second=0, microsecond=0)
        self.fields["method"].initial = ContactAttempt.Method.PHONE

    @property
    def helper(self) -> FormHelper:
        helper = FormHelper()
        helper.form_tag = False
        helper.layout = Layout(
            Row(Column("at", css_class="col-md-6"), Column("outcome", css_class="col-md-6")), "method", "note"
        )
        return helper


class SequenceForm(PlainTextForm):
    """The plan's calendar sequence when the recall list was opened: a stale button is refused, not re-aimed."""

    sequence = forms.RegexField(regex=r"\A[0-9]{1,9}\Z", required=False)

    def sequence_value(self) -> int:
        self.is_valid()
        raw = self.cleaned_data.get("sequence")
        return int(raw) if raw else -1
