"""Dates and links as long lists show them, made cheap: a list of fifty rows formats a hundred dates and reverses
a hundred and fifty URLs, and Django's general ``date`` filter and ``{% url %}`` tag cost a page a few milliseconds
each time. These give the same text (tests compare them with Django's) from Django's own translated month and
weekday names, and a route's URL from one reverse() per page.

A row's text is also escaped here once, and rows are read by key: a day list of forty rows prints five hundred
values, and for each Django's template engine first tries ``row[name]`` (an exception when the row is not a dict),
then escapes the value (a lazy wrapper and five replacements). ``TemplateRow`` and ``html_text`` make those two steps
cheap and change nothing of the page: the same text, escaped the same way."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import date

from django.urls import reverse
from django.utils import translation
from django.utils.dates import MONTHS_3, WEEKDAYS_ABBR
from django.utils.html import escape
from django.utils.safestring import SafeString

# An id no record has, put where the row's id goes; reverse() checks it against the route's converter.
_PLACEHOLDER = "00000000-0000-4000-8000-000000000000"


# The characters HTML escaping replaces (django.utils.html.escape).
_SPECIAL = re.compile(r"[&<>\"']")


def html_text(value: object) -> SafeString:
    """``value`` as a template would print it with autoescaping on (``escape(str(value))``), marked safe so that the
    template prints it as it is: text without a special character (an id, a date, a time, a URL) is not copied."""
    text = str(value)
    return escape(text) if _SPECIAL.search(text) else SafeString(text)


class TemplateRow:
    """A base for a presenter's row (a slotted dataclass): ``row[name]`` is ``row.name``, the lookup Django's template
    engine tries first, so that reading a value costs no exception."""

    __slots__ = ()

    def __getitem__(self, name: str) -> object:
        return getattr(self, name)


def url_for_each(name: str) -> Callable[[object], SafeString]:
    """The URL of route ``name`` (one UUID argument) for any id: reversed once, then the id put in its place;
    escaped for HTML (``html_text``)."""
    prefix, _, suffix = reverse(name, args=[_PLACEHOLDER]).partition(_PLACEHOLDER)
    return lambda pk: html_text(f"{prefix}{pk}{suffix}")


@functools.lru_cache(maxsize=16)
def _names(language: str | None) -> tuple[dict[int, str], dict[int, str]]:
    """The month and weekday abbreviations in ``language``, translated once (each is a lazy translation: a list of
    fifty rows looked them up a hundred and fifty times)."""
    with translation.override(language):
        return {m: str(name).title() for m, name in MONTHS_3.items()}, {d: str(n) for d, n in WEEKDAYS_ABBR.items()}


def _month(day: date) -> str:
    return _names(translation.get_language())[0][day.month]


def _weekday(day: date) -> str:
    return _names(translation.get_language())[1][day.weekday()]


def clinic_date(day: date, *, this_year: int) -> str:
    """ "Mon 02 Jan" in the current year, "Mon 02 Jan 2028" in any other (Django's "D d M" / "D d M Y")."""
    text = f"{_weekday(day)} {day.day:02d} {_month(day)}"
    return text if day.year == this_year else f"{text} {day.year}"


def clinic_dob(day: date) -> str:
    """A date of birth, always with its year: "14 Mar 1951" (Django's "d M Y")."""
    return f"{day.day:02d} {_month(day)} {day.year}"


def weekday_date(day: date) -> str:
    """ "Sun 14 Mar 2027" (Django's "D d M Y")."""
    return f"{_weekday(day)} {day.day:02d} {_month(day)} {day.year}"
