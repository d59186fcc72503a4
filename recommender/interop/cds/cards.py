"""The engine's decision as CDS Hooks cards: pure functions of the decision (``Recommendation.as_dict()``), the
prefetched results and the draft orders. Nothing here reads the database or the request.

Indicator: ``critical`` for a red flag (neurological involvement), ``warning`` for deficiency, ``info`` otherwise;
a decision with nothing to say (deficiency unlikely and no caution) gives no card."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache

from django.conf import settings

from recommender.guideline.engine import ADVICE, DEFICIENT, INDETERMINATE, RED_FLAG
from recommender.guideline.inputs import number_words
from recommender.guideline.ruleset import DEFAULT_RULESET
from recommender.guideline.schedule import ALTERNATE_DAYS, THREE_TIMES_WEEKLY, THREE_TIMES_WEEKLY_PER_WEEK
from recommender.guideline.stored import Decision, TreatmentOffer
from recommender.guideline.units import shown_unit
from recommender.interop.cds.prefetch import Results
from recommender.interop.fhir.dosage import medication_concept, offer_dosages

SUMMARY_MAX = 139  # CDS Hooks: "less than 140 characters"
SOURCE_URL = "https://www.nice.org.uk/guidance/ng239"
OVERRIDE_SYSTEM = "urn:b12-clinic:cds:override-reason"
# Why a clinician may set the advice aside: offered on every card, reported in the admin when chosen.
OVERRIDE_REASONS = (
    ("already-treated", "Already on B12 treatment"),
    ("results-not-current", "Results not current or not representative"),
    ("clinical-picture", "Clinical picture differs: assessed in full"),
    ("oral-preferred", "Oral treatment preferred (after IM loading)"),
    ("individualised", "Individualised regimen, with a reason in the record"),
    ("specialist-care", "Under specialist care"),
)
OVERRIDE_CODES = {code for code, _ in OVERRIDE_REASONS}
# What FHIR data does not tell reliably: the full assessment asks.
_NOT_IN_RECORD = (
    "neurological signs or symptoms, pregnancy or breastfeeding, a malabsorptive cause, ileal resection, "
    "bariatric surgery and folic acid"
)
_STATUS_WORDS = {DEFICIENT: "deficient", INDETERMINATE: "indeterminate", "not_deficient": "not deficient"}
_INDICATOR_ORDER = {"info": 0, "warning": 1, "critical": 2}
_RESULT_NAMES = {
    "b12": "Serum B12",
    "active_b12": "Active B12",
    "mma": "MMA",
    "homocysteine": "Homocysteine",
    "egfr": "eGFR",
}


def short(text: str) -> str:
    """A summary within the limit, cut at a word with an ellipsis when it must be."""
    if len(text) <= SUMMARY_MAX:
        return text
    return text[: SUMMARY_MAX - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def indicator(decision: Decision) -> str:
    if any(alert.level == RED_FLAG for alert in decision.alerts):
        return "critical"
    if decision.status == DEFICIENT or decision.im_recommended:
        return "warning"
    return "info"


def has_advice(decision: Decision) -> bool:
    """Whether the decision says anything a clinician must act on: not just 'deficiency unlikely'."""
    return (
        decision.status != "not_deficient"
        or decision.im_recommended
        or decision.pending is not None
        or any(alert.level != ADVICE for alert in decision.alerts)
    )


def _num(value) -> str:
    return number_words(Decimal(str(value)))


def _bands(name: str, unit: str, thresholds: Mapping) -> tuple[str, str] | None:
    """The deficient-below and not-deficient-above thresholds in the result's unit (as the engine applied them)."""
    if name == "b12":
        key = "total_b12_pmol_per_l" if unit == "pmol/L" else "total_b12_pg_per_ml"
    elif name == "active_b12":
        key = "active_b12_pmol_per_l"
    else:
        return None
    band = thresholds[key]
    return _num(band["deficient_below"]), _num(band["not_deficient_above"])


def result_words(name: str, decision: Decision) -> str:
    """'Serum B12 150 ng/L (below 180)': a result with the threshold that placed it."""
    measured = decision.measurements.get(name)
    if measured is None:
        return ""
    unit = shown_unit(measured["unit"])
    words = f"{_RESULT_NAMES[name]} {_num(measured['value'])} {unit}"
    if name == "mma":
        side = "above" if measured["elevated"] else "not above"
        return f"{words} ({side} {_num(measured['upper_limit'])})"
    bands = _bands(name, measured["unit"], decision.thresholds)
    if bands is None:
        return words
    low, high = bands
    status = measured["status"]
    where = f"below {low}" if status == DEFICIENT else f"above {high}" if status == "not_deficient" else f"{low}–{high}"
    return f"{words} ({where})"


