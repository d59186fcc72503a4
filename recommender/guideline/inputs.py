"""The engine's input, and the one validation path both front doors (HTML form and JSON API) use.

``parse_assessment`` takes the contract's request shape (a mapping of plain values) and returns an
``Assessment`` or raises ``InvalidAssessment`` whose ``errors`` name each bad field in a clinician's words.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from .units import (
    ACTIVE_B12_UNITS,
    HOMOCYSTEINE_UNITS,
    MMA_UNITS,
    TOTAL_B12_UNITS,
    canonical_unit,
)


@dataclass(frozen=True, slots=True)
class Measurement:
    value: Decimal
    unit: str


@dataclass(frozen=True, slots=True)
class MmaResult:
    value: Decimal
    unit: str
    upper_limit: Decimal | None = None  # the lab's upper reference limit, same unit as value


@dataclass(frozen=True, slots=True)
class Assessment:
    b12: Measurement | None = None
    active_b12: Measurement | None = None
    mma: MmaResult | None = None
    homocysteine: Measurement | None = None
    egfr: Decimal | None = None
    neurological_involvement: bool = False
    severe: bool = False
    ileal_resection_cm: Decimal = Decimal(0)
    bariatric_surgery: bool = False
    malabsorption: bool = False
    folic_acid: bool = False
    pregnant: bool = False


class InvalidAssessment(ValueError):
    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


# No real result reaches this in any unit we accept; larger numbers are typing errors.
PLAUSIBLE_LIMIT = Decimal(1_000_000)

# Field → (label in a clinician's words, allowed units or None for a plain number / flag).
MEASUREMENTS: dict[str, tuple[str, dict[str, Decimal]]] = {
    "b12": ("Total B12", TOTAL_B12_UNITS),
    "active_b12": ("Active B12", ACTIVE_B12_UNITS),
    "mma": ("Methylmalonic acid (MMA)", MMA_UNITS),
    "homocysteine": ("Total homocysteine", HOMOCYSTEINE_UNITS),
}
NUMBERS: dict[str, str] = {
    "egfr": "eGFR",
    "ileal_resection_cm": "Length of distal ileum resected",
}
FLAGS: dict[str, str] = {
    "neurological_involvement": "Neurological involvement",
    "severe": "Severe deficiency or severe neurological symptoms",
    "bariatric_surgery": "Bariatric surgery",
    "malabsorption": "Malabsorption",
    "folic_acid": "Folic acid",
    "pregnant": "Pregnant or breastfeeding",
}
FIELDS = (*MEASUREMENTS, *NUMBERS, *FLAGS)


def _unit_list(units: dict[str, Decimal]) -> str:
    names = [u.replace("umol", "µmol") for u in units]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _number(raw: object, label: str, errors: list[str], *, positive: bool = False) -> Decimal | None:
    """A finite, non-negative number exactly as entered (a float is read through its shortest repr)."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float, Decimal)):
        errors.append(f"{label} must be a number, for example 150.")
        return None
    if isinstance(raw, float) and not math.isfinite(raw):
        errors.append(f"{label} must be a finite number.")
        return None
    try:
        value = raw if isinstance(raw, Decimal) else Decimal(repr(raw) if isinstance(raw, float) else raw)
    except (InvalidOperation, ValueError):
        errors.append(f"{label} must be a number, for example 150.")
        return None
    if not value.is_finite():
        errors.append(f"{label} must be a finite number.")
        return None
    if value >= PLAUSIBLE_LIMIT:
        errors.append(f"{label} is too large to be a real result; check the value and its unit.")
        return None
    if positive and value <= 0:
        errors.append(f"{label} must be greater than zero.")
        return None
    if value < 0:
        errors.append(f"{label} cannot be negative.")
        return None
    return value


def _measurement(field: str, raw: object, errors: list[str]) -> Measurement | MmaResult | None:
    label, units = MEASUREMENTS[field]
    allowed = {"value", "unit", "upper_limit"} if field == "mma" else {"value", "unit"}
    if not isinstance(raw, Mapping):
        errors.append(
            f'{label} must be given as a value with its unit, e.g. {{"value": 150, "unit": "{next(iter(units))}"}}.'
        )
        return None
    for key in raw:
        if key not in allowed:
            errors.append(f"'{key}' is not part of a {label} result (expected: {', '.join(sorted(allowed))}).")
    value = None
    if "value" not in raw or raw["value"] is None:
        errors.append(f"{label}: enter the value.")
    else:
        value = _number(raw["value"], f"{label} value", errors)
    unit = None
    raw_unit = raw.get("unit")
    if raw_unit is None or raw_unit == "":
        errors.append(f"{label}: choose the unit ({_unit_list(units)}). The unit is never guessed.")
    elif not isinstance(raw_unit, str):
        errors.append(f"{label}: the unit must be one of {_unit_list(units)}.")
    else:
        unit = canonical_unit(raw_unit, units)
        if unit is None:
            hint = " Active B12 is reported in pmol/L only." if field == "active_b12" else ""
            errors.append(f"{label}: '{raw_unit}' is not a unit we accept; use {_unit_list(units)}.{hint}")
    upper_limit = None
    if field == "mma" and raw.get("upper_limit") is not None:
        upper_limit = _number(raw["upper_limit"], f"{label} upper reference limit", errors, positive=True)
    if errors or value is None or unit is None:
        return None
    if field == "mma":
        return MmaResult(value=value, unit=unit, upper_limit=upper_limit)
    return Measurement(value=value, unit=unit)


def parse_assessment(payload: object) -> Assessment:
    """Validate a request in the contract's shape and build the engine's input, or raise InvalidAssessment."""
    if not isinstance(payload, Mapping):
        raise InvalidAssessment({"body": ["The request must be a JSON object of named fields."]})
    errors: dict[str, list[str]] = {}
    values: dict[str, object] = {}
    for key in payload:
        if key not in FIELDS:
            errors[str(key)] = [f"'{key}' is not a recognised field."]
    for field in MEASUREMENTS:
        raw = payload.get(field)
        if raw is None:
            continue
        field_errors: list[str] = []
        parsed = _measurement(field, raw, field_errors)
        if field_errors:
            errors[field] = field_errors
        else:
            values[field] = parsed
    for field, label in NUMBERS.items():
        raw = payload.get(field)
        if raw is None:
            continue
        field_errors = []
        number = _number(raw, label, field_errors)
        if field_errors:
            errors[field] = field_errors
        else:
            values[field] = number
    for field, label in FLAGS.items():
        raw = payload.get(field)
        if raw is None:
            continue
        if not isinstance(raw, bool):
            errors[field] = [f"{label} must be true or false."]
        else:
            values[field] = raw
    if payload.get("b12") is None and payload.get("active_b12") is None and "b12" not in errors:
        errors["b12"] = ["Enter a total B12 result, an active B12 result, or both."]
    if errors:
        raise InvalidAssessment(errors)
    return Assessment(**values)
