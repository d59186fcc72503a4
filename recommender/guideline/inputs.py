"""The engine's input, defined once: every field with its label, units, plausible range and precision, and the
one validation path both front doors (the HTML form and the JSON API) use.

``INPUTS`` describes each numeric input (the form builds its fields from it, the OpenAPI request schema is
generated from it); ``parse_assessment`` takes the contract's request shape (a mapping of plain values) and
returns an ``Assessment`` or raises ``InvalidAssessment`` whose ``errors`` name each bad field in a clinician's
words. Messages read well on their own (beside the field or in a summary): none starts with the field's label.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from .ruleset import DEFAULT_RULESET
from .units import (
    ACTIVE_B12_UNITS,
    HOMOCYSTEINE_UNITS,
    MMA_UNITS,
    NMOL_PER_L,
    TOTAL_B12_UNITS,
    UMOL_PER_L,
    canonical_unit,
    convert,
    shown_unit,
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


def number_words(value: Decimal) -> str:
    """A number as a clinician reads it: 20,000 · 0.4 · 14,756; absurdly long ones in scientific notation."""
    if value.is_finite() and -7 <= value.adjusted() < 12:
        text = format(value, ",f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    return f"{value.normalize():E}"


@dataclass(frozen=True, slots=True)
class PlausibleRange:
    """The values a real result can take, in the unit it is entered in: above ``low`` (from ``low`` when
    ``low_inclusive``) up to ``high`` inclusive. Compared exactly."""

    low: Decimal
    high: Decimal
    low_inclusive: bool = False

    def __contains__(self, value: Decimal) -> bool:
        above_low = value >= self.low if self.low_inclusive else value > self.low
        return above_low and value <= self.high

    def words(self, unit: str) -> str:
        low = f"from {number_words(self.low)} to" if self.low_inclusive else f"above {number_words(self.low)} and up to"
        return f"{low} {number_words(self.high)} {shown_unit(unit)}".rstrip()

    def schema(self) -> dict:
        """The same range as JSON Schema keywords."""
        low = {"minimum": float(self.low)} if self.low_inclusive else {"exclusiveMinimum": float(self.low)}
        return {**low, "maximum": float(self.high)}


def _in_units(low: str, high: str, units: dict[str, Decimal], *, low_inclusive: bool = False) -> dict:
    """One range given in the canonical unit, expressed exactly in each unit of the family."""
    return {
        unit: PlausibleRange(Decimal(low) * factor, Decimal(high) * factor, low_inclusive)
        for unit, factor in units.items()
    }


@dataclass(frozen=True, slots=True)
class NumericInput:
    """A number the engine reads: a measurement with a unit chosen by the user, or a plain number in one unit."""

    field: str
    label: str  # beside the field
    noun: str  # inside a sentence
    units: dict[str, Decimal]  # the units accepted (a plain number has exactly one, never chosen)
    plausible: dict[str, PlausibleRange]  # by unit, in the unit entered
    decimal_places: int  # the most a value may carry; more is a pasting or typing slip
    example: str
    help_text: str
    chosen_unit: bool = True  # False: a plain number whose unit is fixed (the contract sends no unit)
    limit_label: str = ""  # MMA only: the lab's upper reference limit, given in the MMA's unit
    limit_help: str = ""
    limit_plausible: dict[str, PlausibleRange] | None = None

    def __post_init__(self) -> None:
        for ranges in (self.plausible, self.limit_plausible or self.plausible):
            if set(ranges) != set(self.units):
                raise ValueError(f"{self.field}: a plausible range is needed for each unit, and only those")
            if any(r.high <= r.low for r in ranges.values()):
                raise ValueError(f"{self.field}: a plausible range is empty")

    @property
    def unit_words(self) -> str:
        names = [shown_unit(u) for u in self.units]
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]

    @property
    def invalid_number_message(self) -> str:
        return f"The {self.noun} must be a number, for example {self.example}."


@dataclass(frozen=True, slots=True)
class FlagInput:
    field: str
    label: str
    help_text: str = ""


# Plausible ranges: wide enough for every real result (including the very high values seen on treatment, in
# liver or myeloproliferative disease, or in inborn errors), narrow enough to catch a slipped digit or a wrong
# unit. Below or above them a value is refused with the range, never decided on.
_B12_MAX_PG_ML = "20000"  # assays report to about 2,000 pg/mL undiluted; diluted results above 10,000 occur
MEASURED: tuple[NumericInput, ...] = (
    NumericInput(
        field="b12",
        label="Total B12",
        noun="total B12",
        units=TOTAL_B12_UNITS,
        # The same quantity in each unit: up to 20,000 pg/mL = 20,000 ng/L = 14,756 pmol/L (× 0.7378).
        plausible={
            unit: PlausibleRange(Decimal(0), Decimal(_B12_MAX_PG_ML) * factor)
            for unit, factor in TOTAL_B12_UNITS.items()
        },
        decimal_places=6,  # enough for a pg/mL value converted to pmol/L by a client (× 0.7378)
        example="150",
        help_text="Serum cobalamin as reported by the lab.",
    ),
    NumericInput(
        field="active_b12",
        label="Active B12",
        noun="active B12",
        units=ACTIVE_B12_UNITS,
        # Holotranscobalamin assays measure to about 128–150 pmol/L undiluted; values rise after injections.
        plausible={unit: PlausibleRange(Decimal(0), Decimal(500)) for unit in ACTIVE_B12_UNITS},
        decimal_places=6,
        example="40",
        help_text="Holotranscobalamin; pmol/L only.",
    ),
    NumericInput(
        field="mma",
        label="Methylmalonic acid (MMA)",
        noun="MMA",
        units=MMA_UNITS,
        # Healthy MMA is about 0.05–0.4 µmol/L and assays quantify down to about 0.02 µmol/L, so nothing real is
        # below 0.01 µmol/L (10 nmol/L): a smaller "nmol/L" value is a µmol/L one with the wrong unit. Severe
        # deficiency reaches tens of µmol/L; 100 µmol/L (100,000 nmol/L) is the ceiling.
        plausible=_in_units("0.01", "100", MMA_UNITS, low_inclusive=True),
        decimal_places=6,
        example="0.3",
        help_text="Decides an indeterminate B12 result.",
        limit_label="Lab's MMA upper limit",
        limit_help="Same unit as the MMA. Blank: the default applies.",
        # Published upper reference limits are 0.21–0.47 µmol/L, higher with age: 0.1–1.0 µmol/L covers them.
        limit_plausible=_in_units("0.1", "1.0", MMA_UNITS, low_inclusive=True),
    ),
    NumericInput(
        field="homocysteine",
        label="Total homocysteine",
        noun="total homocysteine",
        units=HOMOCYSTEINE_UNITS,
        # Severe deficiency raises it to 50–100 µmol/L; classical homocystinuria to a few hundred.
        plausible={unit: PlausibleRange(Decimal(0), Decimal(500)) for unit in HOMOCYSTEINE_UNITS},
        decimal_places=6,
        example="12",
        help_text="",
    ),
)
EGFR_UNIT = "mL/min/1.73m²"
PLAIN: tuple[NumericInput, ...] = (
    NumericInput(
        field="egfr",
        label=f"eGFR ({EGFR_UNIT})",
        noun="eGFR",
        units={EGFR_UNIT: Decimal(1)},
        # Labs report eGFR from below 5 (kidney failure) to about 120, rarely above 150 (hyperfiltration).
        plausible={EGFR_UNIT: PlausibleRange(Decimal(1), Decimal(200), low_inclusive=True)},
        decimal_places=2,
        example="60",
        help_text=f"Below {DEFAULT_RULESET.egfr_renal_below.normalize():f}, a raised MMA may be renal.",
        chosen_unit=False,
    ),
    NumericInput(
        field="ileal_resection_cm",
        label="Distal ileum resected (cm)",
        noun="length of distal ileum resected",
        units={"cm": Decimal(1)},
        # The whole small bowel is about 600–700 cm long; no resection of its distal part is longer than 600 cm.
        plausible={"cm": PlausibleRange(Decimal(0), Decimal(600), low_inclusive=True)},
        decimal_places=2,
        example="25",
        help_text="0 if none.",
        chosen_unit=False,
    ),
)
INPUTS: dict[str, NumericInput] = {spec.field: spec for spec in (*MEASURED, *PLAIN)}
MEASUREMENTS: dict[str, NumericInput] = {spec.field: spec for spec in MEASURED}
NUMBERS: dict[str, NumericInput] = {spec.field: spec for spec in PLAIN}
FLAGS: dict[str, FlagInput] = {
    flag.field: flag
    for flag in (
        FlagInput(
            "neurological_involvement",
            "Neurological signs or symptoms attributed to B12 deficiency",
            "Paraesthesia, loss of vibration or position sense, ataxia, cognitive or visual change.",
        ),
        FlagInput("severe", "Severe deficiency or severe neurological symptoms"),
        FlagInput("pregnant", "Pregnant or breastfeeding"),
        FlagInput("folic_acid", "Takes, or is about to start, folic acid"),
        FlagInput("malabsorption", "Malabsorptive cause", "For example pernicious anaemia or autoimmune gastritis."),
        FlagInput("bariatric_surgery", "After bariatric surgery"),
    )
}
FIELDS = (*MEASUREMENTS, *NUMBERS, *FLAGS)
# The other unit an MMA value is most often typed in by mistake (a factor of 1000).
_MMA_OTHER_UNIT = {UMOL_PER_L: NMOL_PER_L, NMOL_PER_L: UMOL_PER_L}


def _exact(raw: object, spec: NumericInput, what: str, errors: list[str]) -> Decimal | None:
    """A finite number exactly as entered (a float is read through its shortest repr), or None with an error."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float, Decimal)):
        errors.append(f"The {what} must be a number, for example {spec.example}.")
        return None
    if isinstance(raw, float) and not math.isfinite(raw):
        errors.append(f"The {what} must be a finite number.")
        return None
    try:
        value = raw if isinstance(raw, Decimal) else Decimal(repr(raw) if isinstance(raw, float) else raw)
    except (InvalidOperation, ValueError):
        errors.append(f"The {what} must be a number, for example {spec.example}.")
        return None
    if not value.is_finite():
        errors.append(f"The {what} must be a finite number.")
        return None
    return value


