"""Time: loading days, maintenance intervals, loading reviews, monitoring visits. Pure functions of a plan's facts,
the doses recorded and the clinic's calendar (its weekdays and its closures, given as data).

Decisions this module makes (and its tests pin):
- Open days: a clinic weekday that is not a closure (public holiday, training day…). The closures arrive as a
  lookup ``date -> reason`` built by the caller; this module imports neither Django nor the holidays package.
  EVERY due date falls on an open day: loading doses, maintenance doses, loading reviews, monitoring visits. A plan
  whose clinic gives injections on closed days (``doses_on_closed_days``: a district nurse, a weekend session)
  has its injections on any calendar day; its reviews and visits still fall on open days.
- Dose numbers count doses GIVEN. A dose recorded missed, declined or held is offered again under the same number
  from the day after that record; it is never counted.
- Three-times-weekly loading: exactly ``loading_doses`` given doses. Dose n is planned on the n-th slot of the
  course from the start (Mon/Wed/Fri on Monday-to-Friday clinics), but never earlier than: the day after the last
  record; the last given dose + the course's own shortest gap (one clear day where the clinic days allow); the
  third-last given dose + 7 days (never more than 3 in any 7 days). Then the next open day.
- Alternate-day loading is every 48 hours, continuing from the dose actually given; a dose that cannot fall on
  its day moves to the next open day and the plan says so (``DueDose.note``). It never ends by itself.
- Month arithmetic clamps to the end of the month: 31 January + 1 month = 28 (or 29) February. Maintenance is
  anchored on the last dose actually given: anchor + k × interval (no drift: 31 Jan, 31 Mar, 31 May…), each date
  then moved to the next open day. A dose given on its moved day becomes the new anchor.
- Monitoring: the first review ``first_months`` after the start (1 month in pregnancy, else 3), then every
  ``every_months_until_stable`` from there (counted from the start, so no drift) up to the stable date, then every
  ``every_months_after_stable`` from the stable date. The intervals are the plan's facts, passed in.
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import MAXYEAR, MINYEAR, date, timedelta
from functools import lru_cache
from itertools import combinations, pairwise, product
from types import MappingProxyType
from typing import NamedTuple, Protocol

MONDAY_TO_FRIDAY = frozenset({0, 1, 2, 3, 4})
EVERY_DAY = frozenset(range(7))
LOADING, MAINTENANCE = "loading", "maintenance"
THREE_TIMES_WEEKLY, ALTERNATE_DAYS = "three_times_weekly", "alternate_days"
DAYS, WEEKS, MONTHS = "days", "weeks", "months"
# Alternate days: one dose every 48 hours.
ALTERNATE_DAY_GAP = 2
# What the pattern's name says: three doses in any 7 days. The course's length is the plan's (``loading_doses``).
THREE_TIMES_WEEKLY_PER_WEEK = 3
# No open day this far ahead means the clinic calendar is broken (e.g. a year closed), not a date to offer.
_OPEN_DAY_SEARCH_DAYS = 400


class ClosedDays(Protocol):
    """Closures as a lookup: the reason a date is closed, or None (a dict of date → reason will do)."""

    def get(self, day: date, default: None = None, /) -> str | None: ...


NO_CLOSURES: ClosedDays = MappingProxyType({})


def add_months(day: date, months: int) -> date:
    """Calendar months, clamped to the last day of a shorter month (31 Jan + 1 month = end of February): what
    dateutil's ``relativedelta(months=…)`` gives (tests/test_schedule.py holds them equal), in a fifth of its time
    (every visit and monthly dose of a schedule is one)."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    month += 1
    if not MINYEAR <= year <= MAXYEAR:
        raise ValueError(f"year {year} is out of range")
    return day.replace(year=year, month=month, day=min(day.day, monthrange(year, month)[1]))


def _after(anchor: date, n: int, unit: str) -> date:
    """``n`` units (days, weeks, months) after ``anchor``."""
    if unit == MONTHS:
        return add_months(anchor, n)
    return anchor + timedelta(days=n * (7 if unit == WEEKS else 1))


def is_open(day: date, clinic_days: frozenset[int], closures: ClosedDays = NO_CLOSURES) -> bool:
    return day.weekday() in clinic_days and not closures.get(day)


def next_open_day(day: date, clinic_days: frozenset[int], closures: ClosedDays = NO_CLOSURES) -> date:
    """``day`` itself when the clinic is open, else the first open day after it."""
    if not clinic_days:
        raise ValueError("at least one clinic day is needed")
    for _ in range(_OPEN_DAY_SEARCH_DAYS):
        if is_open(day, clinic_days, closures):
            return day
        day += timedelta(days=1)
    raise ValueError(f"no open clinic day in the {_OPEN_DAY_SEARCH_DAYS} days before {day:%d %b %Y}")


