"""Server-rendered SVG trend charts (no JavaScript, nothing inline that the CSP would block)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import pairwise

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from recommender.guideline import DEFAULT_RULESET

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 14, 30


@dataclass(frozen=True)
class Line:
    """A threshold, with its value at each point (each point is judged by its own assessment's thresholds)."""

    values: tuple[float, ...]
    label: str
    css: str

    @property
    def value(self) -> float:
        return self.values[-1]


def _tick_step(top: float) -> float:
    """A round step giving about four gridlines up to ``top``: 1, 2 or 5 times a power of ten."""
    rough = top / 4
    power = 10 ** math.floor(math.log10(rough)) if rough > 0 else 1
    return next(m * power for m in (1, 2, 5, 10) if m * power >= rough)


def _chart(
    title: str, unit: str, points: Sequence[tuple[date, Decimal]], lines: Sequence[Line], chart_id: str
) -> SafeString:
    if not points:
        return SafeString("")
    values = [float(v) for _, v in points]
    top = max([*values, *(v for line in lines for v in line.values)]) * 1.15 or 1.0
    first, last = points[0][0], points[-1][0]
    span = max((last - first).days, 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(day: date) -> float:
        return LEFT + (plot_w / 2 if first == last else (day - first).days / span * plot_w)

    def y(value: float) -> float:
        return TOP + plot_h - value / top * plot_h

    xs = [x(d) for d, _ in points]
    edges = [LEFT, *((a + b) / 2 for a, b in pairwise(xs)), WIDTH - RIGHT]

    def steps(line: Line) -> str:
        """The threshold in force at each point, drawn across that point's share of the axis."""
        return " ".join(f"M{edges[i]:.1f},{y(v):.1f} H{edges[i + 1]:.1f}" for i, v in enumerate(line.values))

    threshold_lines = format_html_join(
        "",
        '<path class="chart-threshold {}" d="{}"/><text class="chart-label" x="{}" y="{}">{}</text>',
        ((line.css, steps(line), WIDTH - RIGHT - 4, f"{y(line.value) - 3:.1f}", line.label) for line in lines),
    )
    step = _tick_step(top)
    ticks = [i * step for i in range(int(top // step) + 1)]
    y_axis = format_html_join(
        "",
        '<line class="chart-grid" x1="{}" x2="{}" y1="{}" y2="{}"/><text class="chart-tick axis" x="{}" y="{}">{}'
        "</text>",
        ((LEFT, WIDTH - RIGHT, f"{y(t):.1f}", f"{y(t):.1f}", LEFT - 4, f"{y(t) + 4:.1f}", f"{t:g}") for t in ticks),
    )
    path = " ".join(f"{'M' if i == 0 else 'L'}{x(d):.1f},{y(float(v)):.1f}" for i, (d, v) in enumerate(points))
    dots = format_html_join(
        "",
        '<circle class="chart-point" cx="{}" cy="{}" r="4"><title>{}: {} {}</title></circle>',
        ((f"{x(d):.1f}", f"{y(float(v)):.1f}", d.strftime("%d %b %Y"), _shown(v), unit) for d, v in points),
    )
    axis = format_html(
        '{}<line class="chart-axis" x1="{}" x2="{}" y1="{}" y2="{}"/>'
        '<text class="chart-tick" x="{}" y="{}">{}</text><text class="chart-tick end" x="{}" y="{}">{}</text>'
        '<text class="chart-tick" x="4" y="{}">{}</text>',
        y_axis,
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
        TOP - 2,
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
    judged = sorted(
        (a for a in assessments if a.b12_pg_per_ml is not None), key=lambda a: (a.sample_date, a.created_at)
    )
    if not judged:
        return SafeString("")
    points = [(a.sample_date, a.b12_pg_per_ml) for a in judged]
    bands = [a.thresholds["total_b12_pg_per_ml"] for a in judged]
    low = tuple(float(b["deficient_below"]) for b in bands)
    high = tuple(float(b["not_deficient_above"]) for b in bands)
    lines = [
        Line(low, f"deficient below {low[-1]:g}", "deficient"),
        Line(high, f"not deficient above {high[-1]:g}", "indeterminate"),
    ]
    return _chart("Total B12", "pg/mL", points, lines, "b12-trend")


def homocysteine_trend(assessments) -> SafeString:
    points = sorted(
        (a.sample_date, a.homocysteine_umol_per_l) for a in assessments if a.homocysteine_umol_per_l is not None
    )
    if not points:
        return SafeString("")
    value = float(DEFAULT_RULESET.monitoring.homocysteine_target_umol_l)
    target = Line(tuple(value for _ in points), f"target below {value:g}", "target")
    return _chart("Total homocysteine", "µmol/L", points, [target], "hcy-trend")
