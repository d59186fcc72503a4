"""The one rule for control characters in typed text, shared by every form of the app and the request guard.

Refused: C0 controls but tab and line breaks, DEL, C1 controls, Unicode line/paragraph separators and the
bidirectional overrides and isolates (text that displays differently from what is stored, e.g. a batch number
whose characters show reversed). Allowed: tab, CR and LF (a reason written over two lines)."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.utils.deconstruct import deconstructible

CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def has_control_character(value: str) -> bool:
    return bool(CONTROL_IN_TEXT.search(value))


def control_character_message(label: str) -> str:
    return (
        f"“{label}” contains a control character (an invisible character such as NUL or a text-direction "
        "override), which cannot be stored. Retype it without pasting, or remove the character, and try again."
    )


@deconstructible
class NoControlCharacters:
    def __init__(self, label: str):
        self.label = label

    def __call__(self, value) -> None:
        if isinstance(value, str) and has_control_character(value):
            raise ValidationError(control_character_message(self.label), code="control_character")

    def __eq__(self, other) -> bool:
        return isinstance(other, NoControlCharacters) and other.label == self.label


class PlainTextMixin:
    """Every text field of the form refuses control characters, with a message naming the field."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if isinstance(field, forms.CharField):
                label = str(field.label or name.replace("_", " ").capitalize())
                field.validators = [
                    v for v in field.validators if not isinstance(v, ProhibitNullCharactersValidator)
                ] + [NoControlCharacters(label)]


class PlainTextForm(PlainTextMixin, forms.Form):
    pass


class PlainTextModelForm(PlainTextMixin, forms.ModelForm):
    pass
