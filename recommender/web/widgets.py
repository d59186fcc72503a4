"""Form widgets shared by the site's forms, and empty forms rendered once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.safestring import SafeString

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


@dataclass(frozen=True, slots=True)
class BlankField:
    """One field of an empty form, its widget already rendered: ``{{ f.reason }}`` prints the widget,
    ``f.reason.auto_id``, ``.label`` and ``.help_text`` read as on a bound field."""

    html: SafeString
    auto_id: str
    label: str
    help_text: str

    def __html__(self) -> SafeString:
        return self.html

    def __str__(self) -> str:
        return self.html


@cache
def blank_form(form_class: type[forms.Form]) -> dict[str, BlankField]:
    """An empty, unbound form's fields with their widgets rendered once per process (the same HTML every time: a
    blank form has no data, no initial values and no errors). For forms a page shows on every view but rarely
    submits; the view that receives the post still validates with the form itself."""
    form = form_class()
    if form.initial or any(field.initial is not None for field in form.fields.values()):
        raise ValueError(f"{form_class.__name__} has initial values: it is not the same on every view")
    return {
        name: BlankField(bound.as_widget(), bound.auto_id, str(bound.label), str(bound.help_text))
        for name, bound in ((name, form[name]) for name in form.fields)
    }
