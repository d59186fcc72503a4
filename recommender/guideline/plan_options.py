"""What the clinician may choose when turning a recommendation into a plan: pure rules, no Django."""

from __future__ import annotations

import calendar

DAYS, WEEKS, MONTHS = "days", "weeks", "months"
_UNIT_WORDS = {DAYS: ("day", "days"), WEEKS: ("week", "weeks"), MONTHS: ("month", "months")}


def shortest_span_days(months: int) -> int:
    """The fewest days any run of ``months`` consecutive calendar months holds (1 → 28, 2 → 59, 3 → 89): an
    interval in days no longer than this is never longer than ``months`` calendar months."""
    lengths = [calendar.monthrange(2027, m)[1] for m in range(1, 13)]  # a common year: February has 28 days
    return min(sum(lengths[(first + i) % 12] for i in range(months)) for first in range(12))


def longest_in_unit(months: int, unit: str) -> int:
    """The longest individualised interval in ``unit`` that is not longer than ``months`` calendar months."""
    if unit == MONTHS:
        return months
    days = shortest_span_days(months)
    return days if unit == DAYS else days // 7


def _every(n: int, unit: str) -> str:
    one, many = _UNIT_WORDS[unit]
    return f"every {one}" if n == 1 else f"every {n} {many}"


def maintenance_month_choices(min_months: int, max_months: int) -> list[int]:
    """Every whole number of months the guideline's range allows, e.g. 2–3 months → [2, 3]."""
    return list(range(min_months, max_months + 1))


def individualised_interval_error(every: int | None, unit: str | None, reason: str, max_months: int) -> dict:
    """Errors for an individualised interval, keyed by field. An individualised regimen is at least as frequent as
    the guideline's: from daily up to ``max_months`` (the decision's longest maintenance interval for the plan's
    indications: monthly for ileal resection, 2 months with neurological involvement)."""
    errors: dict[str, str] = {}
    if unit not in _UNIT_WORDS:
        errors["individualised_unit"] = "Choose days, weeks or months."
    if every is None or every < 1:
        errors["individualised_every"] = "Enter how often, as a whole number of at least 1."
    elif unit in _UNIT_WORDS and every > (longest := longest_in_unit(max_months, unit)):
        errors["individualised_every"] = (
            f"The guideline's maximum here is {_every(max_months, MONTHS)}: an individualised interval runs from "
            f"every day to {_every(longest, unit)}; {_every(every, unit)} is less often."
        )
    if not reason.strip():
        errors["individualised_reason"] = "Give the clinical reason for an individualised regimen."
    return errors
