"""What every view shares: the htmx request type, permission checks, safe dates and redirects."""

from __future__ import annotations

from datetime import date, datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.middleware import HtmxDetails

from recommender.web.widgets import DATE_INPUT_FORMATS

# Dates a clinic can mean; anything outside is a typing error (and would overflow date arithmetic).
DATE_RANGE = (date(1900, 1, 1), date(2999, 12, 31))


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


class CountedPaginator(Paginator):
    """A paginator that counts ``counted``, the same rows as its list without what only the page shows: a page's
    rows join their patients, and counting them through that join read every patient (the worklist: 1.9 ms)."""

    def __init__(self, object_list, per_page, *, counted: QuerySet, **kwargs) -> None:
        super().__init__(object_list, per_page, **kwargs)
        self._counted = counted

    @cached_property
    def count(self) -> int:
        return self._counted.count()


def kept_page(page: Page) -> Page:
    """The page as plain values, its rows listed and its paginator only counting: what a cache can keep (a page
    of a QuerySet would pickle the whole QuerySet's rows)."""
    return Page(list(page.object_list), page.number, Paginator(range(page.paginator.count), page.paginator.per_page))


def plain_number(raw: str | None, *, digits: int = 6) -> int | None:
    """``raw`` as a whole number when it is written with up to ``digits`` ASCII digits, else None (``"²".isdigit()``
    is true, and ``int("²")`` fails)."""
    if raw and raw.isascii() and raw.isdigit() and len(raw) <= digits:
        return int(raw)
    return None


def page_number(raw: str | None) -> int:
    """A ``?page=`` as a number (1 when it is none), short enough to be a cache key: Django's ``get_page`` then
    shows the last page for a number past it."""
    number = plain_number(raw)
    return 1 if number is None else number


def can(request, perm: str) -> bool:
    return request.user.has_perm(f"recommender.{perm}")


def typed_date(raw: str) -> date | None:
    """A date typed day first (dd/mm/yyyy) or as ISO, as every date field of the site accepts it."""
    for pattern in DATE_INPUT_FORMATS:
        try:
            return datetime.strptime(raw, pattern).date()
        except ValueError:
            continue
    return None


def date_param(request, name: str, default: date) -> date:
    """A date from the query string; a bad one falls back to the default with a message, never a 500."""
    raw = request.GET.get(name)
    if not raw:
        return default
    value = typed_date(raw)
    if value is None:
        messages.warning(request, f"“{raw}” is not a date (use dd/mm/yyyy); showing {default:%d %b %Y}.")
        return default
    if not DATE_RANGE[0] <= value <= DATE_RANGE[1]:
        messages.warning(request, f"{value:%d %b %Y} is out of range; showing {default:%d %b %Y}.")
        return default
    return value


def safe_next(request) -> str:
    """Where to return after a form: a path on this site only."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    return target if url_has_allowed_host_and_scheme(target, allowed_hosts=None) and target.startswith("/") else ""


def add_errors(form, error: ValidationError) -> None:
    """A service's refusal on the form: each message on its field where the form has it, else above the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, errors in error.error_dict.items():
        form.add_error(field if field in form.fields else None, errors)
