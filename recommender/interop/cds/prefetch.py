"""From the EHR's prefetched FHIR resources to the contract's request: the latest usable result per LOINC code,
its UCUM unit passed on as it is (the engine's validation refuses a unit it does not know: never a guess).

Pure functions of the parsed JSON (numbers as Decimal, from recommender.web.jsonbody): no database."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
EGFR_UCUM = "mL/min/{1.73_m2}"


@dataclass(frozen=True, slots=True)
class ResultCode:
    """A LOINC code the service reads: the contract field it fills and the UCUM units its property allows."""

    loinc: str
    field: str
    units: frozenset[str]
    words: str


# One place for the codes: discovery's prefetch templates and the mapping are built from this table.
RESULT_CODES: tuple[ResultCode, ...] = (
    ResultCode("2132-9", "b12", frozenset({"ng/L", "pg/mL"}), "serum B12 (mass concentration)"),
    ResultCode("14685-2", "b12", frozenset({"pmol/L"}), "serum B12 (substance concentration)"),
    ResultCode("72160-5", "active_b12", frozenset({"pmol/L"}), "active B12 (holotranscobalamin)"),
    ResultCode("13964-2", "mma", frozenset({"umol/L", "nmol/L"}), "methylmalonic acid"),
    ResultCode("13965-9", "homocysteine", frozenset({"umol/L"}), "total homocysteine"),
    ResultCode("98979-8", "egfr", frozenset({EGFR_UCUM}), "eGFR (CKD-EPI 2021)"),
    ResultCode("33914-3", "egfr", frozenset({EGFR_UCUM}), "eGFR (MDRD)"),
)
BY_LOINC = {code.loinc: code for code in RESULT_CODES}
# The prefetch key each contract field arrives under (discovery names them).
PREFETCH_KEYS = {
    "b12": "b12",
    "active_b12": "activeB12",
    "mma": "mma",
    "homocysteine": "homocysteine",
    "egfr": "egfr",
}
FIELD_OF_KEY = {key: field for field, key in PREFETCH_KEYS.items()}
# Results still being reported, or withdrawn, are not results to decide on.
USABLE_STATUSES = frozenset({"final", "amended", "corrected"})


class PrefetchError(ValueError):
    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


@dataclass(slots=True)
class Results:
    """The contract's request built from the prefetch, and where each value came from (for the card's words)."""

    payload: dict = field(default_factory=dict)
    dates: dict[str, str] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)

    def sample_date(self) -> date | None:
        """The date of the B12 result (else the active B12's): the assessment form's sample date."""
        for name in ("b12", "active_b12"):
            raw = self.dates.get(name, "")[:10]
            try:
                return date.fromisoformat(raw)
            except ValueError:
                continue
        return None


def _observations(resource: object, key: str, errors: dict) -> list[dict]:
    """The Observations of a prefetched search Bundle (or a single Observation)."""
    if resource is None:
        return []
    if isinstance(resource, Mapping) and resource.get("resourceType") == "Observation":
        return [dict(resource)]
    if not isinstance(resource, Mapping) or resource.get("resourceType") != "Bundle":
        errors.setdefault(f"prefetch.{key}", []).append("Expected a FHIR Bundle of Observations (a search result).")
        return []
    found = []
    for entry in resource.get("entry") or []:
        item = entry.get("resource") if isinstance(entry, Mapping) else None
        if isinstance(item, Mapping) and item.get("resourceType") == "Observation":
            found.append(dict(item))
    return found


def _when(observation: dict) -> str:
    period = observation.get("effectivePeriod")
    start = period.get("start") if isinstance(period, Mapping) else None
    when = observation.get("effectiveDateTime") or start or observation.get("issued") or ""
    return when if isinstance(when, str) else ""


def _code(observation: dict) -> ResultCode | None:
    codings = (observation.get("code") or {}).get("coding") or []
    for coding in codings:
        if isinstance(coding, Mapping) and coding.get("system") == LOINC and coding.get("code") in BY_LOINC:
            return BY_LOINC[coding["code"]]
    return None


def _of_patient(observation: dict, patient_id: str) -> bool:
    subject = observation.get("subject")
    reference = subject.get("reference") if isinstance(subject, Mapping) else None
    return reference is None or reference in {f"Patient/{patient_id}", patient_id}


def _quantity(observation: dict, code: ResultCode, where: str, problems: list[str]) -> tuple[Decimal, str] | None:
    quantity = observation.get("valueQuantity")
    if not isinstance(quantity, Mapping) or "value" not in quantity:
        problems.append(f"The {code.words} result {where} has no numeric value: enter it on the assessment form.")
        return None
    if quantity.get("comparator"):
        problems.append(
            f"The {code.words} result {where} is reported as {quantity['comparator']}{quantity.get('value')}: "
            "a limit, not a value; enter the result on the assessment form."
        )
        return None
    unit = quantity.get("code")
    if quantity.get("system") != UCUM or not isinstance(unit, str) or not unit:
        shown = quantity.get("unit") or quantity.get("code") or "none"
        problems.append(
            f"The unit of the {code.words} result {where} is not coded in UCUM ({str(shown)[:40]!r}); "
            "the unit is never guessed."
        )
        return None
    if unit not in code.units:
        problems.append(
            f"The {code.words} result {where} is in {unit[:40]!r}, which is not a unit of LOINC {code.loinc} "
            f"(expected {' or '.join(sorted(code.units))}); the unit is never guessed."
        )
        return None
    return quantity["value"], unit


def _upper_limit(observation: dict, unit: str, where: str, problems: list[str]) -> Decimal | None:
    """The lab's MMA upper reference limit, when it is given in the result's own unit."""
    for reference in observation.get("referenceRange") or []:
        high = reference.get("high") if isinstance(reference, Mapping) else None
        if not isinstance(high, Mapping) or "value" not in high:
            continue
        if high.get("code") != unit:
            problems.append(f"The MMA reference range {where} is not in the result's unit ({unit}).")
            return None
        return high["value"]
    return None


def _latest(observations: list[dict], patient_id: str, key: str, errors: dict) -> tuple[dict, ResultCode] | None:
    usable = []
    for observation in observations:
        if not _of_patient(observation, patient_id):
            errors.setdefault(f"prefetch.{key}", []).append(
                f"Observation {str(observation.get('id', ''))[:64]} is about another patient than {patient_id}."
            )
            continue
        code = _code(observation)
        if code is not None and observation.get("status") in USABLE_STATUSES:
            usable.append((observation, code))
    if not usable:
        return None
    return max(usable, key=lambda pair: _when(pair[0]))


def results_from_prefetch(prefetch: Mapping, patient_id: str) -> Results:
    """The latest usable result of each kind as the contract's request; PrefetchError names each unusable one."""
    errors: dict[str, list[str]] = {}
    results = Results()
    for contract_field, key in PREFETCH_KEYS.items():
        found = _latest(_observations(prefetch.get(key), key, errors), patient_id, key, errors)
        if found is None:
            continue
        observation, code = found
        if code.field != contract_field:
            errors.setdefault(f"prefetch.{key}", []).append(f"LOINC {code.loinc} is not a {contract_field} result.")
            continue
        where = f"(Observation {str(observation.get('id', ''))[:64]}, {_when(observation)[:10] or 'undated'})"
        problems: list[str] = []
        value_unit = _quantity(observation, code, where, problems)
        if value_unit is not None:
            value, unit = value_unit
            if contract_field == "egfr":
                results.payload["egfr"] = value
            else:
                results.payload[contract_field] = {"value": value, "unit": unit}
                if contract_field == "mma" and (limit := _upper_limit(observation, unit, where, problems)) is not None:
                    results.payload["mma"]["upper_limit"] = limit
            results.dates[contract_field] = _when(observation)
            results.codes[contract_field] = code.loinc
        if problems:
            errors[f"prefetch.{key}"] = errors.get(f"prefetch.{key}", []) + problems
            results.payload.pop(contract_field, None)
    if errors:
        raise PrefetchError(errors)
    return results


def patient_identifiers(patient: object, hospital_number_system: str = "") -> dict[str, str]:
    """The NHS number and (when its system is configured) the hospital number of a FHIR Patient."""
    found: dict[str, str] = {}
    if not isinstance(patient, Mapping):
        return found
    for identifier in patient.get("identifier") or []:
        if not isinstance(identifier, Mapping) or not isinstance(identifier.get("value"), str):
            continue
        if identifier.get("system") == NHS_NUMBER_SYSTEM:
            found["nhs_number"] = identifier["value"]
        elif hospital_number_system and identifier.get("system") == hospital_number_system:
            found["hospital_number"] = identifier["value"]
    return found
