"""A regimen as FHIR R4 Dosage (R4B models, same fields as R4) and the hydroxocobalamin coding: pure functions.

Shared with the CDS Hooks service (its draft orders): keep the names and signatures stable.

Timing per the shared modelling notes: three times a week for two weeks = ``frequency 3, period 1, periodUnit wk,
boundsDuration 2 wk``; alternate days = ``frequency 1, period 2, periodUnit d`` (open-ended: a clinician ends it);
every N months = ``frequency 1, period N, periodUnit mo`` (``periodMax`` for a range such as 2 to 3 months).
"""

from __future__ import annotations

import math

from django.conf import settings
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.dosage import Dosage

from recommender.guideline.ruleset import DEFAULT_RULESET
from recommender.guideline.schedule import ALTERNATE_DAYS, THREE_TIMES_WEEKLY, THREE_TIMES_WEEKLY_PER_WEEK

SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
ROUTE_IM = {"coding": [{"system": SNOMED, "code": "78421000", "display": "Intramuscular route"}], "text": "IM"}

# The dm+d code of hydroxocobalamin 1 mg/1 mL ampoules is not verified: the coding is a setting
# (B12_FHIR_MEDICATION_CODING, a list of {"system", "code", "display"}); the text is always present.
MEDICATION_TEXT = "Hydroxocobalamin 1 mg/1 mL solution for injection ampoules"

# The plan's interval units (TreatmentPlan.IntervalUnit) → UCUM units of time as Timing.periodUnit takes them.
PERIOD_UNITS = {"days": "d", "weeks": "wk", "months": "mo"}
_UNIT_WORDS = {"days": ("day", "days"), "weeks": ("week", "weeks"), "months": ("month", "months")}


def medication_concept() -> CodeableConcept:
    """Hydroxocobalamin 1 mg/1 mL ampoules: the configured codings (none by default) and always the text."""
    codings = getattr(settings, "B12_FHIR_MEDICATION_CODING", None) or []
    concept: dict = {"text": getattr(settings, "B12_FHIR_MEDICATION_TEXT", "") or MEDICATION_TEXT}
    if codings:
        concept["coding"] = [dict(coding) for coding in codings]
    return CodeableConcept.model_validate(concept)


def dose_quantity() -> dict:
    """The dose every regimen gives (the ruleset's, 1 mg), as a UCUM quantity."""
    return {"value": DEFAULT_RULESET.dose_mg, "unit": "mg", "system": UCUM, "code": "mg"}


def _dose_words() -> str:
    return f"{DEFAULT_RULESET.dose_mg} mg IM"


def _every(every: int, unit: str, every_max: int | None = None) -> str:
    one, many = _UNIT_WORDS[unit]
    if every_max is not None and every_max != every:
        return f"every {every} to {every_max} {many}"
    return f"every {one}" if every == 1 else f"every {every} {many}"


def _dosage(*, text: str, repeat: dict, sequence: int | None) -> Dosage:
    dosage: dict = {
        "text": text,
        "timing": {"repeat": repeat},
        "route": ROUTE_IM,
        "doseAndRate": [{"doseQuantity": dose_quantity()}],
    }
    if sequence is not None:
        dosage["sequence"] = sequence
    return Dosage.model_validate(dosage)


def loading_dosage(*, pattern: str, doses: int | None, sequence: int | None = 1) -> Dosage:
    """The loading course: three times a week for ``doses`` doses (6 = two weeks), or alternate days until a
    clinician ends the phase (no bound). ValueError for any other pattern."""
    if pattern == THREE_TIMES_WEEKLY:
        if not doses or doses < 1:
            raise ValueError("A three-times-weekly loading course needs its number of doses.")
        weeks = math.ceil(doses / THREE_TIMES_WEEKLY_PER_WEEK)
        repeat = {
            "boundsDuration": {"value": weeks, "unit": "wk", "system": UCUM, "code": "wk"},
            "count": doses,
            "frequency": THREE_TIMES_WEEKLY_PER_WEEK,
            "period": 1,
            "periodUnit": "wk",
        }
        text = f"Loading: {_dose_words()} three times a week, {doses} doses ({weeks} weeks)"
        return _dosage(text=text, repeat=repeat, sequence=sequence)
    if pattern == ALTERNATE_DAYS:
        repeat = {"frequency": 1, "period": 2, "periodUnit": "d"}
        text = f"Loading: {_dose_words()} on alternate days until no further improvement (a clinician ends this phase)"
        return _dosage(text=text, repeat=repeat, sequence=sequence)
    raise ValueError(f"Unknown loading pattern {pattern!r}.")


def maintenance_dosage(
    *, every: int, unit: str = "months", every_max: int | None = None, lifelong: bool = True, sequence: int | None = 2
) -> Dosage:
    """Maintenance: one dose every ``every`` days, weeks or months (to ``every_max`` for a range such as the
    guideline's 2 to 3 months); lifelong or not, said in the text."""
    if unit not in PERIOD_UNITS:
        raise ValueError(f"Unknown interval unit {unit!r}: use days, weeks or months.")
    if every < 1 or (every_max is not None and every_max < every):
        raise ValueError("The maintenance interval must be at least 1, and its maximum not below its minimum.")
    repeat: dict = {"frequency": 1, "period": every, "periodUnit": PERIOD_UNITS[unit]}
    if every_max is not None and every_max != every:
        repeat["periodMax"] = every_max
    text = f"Maintenance: {_dose_words()} {_every(every, unit, every_max)}" + (" for life" if lifelong else "")
    return _dosage(text=text, repeat=repeat, sequence=sequence)


def regimen_dosages(
    *,
    loading_pattern: str,
    loading_doses: int | None,
    maintenance_every: int,
    maintenance_unit: str = "months",
    maintenance_every_max: int | None = None,
    lifelong: bool = True,
) -> list[Dosage]:
    """The whole regimen in order: the loading course (when there is one, sequence 1), then maintenance."""
    dosages = []
    if loading_pattern:
        dosages.append(loading_dosage(pattern=loading_pattern, doses=loading_doses, sequence=1))
    dosages.append(
        maintenance_dosage(
            every=maintenance_every,
            unit=maintenance_unit,
            every_max=maintenance_every_max,
            lifelong=lifelong,
            sequence=len(dosages) + 1,
        )
    )
    return dosages


def plan_dosages(plan) -> list[Dosage]:
    """A stored TreatmentPlan's regimen (any object with its fields)."""
    return regimen_dosages(
        loading_pattern=plan.loading_pattern,
        loading_doses=plan.loading_doses,
        maintenance_every=plan.maintenance_every,
        maintenance_unit=plan.maintenance_unit,
        lifelong=plan.lifelong,
    )


def offer_dosages(offer) -> list[Dosage]:
    """What a decision offers (guideline.stored.TreatmentOffer): maintenance as the guideline's range of months."""
    return regimen_dosages(
        loading_pattern=offer.loading_pattern,
        loading_doses=offer.loading_doses,
        maintenance_every=offer.min_months,
        maintenance_unit="months",
        maintenance_every_max=offer.max_months,
        lifelong=offer.lifelong,
    )