@dataclass(frozen=True, slots=True)
class Interval:
    every: int
    unit: str  # days | weeks | months

    def __post_init__(self) -> None:
        if self.every < 1 or self.unit not in (DAYS, WEEKS, MONTHS):
            raise ValueError(f"not an interval: every {self.every} {self.unit}")

    def after(self, anchor: date, times: int = 1) -> date:
        """The date ``times`` intervals after ``anchor``, counted from the anchor (no drift)."""
        return _after(anchor, self.every * times, self.unit)


def fixed_loading_dates(
    start: date,
    clinic_days: frozenset[int] = MONDAY_TO_FRIDAY,
    *,
    per_week: int = THREE_TIMES_WEEKLY_PER_WEEK,
    weeks: int = 2,
) -> list[date]:
    """The planned course: three doses a week for two weeks on clinic weekdays, one a day at most, as evenly spread
    as possible. It begins on the first clinic weekday on or after ``start``; each 7-day week from there holds
    ``per_week`` doses (Monday start, Monday to Friday: Mon/Wed/Fri, Mon/Wed/Fri). Closures and the doses actually
    given move the slots later (see ``next_dose``)."""
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
        if any(course[i + per_week] - course[i] < 7 for i in range(len(course) - per_week)):
            continue  # more than per_week doses in some 7 days (the same weekdays every week always pass)
        gaps = [b - a for a, b in pairwise(course)]
        score = (min(gaps), -max(gaps), -course[-1])
        if best is None or score > best[0]:
            best = (score, course)
    return best[1]


@dataclass(frozen=True, slots=True)
class Reviews:
    """When the plan's clinician reviews fall: the plan's own facts (pregnancy brings the first one forward)."""

    first_months: int
    every_months_until_stable: int
    every_months_after_stable: int
    loading_review_days: int


@dataclass(frozen=True, slots=True)
class PlanFacts:
    """What the schedule needs to know about a plan and its clinic."""

    start: date
    loading_pattern: str  # "" when there is no loading course
    interval: Interval
    loading_ended_on: date | None = None
    clinic_days: frozenset[int] = MONDAY_TO_FRIDAY
    loading_doses: int = 6
    closures: ClosedDays = field(default=NO_CLOSURES, compare=False)
    doses_on_closed_days: bool = False
    reviews: Reviews | None = None
    stable_on: date | None = None

    def open_day(self, day: date) -> date:
        """The first day on or after ``day`` the clinic is open (for reviews and visits)."""
        return next_open_day(day, self.clinic_days, self.closures)

    def dose_day(self, day: date) -> date:
        """The first day on or after ``day`` an injection can be given."""
        return day if self.doses_on_closed_days else self.open_day(day)

    @property
    def dose_weekdays(self) -> frozenset[int]:
        return EVERY_DAY if self.doses_on_closed_days else self.clinic_days

    def why_closed(self, day: date) -> str:
        reason = self.closures.get(day)
        if reason:
            return f"a closure ({reason})"
        return "a day the clinic is closed"


class DoseEvent(NamedTuple):
    """A dose recorded on the plan: given, or not given (missed, declined, held). Immutable, and a tuple rather than
    a frozen dataclass: a plan page makes one per record of the plan's history, three times faster so."""

    phase: str
    number: int
    on: date
    given: bool = True


@dataclass(frozen=True, slots=True)
class DueDose:
    phase: str
    number: int
    due: date
    note: str = ""  # why the dose is not on its usual day, when it moved


def _loading_running(plan: PlanFacts, given: Sequence[DoseEvent]) -> bool:
    if not plan.loading_pattern:
        return False
    if plan.loading_pattern == ALTERNATE_DAYS:
        return plan.loading_ended_on is None
    return sum(1 for r in given if r.phase == LOADING) < plan.loading_doses


def next_dose(plan: PlanFacts, records: Sequence[DoseEvent]) -> DueDose:
    """The next dose due, from the plan and the doses recorded so far (in any order)."""
    records = sorted(records, key=lambda r: (r.on, r.phase != LOADING, r.number))
    given = [r for r in records if r.given]
    # Nothing is due on or before a day a dose was already recorded (given or not).
    not_before = records[-1].on + timedelta(days=1) if records else plan.start
    if _loading_running(plan, given):
        if plan.loading_pattern == THREE_TIMES_WEEKLY:
            return _next_fixed_loading(plan, given, not_before)
        return _next_alternate_day(plan, given, not_before)
    anchor, offset = _maintenance_anchor(plan, given, not_before)
    nominal = plan.interval.after(anchor, offset)
    due = plan.dose_day(nominal)
    number = sum(1 for r in given if r.phase == MAINTENANCE) + 1
    note = "" if due == nominal else f"Due {nominal:%a %d %b %Y}, moved: {plan.why_closed(nominal)}."
    return DueDose(MAINTENANCE, number, due, note)


