"""Shapes for clinic pages: the decision panel, the plan's regimen and guidance, MMA follow-up."""

from __future__ import annotations

import hashlib
import json
from html import escape

from django.core.serializers.json import DjangoJSONEncoder
from django.utils.safestring import SafeString

from recommender.ruleset_words import RULESET_WORDS
from recommender.vocabulary import BASIS_WORDS, INDICATION_WORDS, PATTERN_SENTENCES, STATUS_WORDS


def _esc(value) -> str:
    return value if isinstance(value, SafeString) else escape(str(value))


def format_html(template: str, *args, **kwargs) -> SafeString:
    """django.utils.html.format_html, leaner: this module renders the live panel on every keystroke."""
    return SafeString(template.format(*map(_esc, args), **{k: _esc(v) for k, v in kwargs.items()}))


def format_html_join(sep: str, template: str, rows) -> SafeString:
    return SafeString(sep.join(template.format(*map(_esc, row)) for row in rows))


def _n(value) -> str:
    """A number as a clinician writes it: 180, 0.4, 132.8."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _unit(unit: str) -> str:
    return unit.replace("umol", "µmol")


def _measurement_lines(decision: dict) -> list[str]:
    m, th = decision.get("measurements", {}), decision["thresholds"]
    lines = []
    if b := m.get("b12"):
        other = f"{b['pg_per_ml']} pg/mL" if b["unit"] == "pmol/L" else f"{b['pmol_per_l']} pmol/L"
        bands, molar = th["total_b12_pg_per_ml"], th.get("total_b12_pmol_per_l", {})
        lines.append(
            format_html(
                "Total B12 <strong>{} {}</strong> = {} · bands: below {} deficient, up to {} indeterminate (pg/mL; "
                "= {} / {} pmol/L)",
                _n(b["value"]),
                b["unit"],
                other,
                _n(bands["deficient_below"]),
                _n(bands["not_deficient_above"]),
                molar.get("deficient_below", "–"),
                molar.get("not_deficient_above", "–"),
            )
        )
    if a := m.get("active_b12"):
        bands = th["active_b12_pmol_per_l"]
        lines.append(
            format_html(
                "Active B12 <strong>{} pmol/L</strong> · bands: below {} deficient, up to {} indeterminate",
                _n(a["value"]),
                _n(bands["deficient_below"]),
                _n(bands["not_deficient_above"]),
            )
        )
    if mma := m.get("mma"):
        lines.append(
            format_html(
                "MMA <strong>{} {}</strong> · {} the {} upper limit {} {}",
                _n(mma["value"]),
                _unit(mma["unit"]),
                "above" if mma["elevated"] else "not above",
                "lab's" if mma.get("lab_upper_limit") else "default",
                _n(mma["upper_limit"]),
                _unit(mma["unit"]),
            )
        )
    if h := m.get("homocysteine"):
        lines.append(
            format_html(
                "Homocysteine <strong>{} µmol/L</strong>{}",
                _n(h["value"]),
                "" if h["at_target"] else " · not below the target",
            )
        )
    return lines


def decision_panel(decision: dict) -> dict:
    alerts = decision.get("alerts", [])
    oral = decision.get("oral_option")
    oral_text = ""
    if oral:
        dose = oral["dose_mcg"]
        amount = _n(dose["min"]) if dose["min"] == dose["max"] else f"{_n(dose['min'])}–{_n(dose['max'])}"
        oral_text = f"{amount} µg daily by mouth" + (
            ", only after the IM loading course." if oral["after_loading"] else "."
        )
    monitoring = decision.get("monitoring")
    pending = decision.get("treatment_pending_mma") or {}
    return {
        "headline": decision.get("headline", ""),
        "pending_loading": (pending.get("loading") or {}).get("text", ""),
        "pending_maintenance": (pending.get("maintenance") or {}).get("text", ""),
        "pending_reason": pending.get("reason", ""),
        "pending": bool(pending),
        "status": decision["status"],
        "status_words": STATUS_WORDS[decision["status"]],
        "basis_words": BASIS_WORDS[decision["basis"]],
        "measurements": _measurement_lines(decision),
        "profile": decision["thresholds"].get("profile", ""),
        "red_flags": [a for a in alerts if a["level"] == "red_flag"],
        "cautions": [a for a in alerts if a["level"] == "caution"],
        "advice": [a for a in alerts if a["level"] == "advice"],
        "im_recommended": decision["im_recommended"],
        "indications": ", ".join(INDICATION_WORDS[i] for i in decision["indications"]),
        "needs_mma": decision.get("next_test") == "mma",
        "loading": (decision.get("loading") or {}).get("text", ""),
        "maintenance": (decision.get("maintenance") or {}).get("text", ""),
        "oral": oral_text,
        "monitoring": monitoring,
        "rationale": [format_html("{} {}", item["text"], _refs(item["citations"])) for item in decision["rationale"]],
        "sources": decision["citations"],
        "ruleset": decision["ruleset"],
    }


def _refs(citations) -> SafeString:
    """The sources of a line, as links to the list of sources."""
    if not citations:
        return SafeString("")
    return format_html(
        '<span class="citation-refs">[{}]</span>',
        format_html_join(", ", '<a href="#cite-{}">{}</a>', ((c, c) for c in citations)),
    )


def _alerts_html(alerts: list[dict], css: str, role: str, label: str) -> SafeString:
    return format_html_join(
        "",
        '<div class="alert {} d-flex gap-2" role="{}" data-code="{}"><strong class="text-nowrap">{}</strong>'
        "<span>{} {}</span></div>",
        ((css, role, a["code"], label, a["text"], _refs(a.get("citations"))) for a in alerts),
    )


def _is_secondary(citation: dict) -> bool:
    return bool(citation.get("secondary")) or citation.get("kind") == "secondary"


def decision_fingerprint(decision: dict) -> str:
    """What identifies the decision a clinician saw: a digest of its canonical JSON."""
    canonical = json.dumps(decision, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return hashlib.sha256(canonical.encode()).hexdigest()


def regimen_summary(decision: dict) -> str:
    """The decision's regimen in a few words, for the strip beside the B12 field."""

    def regimen(loading: dict | None, maintenance: dict | None) -> str:
        parts = []
        if loading:
            if loading.get("pattern") == "alternate_days":
                parts.append("loading on alternate days")
            else:
                parts.append(f"loading three times a week for {loading.get('weeks')} weeks")
        if maintenance:
            every = maintenance["every_months"]
            parts.append(
                months_words(every["min"], every["max"]) + (" for life" if maintenance.get("lifelong") else "")
            )
        return ", then ".join(parts)

    if decision["im_recommended"]:
        return f"IM: {regimen(decision.get('loading'), decision.get('maintenance'))}."
    if pending := decision.get("treatment_pending_mma"):
        return (
            "Take the MMA sample, do not wait for it: "
            f"{regimen(pending.get('loading'), pending.get('maintenance'))} can start now, pending MMA."
        )
    return "IM not indicated" + (": consider MMA if symptomatic." if decision.get("next_test") == "mma" else ".")


