"""Shapes for clinic pages: the decision panel, the plan's regimen and guidance, MMA follow-up."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from django.core.serializers.json import DjangoJSONEncoder
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from recommender.guideline.stored import Cited, Course, Decision, Maintenance, OralOption, Source
from recommender.ruleset_words import RULESET_WORDS
from recommender.vocabulary import BASIS_WORDS, INDICATION_WORDS, PATTERN_SENTENCES, STATUS_WORDS


def _n(value) -> str:
    """A number as a clinician writes it: 180, 0.4, 132.8."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _unit(unit: str) -> str:
    return unit.replace("umol", "µmol")


@dataclass(frozen=True, slots=True)
class Measurement:
    """One entered result: its name, the result itself (shown strong) and what it says against its bands."""

    name: str
    result: str
    detail: str


@lru_cache(maxsize=512)
def citation_refs(citations: tuple[str, ...]) -> SafeString:
    """A line's sources as links to the list of sources. Built once per set of sources: the live panel has dozens
    of such lines and is redrawn on every keystroke, where a nested template loop would cost more than the rest."""
    if not citations:
        return SafeString("")
    links = format_html_join(", ", '<a href="#cite-{}">{}</a>', ((c, c) for c in citations))
    return format_html('<span class="citation-refs">[{}]</span>', links)


@dataclass(frozen=True, slots=True)
class CitedLine:
    """A sentence of the panel with the sources that back it (an alert or advice also has its code)."""

    text: str
    citations: tuple[str, ...] = ()
    code: str = ""

    @property
    def refs(self) -> SafeString:
        return citation_refs(self.citations)


@dataclass(frozen=True, slots=True)
class RegimenLine:
    label: str
    css_id: str
    text: str


@dataclass(frozen=True, slots=True)
class MonitoringPlan:
    until_stable_months: str
    after_stable_months: str
    homocysteine_target: str
    first_review_months: int
    citations: tuple[str, ...]
    caveats: tuple[CitedLine, ...]

    @property
    def refs(self) -> SafeString:
        return citation_refs(self.citations)


@dataclass(frozen=True, slots=True)
class DecisionPanel:
    """What the results panel shows, in the clinic's words: the view model of templates/recommender/_decision.html.

    ``treatment`` is "im" (IM indicated), "pending" (start pending MMA) or "none"."""

    status: str
    status_words: str
    basis_words: str
    headline: str
    measurements: tuple[Measurement, ...]
    profile: str
    red_flags: tuple[CitedLine, ...]
    cautions: tuple[CitedLine, ...]
    advice: tuple[CitedLine, ...]
    treatment: str
    drug: str
    indications: str
    regimen: tuple[RegimenLine, ...]
    pending_reason: str
    needs_mma: bool
    monitoring: MonitoringPlan | None
    rationale: tuple[CitedLine, ...]
    sources: tuple[Source, ...]
    ruleset_id: str
    ruleset_version: str


def _b12_line(b: dict, th: Mapping) -> Measurement:
    other = f"{b['pg_per_ml']} pg/mL" if b["unit"] == "pmol/L" else f"{b['pmol_per_l']} pmol/L"
    bands, molar = th["total_b12_pg_per_ml"], th.get("total_b12_pmol_per_l", {})
    return Measurement(
        "Total B12",
        f"{_n(b['value'])} {b['unit']}",
        f" = {other} · bands: below {_n(bands['deficient_below'])} deficient, up to "
        f"{_n(bands['not_deficient_above'])} indeterminate (pg/mL; = {molar.get('deficient_below', '–')} / "
        f"{molar.get('not_deficient_above', '–')} pmol/L)",
    )


def _measurements(decision: Decision) -> tuple[Measurement, ...]:
    m, th = decision.measurements, decision.thresholds
    lines = []
    if b := m.get("b12"):
        lines.append(_b12_line(b, th))
    if a := m.get("active_b12"):
        bands = th["active_b12_pmol_per_l"]
        lines.append(
            Measurement(
                "Active B12",
                f"{_n(a['value'])} pmol/L",
                f" · bands: below {_n(bands['deficient_below'])} deficient, up to "
                f"{_n(bands['not_deficient_above'])} indeterminate",
            )
        )
    if mma := m.get("mma"):
        above = "above" if mma["elevated"] else "not above"
        whose = "lab's" if mma.get("lab_upper_limit") else "default"
        unit = _unit(mma["unit"])
        limit = f"{_n(mma['upper_limit'])} {unit}"
        lines.append(Measurement("MMA", f"{_n(mma['value'])} {unit}", f" · {above} the {whose} upper limit {limit}"))
    if h := m.get("homocysteine"):
        lines.append(
            Measurement("Homocysteine", f"{_n(h['value'])} µmol/L", "" if h["at_target"] else " · not below the target")
        )
    return tuple(lines)


