"""The decision (the API's dict) turned into what the results panel shows: plain words, grouped warnings and
citation links. Prepared in Python so the live panel, re-rendered on every keystroke, stays cheap to render."""

from __future__ import annotations

from html import escape

from django.utils.safestring import SafeString


def _esc(value) -> str:
    return value if isinstance(value, SafeString) else escape(str(value))


def format_html(template: str, *args, **kwargs) -> SafeString:
    """django.utils.html.format_html, leaner: this module renders the live panel on every keystroke."""
    return SafeString(template.format(*map(_esc, args), **{k: _esc(v) for k, v in kwargs.items()}))


def format_html_join(sep: str, template: str, rows) -> SafeString:
    return SafeString(sep.join(template.format(*map(_esc, row)) for row in rows))


STATUS_WORDS = {"deficient": "B12 deficient", "indeterminate": "Indeterminate", "not_deficient": "Not deficient"}
BASIS_WORDS = {"b12": "total B12", "active_b12": "active B12", "mma": "MMA"}
INDICATION_WORDS = {
    "deficiency": "deficiency",
    "ileal_resection": "ileal resection",
    "bariatric_surgery": "bariatric surgery",
}


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
    return {
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
        "rationale": [
            format_html(
                '{} <span class="citation-refs">[{}]</span>',
                item["text"],
                format_html_join(", ", '<a href="#cite-{}">{}</a>', ((c, c) for c in item["citations"])),
            )
            for item in decision["rationale"]
        ],
        "sources": decision["citations"],
        "ruleset": decision["ruleset"],
    }


def _alerts_html(alerts: list[dict], css: str, role: str, label: str) -> SafeString:
    return format_html_join(
        "",
        '<div class="alert {} d-flex gap-2" role="{}" data-code="{}"><strong class="text-nowrap">{}</strong>'
        "<span>{}</span></div>",
        ((css, role, a["code"], label, a["text"]) for a in alerts),
    )


def decision_html(decision: dict) -> SafeString:
    """The results panel as HTML. Built in Python because the live panel is re-rendered on every change the
    clinician makes; the markup mirrors the Bootstrap components used across the site."""
    p = decision_panel(decision)
    parts = [
        format_html(
            '<div class="status-band status-{} rounded p-3 mb-3"><div class="d-flex flex-wrap '
            'justify-content-between align-items-baseline gap-2"><p class="h4 mb-0">{}</p>'
            '<span class="small">decided by {}</span></div><ul class="list-unstyled small mb-0 mt-2">{}'
            '<li class="text-body-secondary">Thresholds: {}</li></ul></div>',
            p["status"],
            p["status_words"],
            p["basis_words"],
            format_html_join("", "<li>{}</li>", ((line,) for line in p["measurements"])),
            p["profile"],
        ),
        _alerts_html(p["red_flags"], "alert-danger red-flag", "alert", "Red flag"),
        _alerts_html(p["cautions"], "alert-warning", "status", "Caution"),
        SafeString('<h3 class="h6 mt-3">Treatment</h3>'),
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
                '<p class="mb-1"><strong>Intramuscular hydroxocobalamin is indicated</strong> ({}).</p>'
                '<dl class="row mb-2 regimen">{}</dl>',
                p["indications"],
                format_html_join("", '<dt class="col-sm-3">{}</dt><dd class="col-sm-9" id="{}">{}</dd>', rows),
            )
        )
    else:
        parts.append(
            format_html(
                "<p><strong>Intramuscular hydroxocobalamin is not indicated</strong> on these results{}.</p>",
                ": measure MMA first" if p["needs_mma"] else "",
            )
        )
    if m := p["monitoring"]:
        first = m["first_review_months"]
        parts.append(
            format_html(
                '<h3 class="h6">Monitoring</h3><p class="mb-1">Every {} months until stable, then every {} months: '
                "serum B12 and total homocysteine (target below {} µmol/L). First review after {} month{}.</p>"
                '<ul class="small text-body-secondary">{}</ul>',
                m["every_months_until_stable"],
                m["every_months_after_stable"],
                m["homocysteine_target_umol_per_l"],
                first,
                "" if first == 1 else "s",
                format_html_join("", "<li>{}</li>", ((c,) for c in m.get("caveats", []))),
            )
        )
    if p["advice"]:
        parts.append(
            format_html(
                '<h3 class="h6">Advice</h3><ul class="advice">{}</ul>',
                format_html_join("", '<li data-code="{}">{}</li>', ((a["code"], a["text"]) for a in p["advice"])),
            )
        )
    parts.append(
        format_html(
            '<details class="rationale mt-2" open><summary class="h6">Why: the reasons and their sources</summary>'
            '<ol>{}</ol><h4 class="h6">Sources</h4><ul class="small sources">{}</ul>'
            '<p class="small text-body-secondary mb-0">Ruleset {} version {}.</p></details>',
            format_html_join("", "<li>{}</li>", ((line,) for line in p["rationale"])),
            format_html_join(
                "",
                '<li id="cite-{}"><strong>{}</strong>: {}. {}, {}.</li>',
                ((c["id"], c["id"], c["title"], c["source"], c["year"]) for c in p["sources"]),
            ),
            p["ruleset"]["id"],
            p["ruleset"]["version"],
        )
    )
    return format_html('<section class="decision" aria-label="Decision">{}</section>', SafeString("".join(parts)))