def _next_fixed_loading(plan: PlanFacts, given: list[DoseEvent], not_before: date) -> DueDose:
    loading = [r.on for r in given if r.phase == LOADING]
    number = len(loading) + 1
    per_week = THREE_TIMES_WEEKLY_PER_WEEK
    weeks = max(1, -(-plan.loading_doses // per_week))  # enough whole weeks for the plan's own course
    course = fixed_loading_dates(plan.start, plan.dose_weekdays, per_week=per_week, weeks=weeks)
    shortest_gap = min(b - a for a, b in pairwise(course))
    due = max(course[number - 1], not_before)
    if loading:
        due = max(due, loading[-1] + shortest_gap)
    if len(loading) >= per_week:
        due = max(due, loading[-per_week] + timedelta(days=7))
    return DueDose(LOADING, number, plan.dose_day(due))


def _next_alternate_day(plan: PlanFacts, given: list[DoseEvent], not_before: date) -> DueDose:
    loading = [r.on for r in given if r.phase == LOADING]
    number = len(loading) + 1
    if not loading:
        return DueDose(LOADING, number, plan.dose_day(max(plan.start, not_before)))
    ideal = max(loading[-1] + timedelta(days=ALTERNATE_DAY_GAP), not_before)
    due = plan.dose_day(ideal)
    note = ""
    if due != ideal:
        gap = (due - loading[-1]).days
        note = f"{gap} days since the last dose: alternate days interrupted by {plan.why_closed(ideal)}."
    return DueDose(LOADING, number, due, note)


def _maintenance_anchor(plan: PlanFacts, given: Sequence[DoseEvent], not_before: date) -> tuple[date, int]:
    """(anchor, n): the next maintenance dose is nominally ``n`` intervals after ``anchor``, and the later ones at
    whole intervals from the same anchor (the series an iCalendar RRULE describes)."""
    if not given:
        return plan.dose_day(max(plan.start, not_before)), 0
    anchor = max(given, key=lambda r: r.on).on
    if plan.interval.after(anchor) < not_before:
        # A dose recorded as not given: offered again from the next open day after that record, and the series
        # from there (as if given that day, as every projected dose is).
        return plan.dose_day(not_before), 0
    return anchor, 1


def maintenance_anchor(plan: PlanFacts, records: Sequence[DoseEvent]) -> tuple[date, int]:
    records = sorted(records, key=lambda r: r.on)
    not_before = records[-1].on + timedelta(days=1) if records else plan.start
    return _maintenance_anchor(plan, [r for r in records if r.given], not_before)


def upcoming_doses(plan: PlanFacts, records: Sequence[DoseEvent], *, until: date, limit: int = 60) -> list[DueDose]:
    """The doses expected up to ``until``, assuming each is given on its due date. Lifelong plans have no last
    dose; an open-ended loading course is shown as running (a clinician ends it). Maintenance dates are counted
    from their anchor (the last dose actually given), each moved to the next open day."""
    projected = list(records)
    out: list[DueDose] = []
    while len(out) < limit:
        dose = next_dose(plan, projected)
        if dose.phase == MAINTENANCE:
            anchor, offset = maintenance_anchor(plan, projected)
            number = dose.number
            for nominal in _nominal_series(anchor, offset, plan.interval):
                due = plan.dose_day(nominal)
                if due > until or len(out) >= limit:
                    return out
                if out and due <= out[-1].due:
                    continue  # two nominal dates moved onto one open day: one dose
                note = "" if due == nominal else f"Due {nominal:%a %d %b %Y}, moved: {plan.why_closed(nominal)}."
                out.append(DueDose(MAINTENANCE, number, due, note))
                number += 1
            return out
        if dose.due > until:
            break
        out.append(dose)
        projected.append(DoseEvent(dose.phase, dose.number, dose.due))
    return out


def _nominal_series(anchor: date, offset: int, interval: Interval) -> Iterator[date]:
    k = offset
    while True:
        yield interval.after(anchor, k)
        k += 1


def loading_reviews(plan: PlanFacts, *, until: date) -> list[date]:
    """While alternate-day loading runs, a clinician review every ``loading_review_days`` from the start (each
    on the next open day)."""
    if plan.loading_pattern != ALTERNATE_DAYS or plan.reviews is None:
        return []
    return [plan.open_day(day) for day in loading_review_nominal(plan, until=until)]


def loading_review_nominal(plan: PlanFacts, *, until: date) -> list[date]:
    step = timedelta(days=plan.reviews.loading_review_days)
    end = min(until, plan.loading_ended_on) if plan.loading_ended_on else until
    reviews, day = [], plan.start + step
    while day <= end:
        reviews.append(day)
        day += step
    return reviews


@dataclass(frozen=True, slots=True)
class Visit:
    on: date
    kind: str  # "until_stable" (every 3 months) | "after_stable" (yearly)
    nominal: date | None = None  # the date before it moved to an open day


def monitoring_visits(plan: PlanFacts, *, until: date) -> Iterator[Visit]:
    """The plan's review visits up to ``until`` (by their day before moving), each on an open day."""
    for series, kind in zip(monitoring_series(plan), ("until_stable", "after_stable"), strict=False):
        if series is None:
            continue
        for nominal in series.dates(until=until):
            yield Visit(plan.open_day(nominal), kind, nominal)


# Results sampled this many days before a monitoring visit count as that visit's (a clinic's blood test is
# usually taken a week or two ahead of the review).
RESULTS_BEFORE_VISIT_DAYS = 14
# Visits are at most a year apart: the next one not yet done is within this of the latest of the start, the results
# and the stable date.
_NEXT_VISIT_HORIZON = timedelta(days=2 * 366)


def next_monitoring_visit(
    plan: PlanFacts, *, results_on: date | None, results_before_days: int = RESULTS_BEFORE_VISIT_DAYS
) -> Visit | None:
    """The plan's first monitoring visit not yet done: the first whose date is more than ``results_before_days``
    after the latest results (``results_on``; every visit is open when there are none). It does not depend on
    today, so it can be stored and filtered on."""
    since = max(day for day in (plan.start, results_on, plan.stable_on) if day is not None)
    for visit in monitoring_visits(plan, until=since + _NEXT_VISIT_HORIZON):
        if results_on is None or visit.on - timedelta(days=results_before_days) > results_on:
            return visit
    return None


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
    """An endless series of nominal dates: ``anchor`` + (``first`` + k × ``every``) units for k ≥ 0, up to ``until``
    if given. Each date then moves to an open day (the plan's ``open_day`` or ``dose_day``)."""

    anchor: date
    first: int  # units from the anchor to the first date
    every: int
    unit: str
    until: date | None = None

    def at(self, k: int) -> date:
        return _after(self.anchor, self.first + k * self.every, self.unit)

    @property
    def first_date(self) -> date:
        return self.at(0)

    def dates(self, *, until: date) -> Iterator[date]:
        """The nominal dates up to ``until`` (and the series' own end)."""
        end = min(until, self.until) if self.until else until
        k = 0
        while (day := self.at(k)) <= end:
            yield day
            k += 1


def maintenance_series(plan: PlanFacts, records: Sequence[DoseEvent]) -> Series | None:
    """The lifelong maintenance series, assuming the loading doses still to come are given when due.
    None while an open-ended loading course runs (its end is a clinician's decision)."""
    projected = list(records)
    for _ in range(plan.loading_doses + 1):
        dose = next_dose(plan, projected)
        if dose.phase == MAINTENANCE:
            anchor, offset = maintenance_anchor(plan, projected)
            every = plan.interval.every
            return Series(anchor, offset * every, every, plan.interval.unit)
        if plan.loading_pattern == ALTERNATE_DAYS:
            return None
        projected.append(DoseEvent(dose.phase, dose.number, dose.due))
    return None


def monitoring_series(plan: PlanFacts) -> tuple[Series | None, Series | None]:
    """(until stable, after stable): the first review ``first_months`` after the start, then every
    ``every_months_until_stable`` counted from the start (no month-end drift) up to the stable date; from the
    stable date, every ``every_months_after_stable``. Nominal dates: each visit moves to the next open day."""
    reviews = plan.reviews
    if reviews is None:
        raise ValueError("the plan's review intervals are needed for monitoring")
    before = None
    if plan.stable_on is None or add_months(plan.start, reviews.first_months) <= plan.stable_on:
        before = Series(plan.start, reviews.first_months, reviews.every_months_until_stable, MONTHS, plan.stable_on)
    after = None
    if plan.stable_on is not None:
        every = reviews.every_months_after_stable
        after = Series(plan.stable_on, every, every, MONTHS)
    return before, after