def decision_main_html(decision: dict) -> SafeString:
    """The results panel as HTML. Built in Python because the live panel is re-rendered on every change the
    clinician makes; the markup mirrors the Bootstrap components used across the site."""
    p = decision_panel(decision)
    parts = [
        format_html(
            '<div class="status-band status-{} rounded p-3 mb-3"><div class="d-flex flex-wrap '
            'justify-content-between align-items-baseline gap-2"><p class="h4 mb-0">{}</p>'
            '<span class="small">decided by {}</span></div>{}<ul class="list-unstyled small mb-0 mt-2">{}'
            '<li class="text-body-secondary">Thresholds: {}</li></ul></div>',
            p["status"],
            p["status_words"],
            p["basis_words"],
            format_html('<p class="headline mb-0 mt-1">{}</p>', p["headline"]) if p["headline"] else "",
            format_html_join("", "<li>{}</li>", ((line,) for line in p["measurements"])),
            p["profile"],
        ),
        _alerts_html(p["red_flags"], "alert-danger red-flag", "alert", "Red flag"),
        _alerts_html(p["cautions"], "alert-warning", "status", "Caution"),
        SafeString('<div class="decision-treatment"><h3 class="h6 mt-3">Treatment</h3>'),
    ]
    if p["im_recommended"]:
        rows = [
            (label, css_id, text)
            for label, css_id, text in (
                ("Loading", "loading-text", p["loading"]),
                ("Maintenance", "maintenance-text", p["maintenance"]),
                ("Oral option", "oral-text", p["oral"]),
            )
            if text
        ]
        parts.append(
            format_html(
                '<p class="mb-1"><strong>Intramuscular {} is indicated</strong> ({}).</p>'
                '<dl class="row mb-2 regimen">{}</dl>',
                RULESET_WORDS.drug,
                p["indications"],
                format_html_join("", '<dt class="col-sm-3">{}</dt><dd class="col-sm-9" id="{}">{}</dd>', rows),
            )
        )
    elif p["pending"]:
        rows = [
            (label, css_id, text)
            for label, css_id, text in (
                ("Loading now", "pending-loading-text", p["pending_loading"]),
                ("Maintenance", "pending-maintenance-text", p["pending_maintenance"]),
            )
            if text
        ]
        parts.append(
            format_html(
                '<div class="pending-mma"><p class="mb-1"><strong>Take the MMA sample now and do not wait for its '
                "result.</strong> With neurological signs, loading can start now as treatment started pending MMA "
                '(give your reason when you start the plan).</p><p class="small mb-1">{}</p>'
                '<dl class="row mb-2 regimen">{}</dl></div>',
                p["pending_reason"],
                format_html_join("", '<dt class="col-sm-3">{}</dt><dd class="col-sm-9" id="{}">{}</dd>', rows),
            )
        )
    else:
        parts.append(
            format_html(
                "<p><strong>Intramuscular {} is not indicated</strong> on these results{}.</p>",
                RULESET_WORDS.drug,
                ": the result is indeterminate; consider an MMA test if the patient has symptoms (NICE)"
                if p["needs_mma"]
                else "",
            )
        )
    parts.append(SafeString("</div>"))
    if m := p["monitoring"]:
        first = m["first_review_months"]
        parts.append(
            format_html(
                '<div class="decision-monitoring"><h3 class="h6">Monitoring</h3><p class="mb-1">Every {} months until '
                "stable, then every {} months: "
                "serum B12 and total homocysteine (target below {} µmol/L). First review after {} month{}. {}</p>"
                '<ul class="small text-body-secondary monitoring">{}</ul></div>',
                m["every_months_until_stable"],
                m["every_months_after_stable"],
                m["homocysteine_target_umol_per_l"],
                first,
                "" if first == 1 else "s",
                _refs(m.get("citations") or _rationale_citations(decision, "Monitoring")),
                format_html_join(
                    "",
                    "<li>{}</li>",
                    ((_caveat_html(c, _rationale_citations(decision, "Caveat")),) for c in m.get("caveats", [])),
                ),
            )
        )
    if p["advice"]:
        parts.append(
            format_html(
                '<div class="decision-advice"><h3 class="h6">Advice</h3><ul class="advice">{}</ul></div>',
                format_html_join(
                    "",
                    '<li data-code="{}">{} {}</li>',
                    ((a["code"], a["text"], _refs(a.get("citations"))) for a in p["advice"]),
                ),
            )
        )
    return format_html('<section class="decision" aria-label="Decision">{}</section>', SafeString("".join(parts)))


