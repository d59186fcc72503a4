"""The local clock changes: the wall-clock hours a time zone skips (spring) or repeats (autumn). A clinic session
that runs across one would have slots that do not exist or that happen twice, so sessions are refused there.
Pure Python (zoneinfo)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo


@dataclass(frozen=True, slots=True)
class ClockChange:
    day: date
    start: time  # the wall-clock hours skipped or repeated: start ≤ t < end
    end: time
    skipped: bool  # spring: the hours do not exist; autumn: they happen twice


def clock_change_on(day: date, zone: tzinfo) -> ClockChange | None:
    """The clock change of ``day`` in ``zone``, if the clocks change that day (a change at midnight included: its
    hours are cut to the day's)."""
    step = timedelta(minutes=15)  # zones change on a quarter hour
    try:
        at = datetime.combine(day - timedelta(days=1), time(12), zone).astimezone(UTC)
        until = datetime.combine(day + timedelta(days=1), time(12), zone).astimezone(UTC)
    except OverflowError:  # the first or last day a date can be: no clock change to speak of
        return None
    before = at.astimezone(zone).utcoffset()
    if before == until.astimezone(zone).utcoffset():
        return None
    while (at + step).astimezone(zone).utcoffset() == before:
        at += step
    changed = at + step
    after = changed.astimezone(zone).utcoffset()
    walls = sorted(((changed + before).replace(tzinfo=None), (changed + after).replace(tzinfo=None)))
    lo, hi = max(walls[0], datetime.combine(day, time.min)), min(walls[1], datetime.combine(day, time.max))
    if lo >= hi:
        return None  # the change is the day before's or the day after's
    return ClockChange(day, lo.time(), hi.time() if hi.date() == day else time.max, skipped=after > before)


def clock_changes_across(
    *, start: time, end: time, zone: tzinfo, first: date, days: int, weekday: int | None = None
) -> list[ClockChange]:
    """The clock changes in the ``days`` from ``first`` (on ``weekday`` only, when given) during ``start``–``end``."""
    out = []
    for n in range(min(days, (date.max - first).days + 1)):
        day = first + timedelta(days=n)
        if weekday is not None and day.weekday() != weekday:
            continue
        change = clock_change_on(day, zone)
        if change is not None and start < change.end and end > change.start:
            out.append(change)
    return out