def _plausible(value: Decimal, unit: str, spec: NumericInput, errors: list[str]) -> Decimal | None:
    """The value when a real result could be it, in its unit and to its precision; else None with an error."""
    allowed = spec.plausible[unit]
    range_words = allowed.words(unit)
    if value < 0:
        errors.append(f"The {spec.noun} cannot be negative: a real result is {range_words}.")
        return None
    if value not in allowed:
        entered = f"{number_words(abs(value))} {shown_unit(unit)}".rstrip()  # abs: -0 reads as 0
        other = _MMA_OTHER_UNIT.get(unit) if spec.field == "mma" else None
        if other is not None and value in spec.plausible[other]:
            errors.append(
                f"{entered} is not a plausible {spec.noun}; did you mean {number_words(value)} {shown_unit(other)}? "
                f"(In {shown_unit(unit)}, a real result is {range_words}.)"
            )
        else:
            errors.append(f"{entered} is not a plausible {spec.noun}: a real result is {range_words}.")
        return None
    if _places(value) > spec.decimal_places:
        errors.append(
            f"The {spec.noun} has more than {spec.decimal_places} decimal places; enter it as the lab reports it."
        )
        return None
    return value


def _places(value: Decimal) -> int:
    """Decimal places that carry information: 0.400 has 1, 1E+2 has none (counted exactly, never rounded)."""
    _, digits, exponent = value.as_tuple()
    significant = "".join(map(str, digits)).rstrip("0")
    if not significant:
        return 0
    return max(0, -(exponent + len(digits) - len(significant)))


