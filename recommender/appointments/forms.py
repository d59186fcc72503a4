"""Booking forms: a slot from the free ones offered, or the patient's preferred day and time; the reasons a booking
outside its window or over a slot's capacity needs."""

from __future__ import annotations

from datetime import datetime

from django import forms
from django.utils import timezone

from recommender.appointments.selectors import SLOT_FORMAT, slot_value
from recommender.models import REASON_MAX_LENGTH, Location
from recommender.web.plaintext import PlainTextForm
from recommender.web.widgets import DayMonthYearField


class BookingForm(PlainTextForm):
    location = forms.ModelChoiceField(
        label="Location",
        queryset=Location.objects.filter(active=True),
        empty_label=None,
        error_messages={"invalid_choice": "Choose one of the clinic's locations."},
    )
    slot = forms.ChoiceField(label="Free slot", required=False)
    day = DayMonthYearField(label="Or the patient's preferred day", required=False)
    time = forms.TimeField(
        label="and time",
        required=False,
        input_formats=["%H:%M"],
        widget=forms.TimeInput(attrs={"placeholder": "hh:mm", "inputmode": "numeric"}, format="%H:%M"),
        error_messages={"invalid": "Enter a time as hh:mm, for example 10:20."},
    )
    window_reason = forms.CharField(
        label="Reason for booking outside the window", required=False, max_length=REASON_MAX_LENGTH
    )
    overbook = forms.BooleanField(label="Overbook this slot (it is full)", required=False)
    overbook_reason = forms.CharField(label="Reason for overbooking", required=False, max_length=REASON_MAX_LENGTH)

    def __init__(self, *args, slots=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slot"].choices = [("", "—")] + [
            (slot_value(s.starts_at), f"{timezone.localtime(s.starts_at):%a %d %b %Y %H:%M} ({s.free} free)")
            for s in slots
        ]

    def clean_slot(self):
        raw = self.cleaned_data.get("slot") or ""
        if not raw:
            return None
        try:
            return timezone.make_aware(datetime.strptime(raw, SLOT_FORMAT))
        except ValueError:
            raise forms.ValidationError("Choose one of the free slots listed.") from None

    def clean(self):
        data = super().clean()
        slot, day, at = data.get("slot"), data.get("day"), data.get("time")
        if slot is None and "slot" not in self.errors:
            if day and at:
                data["starts_at"] = timezone.make_aware(datetime.combine(day, at))
            elif day or at:
                self.add_error("time" if day else "day", "Give both the day and the time, or choose a free slot.")
            elif "day" not in self.errors and "time" not in self.errors:
                self.add_error("slot", "Choose a free slot, or give the patient's preferred day and time.")
        else:
            data["starts_at"] = slot
        return data

    def booking(self) -> dict:
        data = self.cleaned_data
        return {
            "location": data["location"],
            "starts_at": data["starts_at"],
            "window_reason": data.get("window_reason") or "",
            "overbook": bool(data.get("overbook")),
            "overbook_reason": data.get("overbook_reason") or "",
        }


class MoveForm(BookingForm):
    reason = forms.CharField(
        label="Reason for the move",
        max_length=REASON_MAX_LENGTH,
        error_messages={"required": "Give the reason for the move."},
    )

    field_order = ["location", "slot", "day", "time", "reason", "window_reason", "overbook", "overbook_reason"]


class CancelForm(PlainTextForm):
    reason = forms.CharField(
        label="Reason for cancelling",
        max_length=REASON_MAX_LENGTH,
        error_messages={"required": "Give the reason for cancelling."},
    )