def _cited(item: Cited) -> CitedLine:
    return CitedLine(item.text, item.citations, item.code)


def _oral_text(oral: OralOption | None) -> str:
    if not oral:
        return ""
    amount = _n(oral.min_mcg) if oral.min_mcg == oral.max_mcg else f"{_n(oral.min_mcg)}–{_n(oral.max_mcg)}"
    return f"{amount} µg daily by mouth" + (", only after the IM loading course." if oral.after_loading else ".")


def _rows(*rows: tuple[str, str, str]) -> tuple[RegimenLine, ...]:
    return tuple(RegimenLine(label, css_id, text) for label, css_id, text in rows if text)


def _text(part: Course | Maintenance | None) -> str:
    return part.text if part else ""


def _treatment(decision: Decision) -> tuple[str, tuple[RegimenLine, ...], str]:
    """Whether IM is indicated, started pending MMA or not indicated; the regimen's lines and the pending reason."""
    if decision.im_recommended:
        return (
            "im",
            _rows(
                ("Loading", "loading-text", _text(decision.loading)),
                ("Maintenance", "maintenance-text", _text(decision.maintenance)),
                ("Oral option", "oral-text", _oral_text(decision.oral_option)),
            ),
            "",
        )
    if pending := decision.pending:
        return (
            "pending",
            _rows(
                ("Loading now", "pending-loading-text", _text(pending.loading)),
                ("Maintenance", "pending-maintenance-text", _text(pending.maintenance)),
            ),
            pending.reason,
        )
    return "none", (), ""


def _monitoring_plan(decision: Decision) -> MonitoringPlan | None:
    m = decision.monitoring
    if not m:
        return None
    return MonitoringPlan(
        until_stable_months=_n(m.every_months_until_stable),
        after_stable_months=_n(m.every_months_after_stable),
        homocysteine_target=_n(m.homocysteine_target),
        first_review_months=m.first_review_months,
        citations=m.citations,
        caveats=tuple(CitedLine(c.text, c.citations) for c in m.caveats),
    )


def decision_panel(decision: Decision) -> DecisionPanel:
    """The results panel's view model, from the decision the engine gave or the assessment stored."""
    alerts = [(a.level, _cited(a)) for a in decision.alerts]
    treatment, regimen, pending_reason = _treatment(decision)
    return DecisionPanel(
        status=decision.status,
        status_words=STATUS_WORDS[decision.status],
        basis_words=BASIS_WORDS[decision.basis],
        headline=decision.headline,
        measurements=_measurements(decision),
        profile=decision.thresholds.get("profile", ""),
        red_flags=tuple(line for level, line in alerts if level == "red_flag"),
        cautions=tuple(line for level, line in alerts if level == "caution"),
        advice=tuple(line for level, line in alerts if level == "advice"),
        treatment=treatment,
        drug=RULESET_WORDS.drug,
        indications=", ".join(INDICATION_WORDS[i] for i in decision.indications),
        regimen=regimen,
        pending_reason=pending_reason,
        needs_mma=decision.needs_mma,
        monitoring=_monitoring_plan(decision),
        rationale=tuple(_cited(item) for item in decision.rationale),
        sources=decision.sources,
        ruleset_id=decision.ruleset_id,
        ruleset_version=decision.ruleset_version,
    )