def _limit_words(value: Decimal, unit: str) -> str:
    """A suggested MMA upper limit: µmol/L to at least 2 decimal places (0.40), nmol/L as a whole number."""
    if unit == UMOL_PER_L and value.as_tuple().exponent > -2:
        return f"{value:.2f}"
    return number_words(value)


def _upper_limit(raw: object, unit: str | None, spec: NumericInput, errors: list[str]) -> Decimal | None:
    what = "MMA upper reference limit"
    limit = _exact(raw, spec, what, errors)
    if limit is None:
        return None
    if limit <= 0:
        errors.append(f"The {what} must be greater than zero.")
        return None
    if unit is None or spec.limit_plausible is None:
        return limit
    allowed = spec.limit_plausible[unit]
    if limit not in allowed:
        other = _MMA_OTHER_UNIT[unit]
        message = (
            f"An {what} of {number_words(limit)} {shown_unit(unit)} (the MMA's unit) is not plausible: "
            f"a lab's limit is {allowed.words(unit)}."
        )
        if limit in spec.limit_plausible[other]:
            same = convert(limit, other, unit, MMA_UNITS)
            message += (
                f" It looks like {shown_unit(other)}: did you mean {_limit_words(same, unit)} {shown_unit(unit)}?"
            )
        errors.append(message)
        return None
    if _places(limit) > spec.decimal_places:
        errors.append(f"The {what} has more than {spec.decimal_places} decimal places; enter it as the lab reports it.")
        return None
    return limit