def _errors_html(bound_field) -> SafeString:
    return format_html_join("", '<div class="invalid-feedback d-block">{}</div>', ((e,) for e in bound_field.errors))


def _invalid(bound_field) -> str:
    return " is-invalid" if bound_field.errors else ""


def _value(bound_field) -> str:
    value = bound_field.value()
    if value is None:
        return ""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def plan_fields_html(form) -> SafeString:
    """The plan's choices in the live panel (the same markup as the site's Bootstrap forms, built in Python for
    the panel that is re-rendered on every change)."""
    choice, every, unit, reason, start = (
        form["maintenance_choice"],
        form["individualised_every"],
        form["individualised_unit"],
        form["individualised_reason"],
        form["start_date"],
    )
    chosen = _value(choice)
    radios = format_html_join(
        "",
        '<div class="form-check"><input class="form-check-input{}" type="radio" name="maintenance_choice" '
        'id="id_maintenance_choice_{}" value="{}"{}><label class="form-check-label" '
        'for="id_maintenance_choice_{}">{}</label></div>',
        (
            (_invalid(choice), i, value, SafeString(" checked") if str(value) == chosen else "", i, label)
            for i, (value, label) in enumerate(form.fields["maintenance_choice"].choices)
        ),
    )
    chosen_unit = _value(unit)
    options = format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        (
            (value, SafeString(" selected") if value == chosen_unit else "", label)
            for value, label in form.fields["individualised_unit"].choices
        ),
    )
    return format_html(
        '<fieldset class="mb-3"><legend class="form-label fs-6">Maintenance interval<span class="asteriskField">*'
        "</span></legend>{radios}{choice_errors}</fieldset>"
        '<div class="individualised border-start ps-3 mb-3"><div class="row">'
        '<div class="col-4 mb-2"><label class="form-label" for="{every_id}">Every</label>'
        '<input class="form-control{every_invalid}" type="number" min="1" name="individualised_every" id="{every_id}" '
        'value="{every_value}">{every_errors}</div>'
        '<div class="col-8 mb-2"><label class="form-label" for="{unit_id}">Unit</label>'
        '<select class="form-select{unit_invalid}" name="individualised_unit" id="{unit_id}">{options}</select>'
        "{unit_errors}</div></div>"
        '<label class="form-label" for="{reason_id}">{reason_label}</label>'
        '<textarea class="form-control{reason_invalid}" name="individualised_reason" id="{reason_id}" rows="2">'
        "{reason_value}</textarea>{reason_errors}</div>"
        '<div class="mb-3"><label class="form-label" for="{start_id}">{start_label}<span class="asteriskField">*'
        '</span></label><input class="form-control{start_invalid}" type="date" name="start_date" id="{start_id}" '
        'value="{start_value}">{start_errors}</div>',
        radios=radios,
        choice_errors=_errors_html(choice),
        every_id=every.id_for_label,
        every_invalid=_invalid(every),
        every_value=_value(every),
        every_errors=_errors_html(every),
        unit_id=unit.id_for_label,
        unit_invalid=_invalid(unit),
        options=options,
        unit_errors=_errors_html(unit),
        reason_id=reason.id_for_label,
        reason_label=reason.label,
        reason_invalid=_invalid(reason),
        reason_value=_value(reason),
        reason_errors=_errors_html(reason),
        start_id=start.id_for_label,
        start_label=start.label,
        start_invalid=_invalid(start),
        start_value=_value(start),
        start_errors=_errors_html(start),
    )