def decision_sources_html(decision: dict) -> SafeString:
    """The reasons and their sources, collapsed: below the save action on the form, printed on request."""
    p = decision_panel(decision)
    return format_html(
        '<details class="rationale mt-2"><summary class="h6">Why: the reasons and their sources</summary>'
        '<ol>{}</ol><h4 class="h6">Sources</h4><ul class="small sources">{}</ul>'
        '<p class="small text-body-secondary mb-0">Ruleset {} version {}.</p></details>',
        format_html_join("", "<li>{}</li>", ((line,) for line in p["rationale"])),
        format_html_join(
            "",
            '<li id="cite-{}"><strong>{}</strong>: {}. {}, {}.{}</li>',
            (
                (
                    c["id"],
                    c["id"],
                    c["title"],
                    c["source"],
                    c["year"],
                    SafeString(' <span class="badge text-bg-light border">secondary source</span>')
                    if _is_secondary(c)
                    else "",
                )
                for c in p["sources"]
            ),
        ),
        p["ruleset"]["id"],
        p["ruleset"]["version"],
    )


def decision_html(decision: dict) -> SafeString:
    """The whole decision: the panel, then its reasons and sources."""
    return SafeString(decision_main_html(decision) + decision_sources_html(decision))


def _rationale_citations(decision: dict, opening: str) -> list[str]:
    """The sources of the rationale's statement that opens with these words (monitoring lines carry none)."""
    for item in decision.get("rationale", []):
        if item["text"].startswith(opening):
            return item["citations"]
    return []


