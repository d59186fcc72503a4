"""What the clinician may choose when turning a recommendation into a plan: pure rules, no Django."""

from __future__ import annotations

from .ruleset import Ruleset

DAYS, WEEKS, MONTHS = "days", "weeks", "months"
# The longest individualised interval in each unit, so that none exceeds the ruleset's limit in months.
_MAX_IN_UNIT = {DAYS: lambda months: months * 30, WEEKS: lambda months: months * 13 // 3, MONTHS: lambda months: months}


def maintenance_month_choices(min_months: int, max_months: int) -> list[int]:
    """Every whole number of months the guideline's range allows, e.g. 2–3 months → [2, 3]."""
    return list(range(min_months, max_months + 1))


def individualised_interval_error(every: int | None, unit: str | None, reason: str, ruleset: Ruleset) -> dict:
    """Errors for an individualised interval (from daily up to the ruleset's limit), keyed by field."""
    errors: dict[str, str] = {}
    limit_months = ruleset.individualised_max_months
    if unit not in _MAX_IN_UNIT:
        errors["individualised_unit"] = "Choose days, weeks or months."
    if every is None or every < 1:
        errors["individualised_every"] = "Enter how often, as a whole number of at least 1."
    elif unit in _MAX_IN_UNIT and every > _MAX_IN_UNIT[unit](limit_months):
        errors["individualised_every"] = (
            f"An individualised interval runs from daily to every {limit_months} months; "
            f"every {every} {unit} is longer."
        )
    if not reason.strip():
        errors["individualised_reason"] = "Give the clinical reason for an individualised regimen."
    return errors
