"""The contact-preference form: how a patient wants to be reminded, checked before anything is saved."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from recommender.models import ContactPreference
from recommender.web.plaintext import PlainTextForm

from .services import normalise_mobile


class ContactPreferenceForm(PlainTextForm):
    consent = forms.ChoiceField(
        label="Reminders by", choices=ContactPreference.Consent.choices, widget=forms.RadioSelect
    )
    email = forms.EmailField(
        label="Email address",
        required=False,
        max_length=254,
        error_messages={"invalid": "Enter an email address like name@example.org."},
    )
    mobile = forms.CharField(label="Mobile number", required=False, max_length=20, help_text="A UK mobile, 07…")
    window = forms.ChoiceField(label="Preferred time", choices=ContactPreference.Window.choices)

    def clean_mobile(self) -> str:
        raw = self.cleaned_data.get("mobile", "")
        try:
            normalise_mobile(raw)
        except ValidationError as error:
            raise ValidationError(error.message_dict["mobile"]) from None
        return raw

    def clean(self):
        data = super().clean()
        consent = data.get("consent")
        if consent == ContactPreference.Consent.EMAIL and not data.get("email") and "email" not in self.errors:
            self.add_error("email", "Reminders by email need an email address.")
        if consent == ContactPreference.Consent.SMS and not data.get("mobile") and "mobile" not in self.errors:
            self.add_error("mobile", "Reminders by text message need a mobile number.")
        return data