def _caveat_html(caveat, citations: list[str]) -> SafeString:
    """A monitoring caveat with its sources (its own when the engine gives them)."""
    if isinstance(caveat, dict):
        return format_html("{} {}", caveat.get("text", ""), _refs(caveat.get("citations") or citations))
    return format_html("{} {}", caveat, _refs(citations))


def error_line(label: str, message: str) -> str:
    """A field's error with its label once: "Total B12: choose the unit", never "Total B12: Total B12: …"."""
    text = str(message)
    return text if text.lower().startswith(str(label).lower()) else f"{label}: {text}"


def months_words(low: int, high: int) -> str:
    every = "every month" if high == 1 else f"every {high} months"
    if low == high:
        return every
    return f"every {low} to {high} months"


def plan_guidance(decision: dict | None, months: list[int]) -> dict:
    """What the plan's choices may be under this decision: the state of the plan section and a hint per choice."""
    if decision is None:
        return {"state": "none", "hints": {m: "" for m in months}, "range": "", "max_months": None}
    maintenance = decision.get("maintenance") if decision.get("im_recommended") else None
    state = "plan"
    if maintenance is None and decision.get("treatment_pending_mma"):
        maintenance, state = decision["treatment_pending_mma"].get("maintenance"), "pending"
    if maintenance is None:
        return {"state": "no_injections", "hints": {m: "" for m in months}, "range": "", "max_months": None}
    low, high = maintenance["every_months"]["min"], maintenance["every_months"]["max"]
    return {
        "state": state,
        "hints": {m: "" if low <= m <= high else "outside this decision's range" for m in months},
        "range": months_words(low, high),
        "max_months": high,
    }


def _guideline_maintenance(decision: dict) -> dict | None:
    """The maintenance the guideline gave for the plan's decision (or for its treatment pending MMA)."""
    if decision.get("maintenance"):
        return decision["maintenance"]
    return (decision.get("treatment_pending_mma") or {}).get("maintenance")


def plan_regimen(plan) -> dict:
    """The plan's own regimen in words, and where (and why) it departs from the guideline's."""
    decision = plan.assessment.decision
    loading = ""
    if plan.loading_pattern:
        loading = f"{RULESET_WORDS.dose_route} " + PATTERN_SENTENCES.get(
            plan.loading_pattern, plan.loading_pattern
        ).format(doses=plan.loading_doses)
    every = plan.interval_text
    guideline = _guideline_maintenance(decision)
    guideline_range = ""
    if guideline:
        guideline_range = months_words(guideline["every_months"]["min"], guideline["every_months"]["max"])
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