def _action_words(decision: Decision, offer: TreatmentOffer | None) -> str:
    if offer is not None and not offer.pending_mma:
        return f"start {regimen_words(offer)}"
    if offer is not None:
        return "neurological signs: treatment may start before the MMA result"
    if decision.needs_mma:
        return "measure MMA to decide"
    if decision.status == "not_deficient":
        return "deficiency unlikely"
    return "see the full assessment"


def regimen_words(offer: TreatmentOffer, *, drug: bool = True) -> str:
    """'hydroxocobalamin 1 mg IM 3 times a week for 2 weeks, then every 2–3 months' (without the drug and dose:
    '3 times a week for 2 weeks, then every 2–3 months')."""
    rs = DEFAULT_RULESET
    months = f"{offer.min_months}" if offer.min_months == offer.max_months else f"{offer.min_months}–{offer.max_months}"
    then = f"every {months} months"
    head = f"{rs.drug} {rs.dose_mg} mg {rs.route} " if drug else ""
    if offer.loading_pattern == THREE_TIMES_WEEKLY:
        weeks = -(-(offer.loading_doses or 6) // THREE_TIMES_WEEKLY_PER_WEEK)
        return f"{head}3 times a week for {weeks} weeks, then {then}"
    if offer.loading_pattern == ALTERNATE_DAYS:
        return f"{head}on alternate days until no further improvement, then {then}"
    return f"{head}{then}"


def summary(decision: Decision) -> str:
    basis = decision.basis
    result = result_words(basis, decision) or result_words("b12", decision) or result_words("active_b12", decision)
    status = _STATUS_WORDS[decision.status]
    action = _action_words(decision, decision.offer())
    return short(f"{result}: {status}; {action}.")


def _result_lines(decision: Decision, results: Results) -> list[str]:
    lines = []
    for name in _RESULT_NAMES:
        if name == "egfr":
            if "egfr" in results.payload:
                lines.append(f"- eGFR {_num(results.payload['egfr'])} mL/min/1.73m² ({results.dates['egfr'][:10]})")
            continue
        words = result_words(name, decision)
        if words:
            status = decision.measurements[name].get("status")
            status = f": **{_STATUS_WORDS[status]}**" if status else ""
            lines.append(f"- **{words}**{status} ({results.dates.get(name, '')[:10]}, LOINC {results.codes[name]})")
    return lines


def _threshold_lines(decision: Decision) -> list[str]:
    th = decision.thresholds
    total, molar, active = th["total_b12_pg_per_ml"], th["total_b12_pmol_per_l"], th["active_b12_pmol_per_l"]
    return [
        f"Thresholds used (profile “{th['profile']}”): total B12 deficient below {_num(total['deficient_below'])} "
        f"ng/L ({_num(molar['deficient_below'])} pmol/L), indeterminate up to {_num(total['not_deficient_above'])} "
        f"ng/L ({_num(molar['not_deficient_above'])} pmol/L), not deficient above; active B12 deficient below "
        f"{_num(active['deficient_below'])}, not deficient above {_num(active['not_deficient_above'])} pmol/L; "
        f"MMA raised above {_num(th['mma_upper_limit_umol_per_l'])} µmol/L unless the lab gives its own limit.",
    ]


def detail(decision: Decision, results: Results) -> str:
    """Markdown: the results and the thresholds that placed them, the decision and its regimen, the cautions."""
    parts = ["\n".join(_result_lines(decision, results)), decision.headline]
    regimen = [
        f"- {title}: {part.text}"
        for title, part in (("Loading", decision.loading), ("Maintenance", decision.maintenance))
        if part is not None
    ]
    if decision.pending is not None:
        regimen.append(f"- {decision.pending.reason}")
    if regimen:
        parts.append("\n".join(regimen))
    alerts = [
        f"- {'**' + alert.text + '**' if alert.level == RED_FLAG else alert.text}"
        for alert in decision.alerts
        if alert.level != ADVICE
    ]
    if alerts:
        parts.append("\n".join(alerts))
    parts.append(" ".join(_threshold_lines(decision)))
    parts.append(f"Not known from the record: {_NOT_IN_RECORD}. Open the full assessment to add them.")
    parts.append(f"Rule set `{decision.ruleset_id}` version {decision.ruleset_version}.")
    return "\n\n".join(part for part in parts if part)


def source(decision: Decision) -> dict:
    label = f"B12 clinic – NICE NG239 / BNF (rule set {decision.ruleset_id} {decision.ruleset_version})"
    return {"label": label, "url": SOURCE_URL}


def override_reasons() -> list[dict]:
    return [{"system": OVERRIDE_SYSTEM, "code": code, "display": display} for code, display in OVERRIDE_REASONS]


@lru_cache(maxsize=64)
def _regimen_json(offer: TreatmentOffer, medication: str) -> str:
    """The offered regimen's Dosage and the medication coding as FHIR JSON, built once per regimen and coding (the
    FHIR models validate on every construction: a card must not pay for that on every call)."""
    return json.dumps(
        {
            "medicationCodeableConcept": json.loads(medication),
            "dosageInstruction": [d.model_dump(mode="json", exclude_none=True) for d in offer_dosages(offer)],
        }
    )


def _medication_json() -> str:
    """The configured medication coding as FHIR JSON, built once per configuration (the settings it reads)."""
    configured = (
        getattr(settings, "B12_FHIR_MEDICATION_CODING", None),
        getattr(settings, "B12_FHIR_MEDICATION_TEXT", ""),
    )
    return _medication_for(json.dumps(configured, default=str))


@lru_cache(maxsize=8)
def _medication_for(configured: str) -> str:
    return json.dumps(medication_concept().model_dump(mode="json", exclude_none=True))


def draft_request(offer: TreatmentOffer, patient_id: str, reason: str) -> dict:
    """A draft MedicationRequest for the regimen offered (the FHIR export's Dosage and medication coding)."""
    regimen = json.loads(_regimen_json(offer, _medication_json()))
    return {
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": "proposal",
        "medicationCodeableConcept": regimen["medicationCodeableConcept"],
        "subject": {"reference": f"Patient/{patient_id}"},
        "reasonCode": [{"text": reason}],
        "dosageInstruction": regimen["dosageInstruction"],
    }


def _card(*, text: str, decision: Decision, body: str, link: dict, suggestions: list | None = None) -> dict:
    card = {
        "uuid": str(uuid.uuid4()),
        "summary": short(text),
        "indicator": indicator(decision),
        "detail": body,
        "source": source(decision),
        "overrideReasons": override_reasons(),
        "links": [link],
    }
    if suggestions:
        card["suggestions"] = suggestions
        card["selectionBehavior"] = "at-most-one"
    return card


def _order_suggestion(offer: TreatmentOffer, patient_id: str, reason: str, *, replaces: dict | None = None) -> dict:
    resource = draft_request(offer, patient_id, reason)
    action: dict = {"type": "create", "description": "Create a draft MedicationRequest for the regimen"}
    if replaces is not None and replaces.get("id"):
        resource = {**replaces, "dosageInstruction": resource["dosageInstruction"]}
        action = {"type": "update", "description": "Set the draft order's dosage to the regimen the results support"}
    return {
        "label": short(f"Order {regimen_words(offer)}"),
        "uuid": str(uuid.uuid4()),
        "isRecommended": True,
        "actions": [{**action, "resource": resource}],
    }


def review_cards(decision: Decision, results: Results, *, patient_id: str, link: dict) -> list[dict]:
    """patient-view: one card when the decision has advice, else none."""
    if not has_advice(decision):
        return []
    offer = decision.offer()
    suggestions = None
    if offer is not None and not offer.pending_mma:
        reason = f"Vitamin B12 deficiency ({result_words(decision.basis, decision)})"
        suggestions = [_order_suggestion(offer, patient_id, reason)]
    body = detail(decision, results)
    return [_card(text=summary(decision), decision=decision, body=body, link=link, suggestions=suggestions)]


# --- order-sign: the draft hydroxocobalamin order against the regimen the results support ---


def is_hydroxocobalamin(resource: Mapping) -> bool:
    if resource.get("resourceType") != "MedicationRequest":
        return False
    concept = resource.get("medicationCodeableConcept")
    if not isinstance(concept, Mapping):
        return False
    configured = {coding.get("code") for coding in json.loads(_medication_json()).get("coding") or []}
    words = [concept.get("text") or ""]
    for coding in concept.get("coding") or []:
        if isinstance(coding, Mapping):
            if coding.get("code") in configured - {None}:
                return True
            words.append(coding.get("display") or "")
    return any(DEFAULT_RULESET.drug in str(word).lower() for word in words)


def draft_orders(context: Mapping) -> list[dict]:
    bundle = context.get("draftOrders")
    entries = bundle.get("entry") if isinstance(bundle, Mapping) else None
    found = []
    for entry in entries or []:
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if isinstance(resource, Mapping) and is_hydroxocobalamin(resource):
            found.append(dict(resource))
    return found


def _timing(dosage: Mapping) -> tuple[Decimal, Decimal, str, Decimal | None]:
    timing = dosage.get("timing")
    repeat = timing.get("repeat") if isinstance(timing, Mapping) else None
    if not isinstance(repeat, Mapping):
        return Decimal(0), Decimal(0), "", None
    period_max = repeat.get("periodMax")
    return (
        Decimal(str(repeat.get("frequency", 1))),
        Decimal(str(repeat.get("period", 0))),
        str(repeat.get("periodUnit", "")),
        Decimal(str(period_max)) if period_max is not None else None,
    )


def timing_words(dosage: Mapping) -> str:
    """'3 times a week', 'once every 6 months', 'once every 2–3 months' (as the draft order has it)."""
    frequency, period, unit, period_max = _timing(dosage)
    if not period or not unit:
        return "no timing"
    one, many = {"d": ("day", "days"), "wk": ("week", "weeks"), "mo": ("month", "months"), "h": ("hour", "hours")}.get(
        unit, (unit, unit)
    )
    times = "once" if frequency == 1 else f"{_num(frequency)} times"
    if period == 1 and not period_max:
        return f"{times} a {one}"
    every = f"{_num(period)}" + (f"–{_num(period_max)}" if period_max and period_max != period else "")
    return f"{times} every {every} {many}"


def timing_fits(dosage: Mapping, offer: TreatmentOffer, *, deficient: bool) -> bool:
    """Whether one dosage instruction is the offered loading (alternate days is also accepted with deficiency:
    neurological involvement is not in the record), or maintenance within the offered interval of months."""
    frequency, period, unit, period_max = _timing(dosage)
    patterns = {offer.loading_pattern} | ({ALTERNATE_DAYS} if deficient else set())
    if THREE_TIMES_WEEKLY in patterns and (frequency, period, unit) == (THREE_TIMES_WEEKLY_PER_WEEK, 1, "wk"):
        return True
    if ALTERNATE_DAYS in patterns and (frequency, period, unit) == (1, 2, "d"):
        return True
    top = period_max if period_max is not None else period
    return (frequency, unit) == (1, "mo") and offer.min_months <= period and top <= offer.max_months


def _dose_fits(dosage: Mapping) -> bool:
    for dose_and_rate in dosage.get("doseAndRate") or []:
        quantity = dose_and_rate.get("doseQuantity") if isinstance(dose_and_rate, Mapping) else None
        if isinstance(quantity, Mapping):
            value, code = Decimal(str(quantity.get("value", 0))), quantity.get("code") or quantity.get("unit")
            mg = Decimal(DEFAULT_RULESET.dose_mg)
            return (value, code) in {(mg, "mg"), (mg * 1000, "ug"), (mg * 1000, "mcg")}
    return True  # no dose given: the timing is what is checked


def order_problems(order: Mapping, decision: Decision, offer: TreatmentOffer | None) -> list[str]:
    if offer is None:
        return [f"The results do not support injections ({_STATUS_WORDS[decision.status]})."]
    dosages = [d for d in order.get("dosageInstruction") or [] if isinstance(d, Mapping)]
    if not dosages:
        return ["The draft order has no dosage instruction."]
    problems = []
    deficient = decision.status == DEFICIENT
    for dosage in dosages:
        if not timing_fits(dosage, offer, deficient=deficient):
            problems.append(f"Ordered {timing_words(dosage)}; the results support {regimen_words(offer)}.")
        if not _dose_fits(dosage):
            rs = DEFAULT_RULESET
            problems.append(f"The dose is not {rs.drug} {rs.dose_mg} mg ({rs.dose_mg * 1000} micrograms).")
    return problems


def order_cards(decision: Decision, results: Results, context: Mapping, *, patient_id: str, link: dict) -> list[dict]:
    """order-sign: a card for each draft hydroxocobalamin order that disagrees with the regimen; none when all fit."""
    offer = decision.offer()
    cards = []
    for order in draft_orders(context):
        problems = order_problems(order, decision, offer)
        if not problems:
            continue
        ordered = ", ".join(timing_words(d) for d in order.get("dosageInstruction") or [] if isinstance(d, Mapping))
        result = result_words(decision.basis, decision)
        drug = DEFAULT_RULESET.drug.capitalize()
        if offer is None:
            text = f"{drug} order: {result} is {_STATUS_WORDS[decision.status]}; check the indication."
            suggestions = None
        else:
            supported = regimen_words(offer, drug=False)
            text = f"{drug} ordered {ordered or 'without timing'}; {result} supports {supported}."
            suggestions = [_order_suggestion(offer, patient_id, f"Vitamin B12 deficiency ({result})", replaces=order)]
        body = "\n\n".join(["\n".join(f"- {p}" for p in problems), detail(decision, results)])
        card = _card(text=text, decision=decision, body=body, link=link, suggestions=suggestions)
        if _INDICATOR_ORDER[card["indicator"]] < _INDICATOR_ORDER["warning"]:
            card["indicator"] = "warning"  # an order that disagrees with the results is never mere information
        cards.append(card)
    return cards
