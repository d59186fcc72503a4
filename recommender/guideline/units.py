"""Units of the measurements the engine reads, converted exactly (``Decimal``), never guessed.

Total B12: ng/L and pg/mL are the same quantity; pmol/L = pg/mL × 0.7378 (molar mass 1355.37 g/mol).
Active B12 (holotranscobalamin) is reported in pmol/L only and is never converted with the total-B12 factor.
MMA: 1 µmol/L = 1000 nmol/L. Homocysteine: µmol/L.
"""

from __future__ import annotations

from decimal import Decimal

PMOL_PER_L_PER_PG_PER_ML = Decimal("0.7378")

PG_PER_ML = "pg/mL"
NG_PER_L = "ng/L"
PMOL_PER_L = "pmol/L"
UMOL_PER_L = "umol/L"
NMOL_PER_L = "nmol/L"

# Multiply a value in the canonical unit (first key) by the factor to get the value in that unit.
TOTAL_B12_UNITS: dict[str, Decimal] = {
    PG_PER_ML: Decimal(1),
    NG_PER_L: Decimal(1),
    PMOL_PER_L: PMOL_PER_L_PER_PG_PER_ML,
}
ACTIVE_B12_UNITS: dict[str, Decimal] = {PMOL_PER_L: Decimal(1)}
MMA_UNITS: dict[str, Decimal] = {UMOL_PER_L: Decimal(1), NMOL_PER_L: Decimal(1000)}
HOMOCYSTEINE_UNITS: dict[str, Decimal] = {UMOL_PER_L: Decimal(1)}

# Spellings that are the same unit, not guesses: the micro sign, the Greek mu, and letter case.
_MICRO = str.maketrans({"µ": "u", "μ": "u"})


def shown_unit(unit: str) -> str:
    """A unit as printed for a reader: µmol/L rather than the contract's ASCII umol/L."""
    return unit.replace("umol", "µmol")


def canonical_unit(spelling: str, allowed: dict[str, Decimal]) -> str | None:
    """The allowed unit this spelling names, or None. Case and the µ/μ/u spelling do not matter."""
    folded = spelling.strip().translate(_MICRO).casefold()
    for unit in allowed:
        if unit.casefold() == folded:
            return unit
    return None


def convert(value: Decimal, from_unit: str, to_unit: str, units: dict[str, Decimal]) -> Decimal:
    """The same quantity in another unit of the same family (exact but for a division by a factor)."""
    if from_unit == to_unit:
        return value
    return value / units[from_unit] * units[to_unit]


def threshold_in(threshold: Decimal, unit: str, units: dict[str, Decimal]) -> Decimal:
    """A threshold kept in the canonical unit, expressed exactly in ``unit`` (a multiplication)."""
    return threshold * units[unit]
