"""Dates and identifiers as the clinic reads them."""

from __future__ import annotations

from datetime import date, datetime

from django import template
from django.utils import timezone

from recommender.identifiers import age_on
from recommender.vocabulary import DoseState, dose_label, dose_state
from recommender.vocabulary import quantity as quantity_words
from recommender.web import formats

register = template.Library()


def _as_date(value) -> date | None:
    if isinstance(value, datetime):
        return timezone.localdate(value) if timezone.is_aware(value) else value.date()
    return value if isinstance(value, date) else None


@register.filter
def clinic_date(value) -> str:
    """ "Mon 02 Jan" in the current year, "Mon 02 Jan 2028" in any other: a date never passes for another year's."""
    day = _as_date(value)
    return "" if day is None else formats.clinic_date(day, this_year=timezone.localdate().year)


@register.filter
def age(born) -> int | str:
    """Completed years today, in the clinic's time zone."""
    day = _as_date(born)
    return "" if day is None else age_on(day, timezone.localdate())


@register.filter
def clinic_dob(value) -> str:
    """A date of birth, always with its year: "14 Mar 1951"."""
    day = _as_date(value)
    return "" if day is None else formats.clinic_dob(day)


@register.filter
def day_month_year(value) -> str:
    """ "14 Mar 2027": Django's ``date:"d M Y"``, without its general formatter (lists print many dates)."""
    day = _as_date(value)
    return "" if day is None else formats.clinic_dob(day)


@register.filter
def weekday_date(value) -> str:
    """ "Sun 14 Mar 2027": Django's ``date:"D d M Y"``, without its general formatter."""
    day = _as_date(value)
    return "" if day is None else formats.weekday_date(day)


@register.filter
def quantity(value, unit: str = "") -> str:
    """A measured value with its unit and without spurious decimals (recommender.vocabulary.quantity)."""
    return quantity_words(value, unit)


@register.filter
def next_dose_label(plan) -> str:
    """The name of a plan's next dose, as everywhere else: "Loading 2 of 6", "Maintenance 3"."""
    return dose_label(plan.next_phase, plan.next_number, plan.loading_doses) if plan.next_phase else ""


@register.filter
def next_dose_state(plan, today=None) -> str:
    """The plan's next dose as of ``today`` in words: "Not yet recorded" once its day has ended with nothing
    recorded, "Due today", "Due" (recommender.vocabulary.dose_state)."""
    if not getattr(plan, "next_due_on", None):
        return ""
    return str(DoseState(dose_state(plan.next_due_on, today or timezone.localdate())).label)
