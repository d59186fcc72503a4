"""Server-rendered SVG trend charts (no JavaScript, nothing inline that the CSP would block)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from .guideline import DEFAULT_RULESET

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 14, 30


@dataclass(frozen=True)
class Line:
    value: float
    label: str
    css: str


def _chart(
    title: str, unit: str, points: Sequence[tuple[date, Decimal]], lines: Sequence[Line], chart_id: str
) -> SafeString:
    if not points:
        return SafeString("")
    points = sorted(points)
    values = [float(v) for _, v in points]
    top = max([*values, *(line.value for line in lines)]) * 1.15 or 1.0
    first, last = points[0][0], points[-1][0]
    span = max((last - first).days, 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(day: date) -> float:
        return LEFT + (plot_w / 2 if first == last else (day - first).days / span * plot_w)

    def y(value: float) -> float:
        return TOP + plot_h - value / top * plot_h

    threshold_lines = format_html_join(
        "",
        '<line class="chart-threshold {}" x1="{}" x2="{}" y1="{}" y2="{}"/>'
        '<text class="chart-label" x="{}" y="{}">{}</text>',
        (
            (
                line.css,
                LEFT,
                WIDTH - RIGHT,
                f"{y(line.value):.1f}",
                f"{y(line.value):.1f}",
                WIDTH - RIGHT - 4,
                f"{y(line.value) - 3:.1f}",
                line.label,
            )
            for line in lines
        ),
    )
    path = " ".join(f"{'M' if i == 0 else 'L'}{x(d):.1f},{y(float(v)):.1f}" for i, (d, v) in enumerate(points))
    dots = format_html_join(
        "",
        '<circle class="chart-point" cx="{}" cy="{}" r="4"><title>{}: {} {}</title></circle>',
        ((f"{x(d):.1f}", f"{y(float(v)):.1f}", d.strftime("%d %b %Y"), _shown(v), unit) for d, v in points),
    )
    axis = format_html(
        '<line class="chart-axis" x1="{}" x2="{}" y1="{}" y2="{}"/>'
        '<text class="chart-tick" x="{}" y="{}">{}</text><text class="chart-tick end" x="{}" y="{}">{}</text>'
        '<text class="chart-tick" x="4" y="{}">{}</text>',
        LEFT,
        WIDTH - RIGHT,
        TOP + plot_h,
        TOP + plot_h,
        LEFT,
        HEIGHT - 8,
        first.strftime("%d %b %Y"),
        WIDTH - RIGHT,
        HEIGHT - 8,
        last.strftime("%d %b %Y"),
        TOP + 10,
        unit,
    )
    rows = format_html_join(
        "", "<tr><td>{}</td><td>{}</td></tr>", ((d.strftime("%d %b %Y"), _shown(v)) for d, v in points)
    )
    return format_html(
        '<figure class="trend-chart" aria-labelledby="{id}-caption">'
        '<figcaption id="{id}-caption" class="h6">{title}</figcaption>'
        '<svg viewBox="0 0 {w} {h}" role="img" aria-labelledby="{id}-title" class="w-100">'
        '<title id="{id}-title">{title} over {n} assessments</title>{axis}{lines}'
        '<path class="chart-line" d="{path}"/>{dots}</svg>'
        '<table class="visually-hidden"><caption>{title}</caption>'
        "<thead><tr><th>Sample date</th><th>{unit}</th></tr></thead><tbody>{rows}</tbody></table>"
        "</figure>",
        id=chart_id,
        title=title,
        w=WIDTH,
        h=HEIGHT,
        n=len(points),
        axis=axis,
        lines=threshold_lines,
        path=mark_safe(path),  # noqa: S308 (numbers and M/L letters only)
        dots=dots,
        unit=unit,
        rows=rows,
    )


def _shown(value: Decimal) -> str:
    return f"{value.normalize():f}" if value == value.to_integral_value() else f"{value:.1f}"


def b12_trend(assessments) -> SafeString:
    points = [(a.sample_date, a.b12_pg_per_ml) for a in assessments if a.b12_pg_per_ml is not None]
    if not points:
        return SafeString("")
    latest = max(assessments, key=lambda a: (a.sample_date, a.created_at)).thresholds["total_b12_pg_per_ml"]
    lines = [
        Line(latest["deficient_below"], f"deficient below {latest['deficient_below']:g}", "deficient"),
        Line(latest["not_deficient_above"], f"not deficient above {latest['not_deficient_above']:g}", "indeterminate"),
    ]
    return _chart("Total B12", "pg/mL", points, lines, "b12-trend")


def homocysteine_trend(assessments) -> SafeString:
    points = [(a.sample_date, a.homocysteine_umol_per_l) for a in assessments if a.homocysteine_umol_per_l is not None]
    if not points:
        return SafeString("")
    value = float(DEFAULT_RULESET.monitoring.homocysteine_target_umol_l)
    return _chart(
        "Total homocysteine", "µmol/L", points, [Line(value, f"target below {value:g}", "target")], "hcy-trend"
    )
