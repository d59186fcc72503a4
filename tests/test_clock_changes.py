"""The local clock changes a session is checked against (recommender/clock_changes.py: pure Python)."""

from __future__ import annotations

from datetime import date, time
from zoneinfo import ZoneInfo

import pytest

from recommender.clock_changes import ClockChange, clock_change_on, clock_changes_across


@pytest.mark.parametrize(
    ("zone", "day", "expected"),
    [
        ("Europe/London", date(2027, 3, 28), ClockChange(date(2027, 3, 28), time(1), time(2), skipped=True)),
        ("Europe/London", date(2027, 10, 31), ClockChange(date(2027, 10, 31), time(1), time(2), skipped=False)),
        ("Europe/London", date(2027, 10, 30), None),
        ("Europe/London", date(2027, 11, 1), None),
        ("America/New_York", date(2027, 3, 14), ClockChange(date(2027, 3, 14), time(2), time(3), skipped=True)),
        ("Australia/Lord_Howe", date(2027, 4, 4), ClockChange(date(2027, 4, 4), time(1, 30), time(2), skipped=False)),
        # Changes at midnight: the hours are the day's own (Havana repeats 00:00–01:00; Santiago 23:00–24:00 the
        # evening before its change).
        ("America/Havana", date(2027, 11, 7), ClockChange(date(2027, 11, 7), time(0), time(1), skipped=False)),
        ("America/Santiago", date(2027, 4, 3), ClockChange(date(2027, 4, 3), time(23), time.max, skipped=False)),
        ("America/Santiago", date(2027, 4, 4), None),
        ("UTC", date(2027, 3, 28), None),
    ],
)
def test_the_hours_skipped_or_repeated_on_a_clock_change(zone, day, expected):
    assert clock_change_on(day, ZoneInfo(zone)) == expected


def test_only_the_sessions_hours_and_weekday_count():
    london = ZoneInfo("Europe/London")
    year = {"zone": london, "first": date(2027, 1, 1), "days": 365}
    assert [c.day for c in clock_changes_across(start=time(0, 30), end=time(3), weekday=6, **year)] == [
        date(2027, 3, 28),
        date(2027, 10, 31),
    ]
    assert clock_changes_across(start=time(9), end=time(12), weekday=6, **year) == []
    assert clock_changes_across(start=time(0, 30), end=time(3), weekday=5, **year) == []
    assert clock_changes_across(start=time(0), end=time(1), weekday=6, **year) == [], "ends as the change begins"
    assert len(clock_changes_across(start=time(1, 59), end=time(2, 30), **year)) == 2
    assert clock_changes_across(start=time(0, 30), end=time(3), zone=london, first=date(2027, 3, 29), days=7) == []


@pytest.mark.parametrize("day", [date.min, date.max, date(9999, 12, 30)])
def test_the_first_and_last_dates_a_date_can_be_are_not_a_crash(day):
    """Found in review: a session valid from 31/12/9999 (or an extra one dated 01/01/0001) was a 500 in the admin."""
    assert clock_change_on(day, ZoneInfo("Europe/London")) is None
    assert (
        clock_changes_across(start=time(0), end=time(23), zone=ZoneInfo("Pacific/Kiritimati"), first=day, days=366)
        == []
    )
