"""Dates and identifiers as the clinic reads them."""

from __future__ import annotations

from datetime import date, datetime

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format

from recommender.identifiers import age_on

register = template.Library()


def _as_date(value) -> date | None:
    if isinstance(value, datetime):
        return timezone.localdate(value) if timezone.is_aware(value) else value.date()
    return value if isinstance(value, date) else None


@register.filter
def clinic_date(value) -> str:
    """ "Mon 02 Jan" in the current year, "Mon 02 Jan 2028" in any other: a date never passes for another year's."""
    day = _as_date(value)
    if day is None:
        return ""
    return date_format(day, "D d M" if day.year == timezone.localdate().year else "D d M Y")


@register.filter
def age(born) -> int | str:
    """Completed years today, in the clinic's time zone."""
    day = _as_date(born)
    return "" if day is None else age_on(day, timezone.localdate())