def decision_fingerprint(decision: dict) -> str:
    """What identifies the decision a clinician saw: a digest of its canonical JSON."""
    canonical = json.dumps(decision, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return hashlib.sha256(canonical.encode()).hexdigest()


def regimen_summary(decision: Decision) -> str:
    """The decision's regimen in a few words, for the strip beside the B12 field."""

    def regimen(loading: Course | None, maintenance: Maintenance | None) -> str:
        parts = []
        if loading:
            if loading.pattern == "alternate_days":
                parts.append("loading on alternate days")
            else:
                parts.append(f"loading three times a week for {loading.weeks} weeks")
        if maintenance:
            parts.append(
                months_words(maintenance.min_months, maintenance.max_months)
                + (" for life" if maintenance.lifelong else "")
            )
        return ", then ".join(parts)

    if decision.im_recommended:
        return f"IM: {regimen(decision.loading, decision.maintenance)}."
    if pending := decision.pending:
        return (
            "Take the MMA sample, do not wait for it: "
            f"{regimen(pending.loading, pending.maintenance)} can start now, pending MMA."
        )
    return "IM not indicated" + (": consider MMA if symptomatic." if decision.needs_mma else ".")


def error_line(label: str, message: str) -> str:
    """A field's error with its label once: "Total B12: choose the unit", never "Total B12: Total B12: …"."""
    text = str(message)
    return text if text.lower().startswith(str(label).lower()) else f"{label}: {text}"


def months_words(low: int, high: int) -> str:
    every = "every month" if high == 1 else f"every {high} months"
    if low == high:
        return every
    return f"every {low} to {high} months"


def plan_guidance(decision: Decision | None, months: list[int]) -> dict:
    """What the plan's choices may be under this decision: the state of the plan section and a hint per choice."""
    if decision is None:
        return {"state": "none", "hints": {m: "" for m in months}, "range": "", "max_months": None}
    offer = decision.offer()
    if offer is None:
        return {"state": "no_injections", "hints": {m: "" for m in months}, "range": "", "max_months": None}
    return {
        "state": "pending" if offer.pending_mma else "plan",
        "hints": {m: "" if offer.allows_months(m) else "outside this decision's range" for m in months},
        "range": months_words(offer.min_months, offer.max_months),
        "max_months": offer.max_months,
    }


@dataclass(frozen=True, slots=True)
class ChoiceRow:
    """One radio button of the maintenance interval: its value and words, the decision's hint beside it, and
    whether it is the one chosen."""

    value: str
    label: str
    hint: str
    checked: bool


def maintenance_rows(field, hints: Mapping[int, str]) -> tuple[ChoiceRow, ...]:
    """The maintenance interval's choices with each month's hint, ready for templates/recommender/_plan_choices.html
    (one pass, rather than a loop over the hints inside the loop over the choices)."""
    chosen = str(field.value())
    words = {str(months): hint for months, hint in hints.items()}
    return tuple(
        ChoiceRow(str(value), str(label), words.get(str(value), ""), str(value) == chosen)
        for value, label in field.field.choices
    )


def plan_regimen(plan) -> dict:
    """The plan's own regimen in words, and where (and why) it departs from the guideline's."""
    loading = ""
    if plan.loading_pattern:
        loading = f"{RULESET_WORDS.dose_route} " + PATTERN_SENTENCES.get(
            plan.loading_pattern, plan.loading_pattern
        ).format(doses=plan.loading_doses)
    every = plan.interval_text
    # The maintenance the guideline gave for the plan's decision (or for its treatment pending MMA).
    offer = plan.assessment.decided.offer()
    guideline_range = months_words(offer.min_months, offer.max_months) if offer else ""
    life = ", for life" if plan.lifelong else ""
    maintenance = f"{RULESET_WORDS.dose_route} {every}{life}" + (" — individualised" if plan.individualised else "")
    return {
        "loading": loading,
        "maintenance": maintenance,
        "guideline_range": guideline_range,
        "individualised": plan.individualised,
        "reason": plan.individualised_reason,
        "pending_mma": plan.pending_mma,
        "pending_mma_reason": plan.pending_mma_reason,
    }


def mma_follow_up(plan, later_assessments) -> dict | None:
    """For a plan started pending MMA: what the first later assessment with an MMA result says about it.

    ``confirms`` when that result confirms deficiency, ``review`` when it does not (the clinician reviews the
    plan), None while no MMA result has come."""
    if not plan.pending_mma:
        return None
    for later in later_assessments:
        if later.pk == plan.assessment_id or "mma" not in (later.inputs or {}):
            continue
        confirmed = later.status == "deficient"
        return {
            "outcome": "confirms" if confirmed else "review",
            "assessment": later,
            "text": (
                "The MMA result confirms deficiency: it confirms the plan started pending MMA."
                if confirmed
                else "The MMA result does not confirm deficiency: review the plan started pending MMA "
                "(continue, change or end it)."
            ),
        }
    return None