def _measurement(spec: NumericInput, raw: object, errors: list[str]) -> Measurement | MmaResult | None:
    allowed = {"value", "unit", "upper_limit"} if spec.limit_plausible else {"value", "unit"}
    if not isinstance(raw, Mapping):
        errors.append(
            f'The {spec.noun} must be given as a value with its unit, e.g. {{"value": {spec.example}, '
            f'"unit": "{next(iter(spec.units))}"}}.'
        )
        return None
    for key in raw:
        if key not in allowed:
            errors.append(f"'{key}' is not part of a {spec.noun} result (expected: {', '.join(sorted(allowed))}).")
    unit = None
    raw_unit = raw.get("unit")
    if raw_unit is None or raw_unit == "":
        errors.append(f"Choose the unit of the {spec.noun} ({spec.unit_words}); the unit is never guessed.")
    elif not isinstance(raw_unit, str):
        errors.append(f"The unit of the {spec.noun} must be one of {spec.unit_words}.")
    else:
        unit = canonical_unit(raw_unit, spec.units)
        if unit is None:
            hint = " Active B12 is reported in pmol/L only." if spec.field == "active_b12" else ""
            errors.append(f"'{raw_unit}' is not a unit of {spec.noun} we accept; use {spec.unit_words}.{hint}")
    value = None
    if "value" not in raw or raw["value"] is None:
        errors.append(f"Enter the {spec.noun} value.")
    else:
        value = _exact(raw["value"], spec, spec.noun, errors)
        if value is not None and unit is not None:
            value = _plausible(value, unit, spec, errors)
    upper_limit = None
    if spec.limit_plausible and raw.get("upper_limit") is not None:
        upper_limit = _upper_limit(raw["upper_limit"], unit, spec, errors)
    if errors or value is None or unit is None:
        return None
    if spec.limit_plausible:
        return MmaResult(value=value, unit=unit, upper_limit=upper_limit)
    return Measurement(value=value, unit=unit)


def _plain_number(spec: NumericInput, raw: object, errors: list[str]) -> Decimal | None:
    value = _exact(raw, spec, spec.noun, errors)
    if value is None:
        return None
    return _plausible(value, next(iter(spec.units)), spec, errors)


def parse_assessment(payload: object) -> Assessment:
    """Validate a request in the contract's shape and build the engine's input, or raise InvalidAssessment."""
    if not isinstance(payload, Mapping):
        raise InvalidAssessment({"body": ["The request must be a JSON object of named fields."]})
    errors: dict[str, list[str]] = {}
    values: dict[str, object] = {}
    for key in payload:
        if key not in FIELDS:
            errors[str(key)] = [f"'{key}' is not a recognised field."]
    for field, spec in INPUTS.items():
        raw = payload.get(field)
        if raw is None:
            continue
        field_errors: list[str] = []
        parsed = _measurement(spec, raw, field_errors) if spec.chosen_unit else _plain_number(spec, raw, field_errors)
        if field_errors:
            errors[field] = field_errors
        else:
            values[field] = parsed
    for field in FLAGS:
        raw = payload.get(field)
        if raw is None:
            continue
        if not isinstance(raw, bool):
            errors[field] = [f"The '{field}' flag ({FLAGS[field].label.lower()}) must be true or false."]
        else:
            values[field] = raw
    if payload.get("b12") is None and payload.get("active_b12") is None and "b12" not in errors:
        errors["b12"] = ["Enter a total B12 result, an active B12 result, or both."]
    if errors:
        raise InvalidAssessment(errors)
    return Assessment(**values)
