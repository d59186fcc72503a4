"""Form widgets shared by the site's forms."""

from __future__ import annotations

from datetime import date

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

# Day first, whatever the browser's locale; ISO too (what a date picker or a script sends).
DATE_INPUT_FORMATS = ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d")
DATE_DISPLAY_FORMAT = "%d/%m/%Y"


class DayMonthYearInput(forms.DateInput):
    """A text box for a date written dd/mm/yyyy: a browser's date picker would show mm/dd/yyyy in en-US."""

    def __init__(self, attrs: dict | None = None):
        base = {
            "placeholder": "dd/mm/yyyy",
            "inputmode": "numeric",
            "autocomplete": "off",
            "class": "form-control date-dmy",
        }
        super().__init__(attrs={**base, **(attrs or {})}, format=DATE_DISPLAY_FORMAT)


class DayMonthYearField(forms.DateField):
    """A date entered day first (dd/mm/yyyy) or as ISO (yyyy-mm-dd)."""

    widget = DayMonthYearInput
    input_formats = DATE_INPUT_FORMATS
    default_error_messages = {"invalid": "Enter a date as day/month/year, for example 28/02/2026."}
    # Dates a clinic can mean; anything outside is a typing error (and would overflow date arithmetic).
    default_validators = [
        MinValueValidator(date(1900, 1, 1), "The date cannot be before 01 Jan 1900."),
        MaxValueValidator(date(2999, 12, 31), "Enter a date before the year 3000."),
    ]
