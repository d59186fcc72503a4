"""Time: loading days, maintenance intervals, monitoring visits. Pure functions of a plan's facts and dates.

Decisions this module makes (and its tests pin):
- Month arithmetic clamps to the end of the month: 31 January + 1 month = 28 (or 29) February. A series of
  monthly dates is computed from its anchor (anchor + k × interval), so it never drifts: 31 Jan, 31 Mar, 31 May…
- Loading doses fall on clinic days (Monday to Friday unless configured): three a week for two weeks, spread as
  evenly as the open days allow; alternate-day loading moves a dose due on a closed day to the next open day and
  continues from the dose actually given. Alternate-day loading never ends by itself.
- Maintenance is due one interval after the last dose actually given; a dose recorded as not given is offered
  again from the next open day after that record. Maintenance dates are calendar dates (not moved off closed days):
  the worklist shows a weekend date before it falls due.
- Monitoring: every 3 months from the start until the patient is recorded stable (none after that date), then
  every 12 months from the stable date.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from itertools import combinations, pairwise, product

from dateutil.relativedelta import relativedelta

from .ruleset import DEFAULT_RULESET

MONDAY_TO_FRIDAY = frozenset({0, 1, 2, 3, 4})
LOADING, MAINTENANCE = "loading", "maintenance"
THREE_TIMES_WEEKLY, ALTERNATE_DAYS = "three_times_weekly", "alternate_days"
DAYS, WEEKS, MONTHS = "days", "weeks", "months"


def add_months(day: date, months: int) -> date:
    """Calendar months, clamped to the last day of a shorter month (31 Jan + 1 month = end of February)."""
    return day + relativedelta(months=months)


def next_open_day(day: date, clinic_days: frozenset[int]) -> date:
    if not clinic_days:
        raise ValueError("at least one clinic day is needed")
    while day.weekday() not in clinic_days:
        day += timedelta(days=1)
    return day


@dataclass(frozen=True, slots=True)
class Interval:
    every: int
    unit: str  # days | weeks | months

    def __post_init__(self) -> None:
        if self.every < 1 or self.unit not in (DAYS, WEEKS, MONTHS):
            raise ValueError(f"not an interval: every {self.every} {self.unit}")

    def after(self, anchor: date, times: int = 1) -> date:
        """The date ``times`` intervals after ``anchor``, counted from the anchor (no drift)."""
        n = self.every * times
        if self.unit == MONTHS:
            return add_months(anchor, n)
        return anchor + timedelta(days=n * (7 if self.unit == WEEKS else 1))


def fixed_loading_dates(
    start: date, clinic_days: frozenset[int] = MONDAY_TO_FRIDAY, *, per_week: int = 3, weeks: int = 2
) -> list[date]:
    """Three doses a week for two weeks on clinic days, one a day at most, as evenly spread as possible.

    The course begins on the first open day on or after ``start``; each 7-day week from there holds ``per_week``
    doses (Monday start, Monday to Friday: Mon/Wed/Fri, Mon/Wed/Fri)."""
    first = next_open_day(start, clinic_days)
    offsets = _loading_offsets(first.weekday(), clinic_days, per_week, weeks)
    return [first + timedelta(days=o) for o in offsets]


@lru_cache(maxsize=256)
def _loading_offsets(first_weekday: int, clinic_days: frozenset[int], per_week: int, weeks: int) -> tuple[int, ...]:
    """Day offsets of the course from its first dose: the choice with the longest shortest gap, then the shortest
    longest gap, then the earliest end."""
    open_by_week = [
        [7 * w + i for i in range(7) if (first_weekday + i) % 7 in clinic_days and 7 * w + i > 0] for w in range(weeks)
    ]
    needs = [per_week - 1] + [per_week] * (weeks - 1)
    if any(len(days) < need for days, need in zip(open_by_week, needs, strict=True)):
        raise ValueError(f"{per_week} doses a week need at least {per_week} clinic days a week")
    best: tuple | None = None
    for picks in product(*(combinations(days, need) for days, need in zip(open_by_week, needs, strict=True))):
        course = (0, *(day for week in picks for day in week))
        gaps = [b - a for a, b in pairwise(course)]
        score = (min(gaps), -max(gaps), -course[-1])
        if best is None or score > best[0]:
            best = (score, course)
    return best[1]


@dataclass(frozen=True, slots=True)
class PlanFacts:
    """What the schedule needs to know about a plan."""

    start: date
    loading_pattern: str  # "" when there is no loading course
    interval: Interval
    loading_ended_on: date | None = None
    clinic_days: frozenset[int] = MONDAY_TO_FRIDAY
    loading_doses: int = 6


@dataclass(frozen=True, slots=True)
class DoseEvent:
    """A dose recorded on the plan: given, or not given (missed, declined, held)."""

    phase: str
    number: int
    on: date
    given: bool = True


@dataclass(frozen=True, slots=True)
class DueDose:
    phase: str
    number: int
    due: date


def _loading_running(plan: PlanFacts, records: Sequence[DoseEvent]) -> bool:
    if not plan.loading_pattern:
        return False
    if plan.loading_pattern == ALTERNATE_DAYS:
        return plan.loading_ended_on is None
    return sum(1 for r in records if r.phase == LOADING) < plan.loading_doses


def next_dose(plan: PlanFacts, records: Sequence[DoseEvent]) -> DueDose:
    """The next dose due, from the plan and the doses recorded so far (in any order)."""
    records = sorted(records, key=lambda r: (r.on, r.phase != LOADING, r.number))
    last = records[-1] if records else None
    given = [r for r in records if r.given]
    last_given = given[-1] if given else None
    # A dose recorded as not given is offered again from the next open day.
    not_before = last.on + timedelta(days=1) if last is not None and not last.given else None

    if _loading_running(plan, records):
        number = sum(1 for r in records if r.phase == LOADING) + 1
        if plan.loading_pattern == THREE_TIMES_WEEKLY:
            due = fixed_loading_dates(plan.start, plan.clinic_days)[number - 1]
            if last is not None and due <= last.on:
                # A dose recorded late pushes the rest of the course on: never two on one day, never backwards.
                due = last.on + timedelta(days=1)
        elif last_given is None:
            due = plan.start
        else:
            due = last_given.on + timedelta(days=2)
        if not_before and due < not_before:
            due = not_before
        return DueDose(LOADING, number, next_open_day(due, plan.clinic_days))

    number = sum(1 for r in records if r.phase == MAINTENANCE) + 1
    due = plan.start if last_given is None else plan.interval.after(last_given.on)
    if not_before and due < not_before:
        due = next_open_day(not_before, plan.clinic_days)
    return DueDose(MAINTENANCE, number, due)


def upcoming_doses(plan: PlanFacts, records: Sequence[DoseEvent], *, until: date, limit: int = 60) -> list[DueDose]:
    """The doses expected up to ``until``, assuming each is given on its due date. Lifelong plans have no last
    dose; an open-ended loading course is shown as running (a clinician ends it). Maintenance dates are counted
    from their anchor (the last dose actually given), so month-end dates do not drift."""
    projected = list(records)
    out: list[DueDose] = []
    while len(out) < limit:
        dose = next_dose(plan, projected)
        if dose.phase == MAINTENANCE:
            anchor, offset = maintenance_anchor(plan, projected, dose)
            k = 0
            while len(out) < limit:
                due = plan.interval.after(anchor, offset + k)
                if due > until:
                    return out
                out.append(DueDose(MAINTENANCE, dose.number + k, due))
                k += 1
            return out
        if dose.due > until:
            break
        out.append(dose)
        projected.append(DoseEvent(dose.phase, dose.number, dose.due))
    return out


def maintenance_anchor(plan: PlanFacts, records: Sequence[DoseEvent], due: DueDose) -> tuple[date, int]:
    """(anchor, n): the next maintenance dose is ``n`` intervals after ``anchor`` and the later ones follow it
    at whole intervals from the same anchor (the series an iCalendar RRULE describes)."""
    given = sorted((r for r in records if r.given), key=lambda r: r.on)
    if given and plan.interval.after(given[-1].on) == due.due:
        return given[-1].on, 1
    return due.due, 0


def loading_reviews(plan: PlanFacts, *, until: date) -> list[date]:
    """While alternate-day loading runs, a clinician review every two weeks from the start."""
    if plan.loading_pattern != ALTERNATE_DAYS:
        return []
    step = DEFAULT_RULESET.neuro_loading_review_days
    end = min(until, plan.loading_ended_on) if plan.loading_ended_on else until
    reviews, day = [], plan.start + timedelta(days=step)
    while day <= end:
        reviews.append(day)
        day += timedelta(days=step)
    return reviews


@dataclass(frozen=True, slots=True)
class Visit:
    on: date
    kind: str  # "until_stable" (every 3 months) | "after_stable" (yearly)


def monitoring_visits(start: date, stable_on: date | None, *, until: date) -> Iterator[Visit]:
    """Every 3 months from the start until the stable date (none after it), then every 12 months from it."""
    mon = DEFAULT_RULESET.monitoring
    k = 1
    while True:
        day = add_months(start, mon.every_months_until_stable * k)
        if day > until or (stable_on is not None and day > stable_on):
            break
        yield Visit(day, "until_stable")
        k += 1
    if stable_on is None:
        return
    k = 1
    while (day := add_months(stable_on, mon.every_months_after_stable * k)) <= until:
        yield Visit(day, "after_stable")
        k += 1


def monthly_clamp_days(anchor: date) -> list[int]:
    """BYMONTHDAY values that keep an anchor's day of month, or the month's last day when it is shorter
    (with BYSETPOS=-1): the iCalendar form of ``add_months``."""
    return [anchor.day] if anchor.day <= 28 else list(range(28, anchor.day + 1))


def recurrence(anchor: date, every: int, unit: str) -> dict:
    """An RFC 5545 RRULE (as a dict of parts) for dates ``anchor`` + k × interval, k ≥ 1, without end."""
    if unit == MONTHS:
        rule = {"FREQ": "MONTHLY", "INTERVAL": every, "BYMONTHDAY": monthly_clamp_days(anchor)}
        if anchor.day > 28:
            rule["BYSETPOS"] = -1
        return rule
    return {"FREQ": "WEEKLY" if unit == WEEKS else "DAILY", "INTERVAL": every}


@dataclass(frozen=True, slots=True)
class Series:
    """An endless series of dates: first, then every interval counted from anchor."""

    first: date
    anchor: date
    every: int
    unit: str
    until: date | None = None


def maintenance_series(plan: PlanFacts, records: Sequence[DoseEvent]) -> Series | None:
    """The lifelong maintenance series, assuming the loading doses still to come are given when due.
    None while an open-ended loading course runs (its end is a clinician's decision)."""
    projected = list(records)
    for _ in range(plan.loading_doses + 1):
        dose = next_dose(plan, projected)
        if dose.phase == MAINTENANCE:
            anchor, _offset = maintenance_anchor(plan, projected, dose)
            return Series(dose.due, anchor, plan.interval.every, plan.interval.unit)
        if plan.loading_pattern == ALTERNATE_DAYS:
            return None
        projected.append(DoseEvent(dose.phase, dose.number, dose.due))
    return None


def monitoring_series(start: date, stable_on: date | None) -> list[Series]:
    """Every 3 months from the start (until the stable date), then every 12 months from the stable date."""
    mon = DEFAULT_RULESET.monitoring
    series = []
    first = add_months(start, mon.every_months_until_stable)
    if stable_on is None or first <= stable_on:
        series.append(Series(first, start, mon.every_months_until_stable, MONTHS, until=stable_on))
    if stable_on is not None:
        series.append(Series(add_months(stable_on, mon.every_months_after_stable), stable_on, 12, MONTHS))
    return series
