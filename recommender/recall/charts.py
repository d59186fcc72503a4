"""The dashboard's charts: server-rendered SVG bars a week each (no JavaScript, nothing the CSP would block), in the
way of clinic/charts.py: built with format_html, a <title> on every bar, the numbers also in a table beside."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 14, 34


@dataclass(frozen=True)
class Series:
    label: str
    values: tuple[float | None, ...]
    css: str  # the bar's class: its colour in app.css


def _tick_step(top: float) -> float:
    rough = top / 4
    power = 10 ** math.floor(math.log10(rough)) if rough > 0 else 1
    return next(m * power for m in (1, 2, 5, 10) if m * power >= rough)


def _shown(value: float | None, unit: str) -> str:
    if value is None:
        return "nothing due"
    return f"{value:g}{unit}"


def weekly_bars(
    title: str, weeks: Sequence[date], series: Sequence[Series], chart_id: str, *, unit: str = ""
) -> SafeString:
    """Bars per week (one per series, side by side), a y axis with round ticks, the first and last weeks named."""
    values = [v for s in series for v in s.values if v is not None]
    top = (max(values, default=0) * 1.15) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(weeks), 1)
    bar = max(slot * 0.8 / max(len(series), 1), 1.0)

    def y(value: float) -> float:
        return TOP + plot_h - value / top * plot_h

    step = _tick_step(top)
    grid = format_html_join(
        "",
        '<line class="chart-grid" x1="{}" x2="{}" y1="{}" y2="{}"/><text class="chart-tick axis" x="{}" y="{}">{}'
        "</text>",
        (
            (LEFT, WIDTH - RIGHT, f"{y(t):.1f}", f"{y(t):.1f}", LEFT - 4, f"{y(t) + 4:.1f}", f"{t:g}")
            for t in (i * step for i in range(int(top // step) + 1))
        ),
    )
    bars = format_html_join(
        "",
        '<rect class="chart-bar {}" x="{}" y="{}" width="{}" height="{}"><title>{}, week of {}: {}</title></rect>',
        (
            (
                s.css,
                f"{LEFT + i * slot + slot * 0.1 + k * bar:.1f}",
                f"{y(v or 0):.1f}",
                f"{bar:.1f}",
                f"{TOP + plot_h - y(v or 0):.1f}",
                s.label,
                monday.strftime("%d %b %Y"),
                _shown(v, unit),
            )
            for k, s in enumerate(series)
            for i, (monday, v) in enumerate(zip(weeks, s.values, strict=True))
        ),
    )
    legend = format_html_join(
        "",
        '<rect class="chart-bar {}" x="{}" y="{}" width="10" height="10"/><text class="chart-tick" x="{}" y="{}">{}'
        "</text>",
        ((s.css, LEFT + k * 170, HEIGHT - 12, LEFT + k * 170 + 14, HEIGHT - 3, s.label) for k, s in enumerate(series)),
    )
    axis = format_html(
        '<line class="chart-axis" x1="{}" x2="{}" y1="{}" y2="{}"/><text class="chart-tick" x="{}" y="{}">{}</text>'
        '<text class="chart-tick end" x="{}" y="{}">{}</text>',
        LEFT,
        WIDTH - RIGHT,
        TOP + plot_h,
        TOP + plot_h,
        LEFT,
        TOP + plot_h + 12,
        weeks[0].strftime("%d %b %Y") if weeks else "",
        WIDTH - RIGHT,
        TOP + plot_h + 12,
        weeks[-1].strftime("%d %b %Y") if weeks else "",
    )
    return format_html(
        '<svg viewBox="0 0 {w} {h}" role="img" aria-labelledby="{id}-title" class="w-100 dashboard-chart" id="{id}">'
        '<title id="{id}-title">{title}, a bar a week for {n} weeks</title>{grid}{axis}{bars}{legend}</svg>',
        w=WIDTH,
        h=HEIGHT,
        id=chart_id,
        title=title,
        n=len(weeks),
        grid=grid,
        axis=axis,
        bars=bars,
        legend=legend,
    )


def dashboard_charts(weeks) -> dict[str, SafeString]:
    """The dashboard's three weekly charts from its rows (recall.presenters.DashboardWeek)."""
    mondays = [w.monday for w in weeks]
    return {
        "doses": weekly_bars(
            "Injections due and given",
            mondays,
            [
                Series("Due", tuple(w.due for w in weeks), "bar-due"),
                Series("Given", tuple(w.given for w in weeks), "bar-given"),
                Series("Overdue", tuple(w.overdue for w in weeks), "bar-overdue"),
            ],
            "chart-doses",
        ),
        "dna": weekly_bars(
            "Did not attend, per 100 doses due",
            mondays,
            [Series("DNA rate", tuple(w.dna_rate for w in weeks), "bar-dna")],
            "chart-dna",
            unit="%",
        ),
        "monitoring": weekly_bars(
            "Monitoring visits overdue, by the week they fell due",
            mondays,
            [Series("Visits overdue", tuple(w.monitoring_overdue for w in weeks), "bar-monitoring")],
            "chart-monitoring",
        ),
    }
