"""Schedule generation (issue 4): loading days, maintenance intervals, monitoring visits. Pure Python, no database.

Properties hold for arbitrary start dates, clinic-day sets and recorded doses (given late, early or not at all);
the examples pin the clinical cases the issue names.
"""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.guideline import DEFAULT_RULESET
from recommender.guideline.schedule import (
    ALTERNATE_DAYS,
    DAYS,
    EVERY_DAY,
    LOADING,
    MAINTENANCE,
    MONDAY_TO_FRIDAY,
    MONTHS,
    THREE_TIMES_WEEKLY,
    WEEKS,
    DoseEvent,
    DueDose,
    Interval,
    PlanFacts,
    Reviews,
    add_months,
    fixed_loading_dates,
    is_open,
    loading_reviews,
    maintenance_anchor,
    monitoring_visits,
    next_dose,
    next_monitoring_visit,
    next_open_day,
    upcoming_doses,
)

PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)
# The properties over recorded doses search a larger space (plan, then each record's date and outcome).
RECORDS_SETTINGS = settings(max_examples=300, deadline=None)

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
MONDAY = date(2027, 1, 4)  # a Monday
MONTHLY = Interval(1, MONTHS)
THREE_MONTHLY = Interval(3, MONTHS)
_MON = DEFAULT_RULESET.monitoring
# The ruleset's review intervals (first review at 3 months, as outside pregnancy).
REVIEWS = Reviews(
    first_months=_MON.every_months_until_stable,
    every_months_until_stable=_MON.every_months_until_stable,
    every_months_after_stable=_MON.every_months_after_stable,
    loading_review_days=DEFAULT_RULESET.neuro_loading_review_days,
)


def visits_of(start: date, stable_on: date | None, *, until: date, first_months: int | None = None):
    """Monitoring visits of a plan whose clinic is open every day (month arithmetic only, nothing moves)."""
    reviews = REVIEWS if first_months is None else Reviews(first_months, *REVIEWS_TAIL)
    plan = PlanFacts(start, "", THREE_MONTHLY, clinic_days=EVERY_DAY, reviews=reviews, stable_on=stable_on)
    return monitoring_visits(plan, until=until)


REVIEWS_TAIL = (REVIEWS.every_months_until_stable, REVIEWS.every_months_after_stable, REVIEWS.loading_review_days)

# ---------------------------------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------------------------------

start_dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2098, 12, 31))
clinic_day_sets = st.frozensets(st.integers(min_value=0, max_value=6), min_size=3)
intervals = st.one_of(
    st.builds(Interval, st.integers(min_value=1, max_value=30), st.just(DAYS)),
    st.builds(Interval, st.integers(min_value=1, max_value=8), st.just(WEEKS)),
    st.builds(Interval, st.integers(min_value=1, max_value=6), st.just(MONTHS)),
)

loading_ended_after = st.none() | st.integers(min_value=0, max_value=120)  # days after the start; None: still running
record_shifts = st.integers(min_value=-3, max_value=9)  # days early (negative) or late
record_given = st.sampled_from([True, True, True, False])


@st.composite
def plans(draw, patterns=("", THREE_TIMES_WEEKLY, ALTERNATE_DAYS)) -> PlanFacts:
    start = draw(start_dates)
    pattern = draw(st.sampled_from(patterns))
    ended = None
    if pattern == ALTERNATE_DAYS and (ended_after := draw(loading_ended_after)) is not None:
        ended = start + timedelta(days=ended_after)
    return PlanFacts(
        start=start,
        loading_pattern=pattern,
        interval=draw(intervals),
        loading_ended_on=ended,
        clinic_days=draw(clinic_day_sets),
    )


@st.composite
def recorded_doses(draw, plan: PlanFacts, *, max_doses: int = 14) -> list[DoseEvent]:
    """Doses recorded one after another, each near the date the schedule asked for: on time, early or late, given
    or not given. Each record falls on an open clinic day, after the previous record and not before the start."""
    records: list[DoseEvent] = []
    for _ in range(draw(st.integers(min_value=0, max_value=max_doses))):
        due = next_dose(plan, records)
        on = due.due + timedelta(days=draw(record_shifts))
        floor = records[-1].on + timedelta(days=1) if records else plan.start
        on = next_open_day(max(on, floor), plan.clinic_days)
        was_given = draw(record_given)
        records.append(DoseEvent(due.phase, due.number, on, was_given))
    return records


def month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


# ---------------------------------------------------------------------------------------------------------------------
# Properties: ordering
# ---------------------------------------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(plans())
def test_upcoming_doses_strictly_increasing_without_records(plan):
    doses = upcoming_doses(plan, [], until=plan.start + timedelta(days=400), limit=30)
    assert doses, "a lifelong plan always has a next dose"
    dues = [d.due for d in doses]
    assert all(a < b for a, b in pairwise(dues)), dues


@pytest.mark.parametrize("pattern", ["", THREE_TIMES_WEEKLY, ALTERNATE_DAYS])
@RECORDS_SETTINGS
@given(data=st.data())
def test_upcoming_doses_strictly_increasing_with_records_given_late_early_or_not(pattern, data):
    plan = data.draw(plans(patterns=(pattern,)))
    records = data.draw(recorded_doses(plan))
    last = records[-1].on if records else plan.start
    doses = upcoming_doses(plan, records, until=last + timedelta(days=400), limit=30)
    assert doses
    dues = [d.due for d in doses]
    assert all(a < b for a, b in pairwise(dues)), (plan, records, doses)


@pytest.mark.parametrize("pattern", ["", THREE_TIMES_WEEKLY, ALTERNATE_DAYS])
@RECORDS_SETTINGS
@given(data=st.data())
def test_next_dose_falls_after_every_recorded_dose(pattern, data):
    """Doses are strictly ordered across what was recorded and what is due: nothing is scheduled on or before a day
    a dose was already recorded (never two on one day, never a dose due in the past of the record)."""
    plan = data.draw(plans(patterns=(pattern,)))
    records = data.draw(recorded_doses(plan))
    if not records:
        return
    last = records[-1].on
    doses = upcoming_doses(plan, records, until=last + timedelta(days=400), limit=1)
    assert doses
    assert doses[0].due > last, (plan, records, doses[0])
    assert next_dose(plan, records).due > last, (plan, records, next_dose(plan, records))


@PROPERTY_SETTINGS
@given(st.data())
def test_upcoming_loading_doses_fall_on_open_days(data):
    plan = data.draw(plans(patterns=(THREE_TIMES_WEEKLY, ALTERNATE_DAYS)))
    records = data.draw(recorded_doses(plan))
    last = records[-1].on if records else plan.start
    for dose in upcoming_doses(plan, records, until=last + timedelta(days=100), limit=30):
        if dose.phase == LOADING:
            assert dose.due.weekday() in plan.clinic_days, (plan, records, dose)


@PROPERTY_SETTINGS
@given(st.data())
def test_dose_numbers_count_up_within_each_phase(data):
    plan = data.draw(plans())
    records = data.draw(recorded_doses(plan))
    last = records[-1].on if records else plan.start
    doses = upcoming_doses(plan, records, until=last + timedelta(days=400), limit=30)
    for phase in (LOADING, MAINTENANCE):
        numbers = [d.number for d in doses if d.phase == phase]
        first = sum(1 for r in records if r.phase == phase and r.given) + 1
        assert numbers == list(range(first, first + len(numbers)))
    phases = [d.phase for d in doses]
    assert phases == sorted(phases, key=lambda p: p == MAINTENANCE), "loading comes before maintenance"


# ---------------------------------------------------------------------------------------------------------------------
# Properties: loading without neurological involvement (three times weekly for two weeks)
# ---------------------------------------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(start_dates, clinic_day_sets)
def test_fixed_loading_six_doses_in_two_weeks_three_a_week_on_open_days(start, clinic_days):
    days = fixed_loading_dates(start, clinic_days)
    first = days[0]
    assert len(days) == 6
    assert first == next_open_day(start, clinic_days), "the course begins on the first open day"
    assert all(0 <= (d - first).days < 14 for d in days), "within 14 days of the first"
    assert len(set(days)) == 6, "one a day at most"
    assert days == sorted(days)
    for week in range(2):
        in_week = [d for d in days if 7 * week <= (d - first).days < 7 * (week + 1)]
        assert len(in_week) <= 3
    assert all(d.weekday() in clinic_days for d in days), "none on a closed day"


@PROPERTY_SETTINGS
@given(start_dates, clinic_day_sets, intervals)
def test_fixed_loading_course_then_maintenance_through_upcoming(start, clinic_days, interval):
    plan = PlanFacts(start, THREE_TIMES_WEEKLY, interval, clinic_days=clinic_days)
    doses = upcoming_doses(plan, [], until=start + timedelta(days=400))
    loading = [d for d in doses if d.phase == LOADING]
    assert [d.due for d in loading] == fixed_loading_dates(start, clinic_days)
    assert [d.number for d in loading] == [1, 2, 3, 4, 5, 6]
    maintenance = [d for d in doses if d.phase == MAINTENANCE]
    assert maintenance[0].due == next_open_day(interval.after(loading[-1].due), clinic_days)


@PROPERTY_SETTINGS
@given(start_dates, st.frozensets(st.integers(min_value=0, max_value=6), min_size=1, max_size=2))
def test_fixed_loading_needs_three_clinic_days(start, clinic_days):
    with pytest.raises(ValueError):
        fixed_loading_dates(start, clinic_days)


# ---------------------------------------------------------------------------------------------------------------------
# Properties: maintenance never skips a cycle
# ---------------------------------------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(start_dates, st.integers(min_value=1, max_value=3))
def test_maintenance_never_skips_a_cycle_across_month_ends_and_leap_years(anchor, n):
    plan = PlanFacts(anchor - timedelta(days=400), "", Interval(n, MONTHS), clinic_days=EVERY_DAY)
    records = [DoseEvent(MAINTENANCE, 1, anchor)]
    until = anchor + relativedelta(years=6)
    doses = upcoming_doses(plan, records, until=until, limit=100)
    dues = [d.due for d in doses]
    expected = []
    k = 1
    while (day := anchor + relativedelta(months=k * n)) <= until:
        expected.append(day)
        k += 1
    assert dues == expected
    assert next_dose(plan, records).due == dues[0]
    # Every run of n calendar months, from the anchor's month to the last projected month, holds exactly one dose.
    months = [month_index(anchor)] + [month_index(d) for d in dues]
    for window_start in range(months[0], months[-1] - n + 2):
        inside = [m for m in months if window_start <= m < window_start + n]
        assert len(inside) == 1, (anchor, n, window_start, dues)


@PROPERTY_SETTINGS
@given(start_dates, st.integers(min_value=1, max_value=3), st.integers(min_value=-10, max_value=20))
def test_maintenance_follows_last_dose_actually_given(anchor, n, shift):
    """A dose given early or late moves the series: the next is n months after the day it was actually given."""
    interval = Interval(n, MONTHS)
    plan = PlanFacts(anchor - timedelta(days=400), "", interval, clinic_days=frozenset(range(7)))
    first = [DoseEvent(MAINTENANCE, 1, anchor)]
    second_due = next_dose(plan, first).due
    given_on = second_due + timedelta(days=shift)
    records = [*first, DoseEvent(MAINTENANCE, 2, given_on)]
    due = next_dose(plan, records)
    assert due == next_dose(plan, list(reversed(records))), "records may come in any order"
    assert due.phase == MAINTENANCE and due.number == 3
    assert due.due == given_on + relativedelta(months=n)
    assert maintenance_anchor(plan, records) == (given_on, 1)


# ---------------------------------------------------------------------------------------------------------------------
# Properties: monitoring
# ---------------------------------------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(start_dates, st.none() | st.integers(min_value=0, max_value=2000), st.integers(min_value=0, max_value=4000))
def test_monitoring_three_monthly_until_stable_then_yearly(start, stable_after, horizon):
    stable_on = None if stable_after is None else start + timedelta(days=stable_after)
    until = start + timedelta(days=horizon)
    visits = list(visits_of(start, stable_on, until=until))
    quarterly = [v.on for v in visits if v.kind == "until_stable"]
    yearly = [v.on for v in visits if v.kind == "after_stable"]
    assert {v.kind for v in visits} <= {"until_stable", "after_stable"}
    assert visits == sorted(visits, key=lambda v: v.on)
    assert all(v.on <= until for v in visits)

    end = until if stable_on is None else min(until, stable_on)
    expected_quarterly = []
    k = 1
    while (day := start + relativedelta(months=3 * k)) <= end:
        expected_quarterly.append(day)
        k += 1
    assert quarterly == expected_quarterly
    if stable_on is None:
        assert yearly == []
        return
    assert all(day <= stable_on for day in quarterly), "no 3-monthly visit after the stable date"
    assert all(day > stable_on for day in yearly)
    expected_yearly = []
    k = 1
    while (day := stable_on + relativedelta(months=12 * k)) <= until:
        expected_yearly.append(day)
        k += 1
    assert yearly == expected_yearly
    if yearly:
        assert yearly[0] == stable_on + relativedelta(months=12), "the first yearly visit is 12 months after stable"
    assert all(month_index(b) - month_index(a) == 12 for a, b in pairwise(yearly))


# ---------------------------------------------------------------------------------------------------------------------
# Examples: loading without neurological involvement
# ---------------------------------------------------------------------------------------------------------------------


def weekdays(days: list[date]) -> list[int]:
    return [d.weekday() for d in days]


def test_monday_start_gives_mon_wed_fri_twice():
    days = fixed_loading_dates(MONDAY)
    assert days == [
        date(2027, 1, 4),
        date(2027, 1, 6),
        date(2027, 1, 8),
        date(2027, 1, 11),
        date(2027, 1, 13),
        date(2027, 1, 15),
    ]
    assert weekdays(days) == [MON, WED, FRI] * 2


def test_saturday_start_begins_the_next_monday():
    saturday = date(2027, 1, 2)
    assert saturday.weekday() == SAT
    days = fixed_loading_dates(saturday)
    assert days[0] == MONDAY
    assert weekdays(days) == [MON, WED, FRI] * 2
    assert days == fixed_loading_dates(MONDAY)


def test_default_clinic_days_are_monday_to_friday():
    assert frozenset({MON, TUE, WED, THU, FRI}) == MONDAY_TO_FRIDAY
    assert PlanFacts(MONDAY, THREE_TIMES_WEEKLY, MONTHLY).clinic_days == MONDAY_TO_FRIDAY


def test_clinic_days_are_configurable():
    tue_thu_sat = frozenset({TUE, THU, SAT})
    days = fixed_loading_dates(MONDAY, tue_thu_sat)
    assert weekdays(days) == [TUE, THU, SAT] * 2
    assert days[0] == date(2027, 1, 5)


def test_next_dose_walks_the_fixed_course():
    plan = PlanFacts(MONDAY, THREE_TIMES_WEEKLY, THREE_MONTHLY)
    records: list[DoseEvent] = []
    for number, day in enumerate(fixed_loading_dates(MONDAY), start=1):
        due = next_dose(plan, records)
        assert (due.phase, due.number, due.due) == (LOADING, number, day)
        records.append(DoseEvent(LOADING, number, day))
    assert next_dose(plan, records) == next_dose(plan, records[::-1])
    due = next_dose(plan, records)
    assert (due.phase, due.number, due.due) == (MAINTENANCE, 1, date(2027, 4, 15))


def test_fixed_course_a_missed_dose_is_rebooked_under_its_number_and_the_rhythm_continues():
    plan = PlanFacts(MONDAY, THREE_TIMES_WEEKLY, THREE_MONTHLY)
    records = [
        DoseEvent(LOADING, 1, date(2027, 1, 4)),
        DoseEvent(LOADING, 2, date(2027, 1, 6), given=False),
    ]
    due = next_dose(plan, records)
    assert (due.phase, due.number, due.due) == (LOADING, 2, date(2027, 1, 7))  # offered again the next day
    doses = upcoming_doses(plan, records, until=date(2027, 12, 31))
    loading = [d for d in doses if d.phase == LOADING]
    assert [d.number for d in loading] == [2, 3, 4, 5, 6]
    # One clear day between doses, never more than 3 in 7 days: Thu 7, Mon 11, Wed 13, Fri 15, Mon 18.
    assert [d.due for d in loading] == [date(2027, 1, d) for d in (7, 11, 13, 15, 18)]
    maintenance = [d for d in doses if d.phase == MAINTENANCE]
    assert [d.due for d in maintenance[:3]] == [date(2027, 4, 19), date(2027, 7, 19), date(2027, 10, 18)]


def test_defect_dose_3_missed_then_three_more_given_is_still_loading_with_dose_6_of_6_due():
    """Issue 10, defect 1: doses 1 and 2 given, dose 3 missed, then three more given: 5 given, so loading goes on."""
    plan = PlanFacts(MONDAY, THREE_TIMES_WEEKLY, THREE_MONTHLY)
    records: list[DoseEvent] = []
    for was_given in (True, True, False, True, True, True):
        due = next_dose(plan, records)
        records.append(DoseEvent(due.phase, due.number, due.due, was_given))
    assert [(r.number, r.given) for r in records] == [(1, True), (2, True), (3, False), (3, True), (4, True), (5, True)]
    due = next_dose(plan, records)
    assert (due.phase, due.number) == (LOADING, 6)
    records.append(DoseEvent(due.phase, due.number, due.due))
    assert sum(r.given for r in records) == 6
    assert next_dose(plan, records).phase == MAINTENANCE


def test_defect_a_held_first_dose_leaves_loading_1_of_6_next():
    plan = PlanFacts(MONDAY, THREE_TIMES_WEEKLY, THREE_MONTHLY)
    due = next_dose(plan, [DoseEvent(LOADING, 1, MONDAY, given=False)])
    assert (due.phase, due.number, due.due) == (LOADING, 1, date(2027, 1, 5))


def test_defect_first_dose_a_week_late_never_crowds_five_doses_into_seven_days():
    """Issue 10, defect 2: the first dose given a week late; the rest keep one clear day and three a week."""
    plan = PlanFacts(MONDAY, THREE_TIMES_WEEKLY, THREE_MONTHLY)
    records = [DoseEvent(LOADING, 1, MONDAY + timedelta(days=7))]
    while (due := next_dose(plan, records)).phase == LOADING:
        records.append(DoseEvent(due.phase, due.number, due.due))
    days = [r.on for r in records]
    assert days == [date(2027, 1, d) for d in (11, 13, 15, 18, 20, 22)]
    assert all((b - a).days >= 2 for a, b in pairwise(days))
    assert max(sum(1 for d in days if first <= d < first + timedelta(days=7)) for first in days) == 3


def test_defect_missed_dose_3_recorded_late_gives_no_three_days_in_a_row():
    plan = PlanFacts(MONDAY, THREE_TIMES_WEEKLY, THREE_MONTHLY)
    records = [
        DoseEvent(LOADING, 1, date(2027, 1, 4)),
        DoseEvent(LOADING, 2, date(2027, 1, 6)),
        DoseEvent(LOADING, 3, date(2027, 1, 11), given=False),  # due Fri 8th, recorded missed on Monday
    ]
    while (due := next_dose(plan, records)).phase == LOADING:
        records.append(DoseEvent(due.phase, due.number, due.due))
    given = [r.on for r in records if r.given]
    assert len(given) == 6
    assert all((b - a).days >= 2 for a, b in pairwise(given)), given


@pytest.mark.parametrize(
    "first",
    [
        DoseEvent(LOADING, 1, date(2027, 1, 6)),  # due Monday 4th, given two days late (Wednesday)
        DoseEvent(LOADING, 1, date(2027, 1, 7)),  # given three days late (Thursday)
        DoseEvent(LOADING, 1, date(2027, 1, 7), given=False),  # recorded as not given on Thursday
        DoseEvent(LOADING, 1, date(2027, 1, 8), given=False),  # recorded as not given on Friday
    ],
    ids=["given-wed", "given-thu", "not-given-thu", "not-given-fri"],
)
def test_fixed_course_after_a_late_record_keeps_doses_in_order_one_a_day(first):
    plan = PlanFacts(MONDAY, THREE_TIMES_WEEKLY, THREE_MONTHLY)
    due = next_dose(plan, [first])
    assert due.due > first.on, f"dose 2 due {due.due} is not after dose 1 recorded on {first.on}"
    dues = [d.due for d in upcoming_doses(plan, [first], until=date(2027, 12, 31))]
    assert all(a < b for a, b in pairwise(dues)), dues


def test_fixed_course_whose_last_dose_is_missed_offers_it_again_then_maintenance_follows_it():
    plan = PlanFacts(MONDAY, THREE_TIMES_WEEKLY, THREE_MONTHLY)
    days = fixed_loading_dates(MONDAY)
    records = [DoseEvent(LOADING, i, day, given=i != 6) for i, day in enumerate(days, start=1)]
    due = next_dose(plan, records)
    assert (due.phase, due.number, due.due) == (LOADING, 6, date(2027, 1, 18))
    records.append(DoseEvent(LOADING, 6, date(2027, 1, 18)))
    due = next_dose(plan, records)
    assert (due.phase, due.number, due.due) == (MAINTENANCE, 1, date(2027, 4, 19))  # Sun 18 April: Monday


# ---------------------------------------------------------------------------------------------------------------------
# Examples: alternate-day loading (neurological involvement)
# ---------------------------------------------------------------------------------------------------------------------


def alternate(start: date = MONDAY, ended: date | None = None, **kw) -> PlanFacts:
    interval = kw.pop("interval", Interval(2, MONTHS))
    return PlanFacts(start, ALTERNATE_DAYS, interval, loading_ended_on=ended, reviews=REVIEWS, **kw)


def test_alternate_day_dose_due_saturday_moves_to_monday_and_next_is_wednesday():
    thursday = date(2027, 1, 7)
    plan = alternate(thursday)
    doses = upcoming_doses(plan, [], until=date(2027, 1, 20))
    assert [d.due for d in doses[:4]] == [thursday, date(2027, 1, 11), date(2027, 1, 13), date(2027, 1, 15)]
    assert weekdays([d.due for d in doses[:4]]) == [THU, MON, WED, FRI]
    # The same through recorded doses: Thursday given, Saturday is closed, so Monday; then Wednesday.
    records = [DoseEvent(LOADING, 1, thursday)]
    assert next_dose(plan, records).due == date(2027, 1, 11)
    records.append(DoseEvent(LOADING, 2, date(2027, 1, 11)))
    assert next_dose(plan, records).due == date(2027, 1, 13)


def test_alternate_day_continues_from_the_dose_actually_given():
    plan = alternate(MONDAY)
    # Dose 2 was due Wednesday 6th and given a day late, on Thursday 7th: dose 3 is two days after that.
    records = [DoseEvent(LOADING, 1, MONDAY), DoseEvent(LOADING, 2, date(2027, 1, 7))]
    due = next_dose(plan, records)
    assert (due.phase, due.number, due.due) == (LOADING, 3, date(2027, 1, 11))  # Thu + 2 = Sat, closed: Monday
    # Given a day late on Tuesday 5th instead (due Monday): next is Thursday 7th.
    plan = alternate(date(2027, 1, 4))
    records = [DoseEvent(LOADING, 1, date(2027, 1, 5))]
    assert next_dose(plan, records).due == date(2027, 1, 7)
    # Given early: dose 2 due Wednesday, given Tuesday; next is Thursday.
    records = [DoseEvent(LOADING, 1, MONDAY), DoseEvent(LOADING, 2, date(2027, 1, 5))]
    assert next_dose(plan, records).due == date(2027, 1, 7)


def test_alternate_day_missed_dose_is_offered_again_from_the_next_open_day():
    plan = alternate(MONDAY)
    records = [DoseEvent(LOADING, 1, MONDAY), DoseEvent(LOADING, 2, date(2027, 1, 6), given=False)]
    due = next_dose(plan, records)
    assert due.phase == LOADING and due.number == 2, "a dose not given keeps its number"
    assert due.due == date(2027, 1, 7)


def test_alternate_day_loading_is_still_running_after_200_days_until_a_clinician_ends_it():
    plan = alternate(MONDAY)
    records: list[DoseEvent] = []
    while not records or records[-1].on < MONDAY + timedelta(days=200):
        due = next_dose(plan, records)
        assert due.phase == LOADING
        records.append(DoseEvent(due.phase, due.number, due.due))
    due = next_dose(plan, records)
    assert due.phase == LOADING
    assert due.number == len(records) + 1
    doses = upcoming_doses(plan, [], until=MONDAY + timedelta(days=250), limit=500)
    assert doses[-1].due > MONDAY + timedelta(days=200)
    assert {d.phase for d in doses} == {LOADING}
    assert all(d.due.weekday() in MONDAY_TO_FRIDAY for d in doses)


def test_after_loading_ended_maintenance_is_one_interval_after_the_last_loading_dose_given():
    given_days = [date(2027, 1, 4), date(2027, 1, 6), date(2027, 1, 8), date(2027, 1, 11)]
    records = [DoseEvent(LOADING, i, day) for i, day in enumerate(given_days, start=1)]
    running = alternate(MONDAY, interval=Interval(2, MONTHS))
    assert next_dose(running, records).phase == LOADING
    ended = alternate(MONDAY, ended=date(2027, 1, 12), interval=Interval(2, MONTHS))
    due = next_dose(ended, records)
    assert (due.phase, due.number, due.due) == (MAINTENANCE, 1, date(2027, 3, 11))
    doses = upcoming_doses(ended, records, until=date(2028, 1, 31))
    assert {d.phase for d in doses} == {MAINTENANCE}
    # 11 July 2027 is a Sunday: Monday 12 July; the series stays anchored on 11 January (no drift).
    assert [d.due for d in doses[:4]] == [date(2027, 3, 11), date(2027, 5, 11), date(2027, 7, 12), date(2027, 9, 13)]
    assert [d.due for d in doses[4:6]] == [date(2027, 11, 11), date(2028, 1, 11)]
    # A final loading dose recorded as not given: maintenance still follows the last dose actually given.
    missed = [*records, DoseEvent(LOADING, 5, date(2027, 1, 13), given=False)]
    assert next_dose(ended, missed).due == date(2027, 3, 11)


def test_reviews_every_two_weeks_while_alternate_day_loading_runs():
    plan = alternate(MONDAY)
    reviews = loading_reviews(plan, until=MONDAY + timedelta(days=70))
    assert reviews == [MONDAY + timedelta(days=14 * k) for k in range(1, 6)]
    assert loading_reviews(plan, until=MONDAY + timedelta(days=13)) == []


def test_no_reviews_after_loading_ended():
    ended_on = MONDAY + timedelta(days=35)
    plan = alternate(MONDAY, ended=ended_on)
    reviews = loading_reviews(plan, until=MONDAY + timedelta(days=365))
    assert reviews == [MONDAY + timedelta(days=14), MONDAY + timedelta(days=28)]
    assert all(day <= ended_on for day in reviews)


def test_no_reviews_for_a_fixed_course_or_no_loading():
    for pattern in (THREE_TIMES_WEEKLY, ""):
        plan = PlanFacts(MONDAY, pattern, THREE_MONTHLY)
        assert loading_reviews(plan, until=MONDAY + timedelta(days=365)) == []


# ---------------------------------------------------------------------------------------------------------------------
# Examples: month arithmetic and maintenance
# ---------------------------------------------------------------------------------------------------------------------


def test_31_january_plus_one_month_is_the_last_day_of_february():
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert MONTHLY.after(date(2027, 1, 31)) == date(2027, 2, 28)
    assert MONTHLY.after(date(2028, 1, 31)) == date(2028, 2, 29)
    assert add_months(date(2028, 2, 29), 12) == date(2029, 2, 28)


def test_monthly_series_from_31_january_does_not_drift():
    plan = PlanFacts(date(2026, 12, 1), "", MONTHLY, clinic_days=EVERY_DAY)
    records = [DoseEvent(MAINTENANCE, 1, date(2027, 1, 31))]
    doses = upcoming_doses(plan, records, until=date(2027, 6, 30))
    assert [d.due for d in doses] == [
        date(2027, 2, 28),
        date(2027, 3, 31),
        date(2027, 4, 30),
        date(2027, 5, 31),
        date(2027, 6, 30),
    ]


def test_maintenance_without_loading_starts_on_the_start_date():
    plan = PlanFacts(MONDAY, "", THREE_MONTHLY)
    due = next_dose(plan, [])
    assert (due.phase, due.number, due.due) == (MAINTENANCE, 1, MONDAY)
    doses = upcoming_doses(plan, [], until=date(2027, 12, 31))
    # 4 April and 4 July 2027 are Sundays: the next Mondays.
    assert [d.due for d in doses] == [MONDAY, date(2027, 4, 5), date(2027, 7, 5), date(2027, 10, 4)]


def test_missed_maintenance_dose_is_offered_again_from_the_next_open_day():
    plan = PlanFacts(date(2026, 12, 1), "", MONTHLY)
    given_on = date(2027, 1, 4)
    records = [DoseEvent(MAINTENANCE, 1, given_on)]
    assert next_dose(plan, records).due == date(2027, 2, 4)  # Thursday
    # Recorded as not given on Friday 5 February: offered again from Monday 8 February (the next open day after).
    records.append(DoseEvent(MAINTENANCE, 2, date(2027, 2, 5), given=False))
    due = next_dose(plan, records)
    assert due.phase == MAINTENANCE
    assert due.due == date(2027, 2, 8)
    doses = upcoming_doses(plan, records, until=date(2027, 5, 31))
    # 8 May 2027 is a Saturday: Monday 10 May.
    assert [d.due for d in doses] == [date(2027, 2, 8), date(2027, 3, 8), date(2027, 4, 8), date(2027, 5, 10)]


def test_missed_maintenance_recorded_on_an_open_day_is_offered_the_next_day():
    plan = PlanFacts(date(2026, 12, 1), "", MONTHLY)
    records = [
        DoseEvent(MAINTENANCE, 1, date(2027, 1, 4)),
        DoseEvent(MAINTENANCE, 2, date(2027, 2, 4), given=False),  # Thursday
    ]
    assert next_dose(plan, records).due == date(2027, 2, 5)


def test_defect_maintenance_due_on_sunday_14_february_2027_moves_to_monday_15_february():
    """Issue 10, defect 4: a maintenance dose fell on a Sunday. It moves to the next open day and says why; the
    series stays anchored on the dose given (the next is 14 March, a Sunday too: Monday 15 March)."""
    plan = PlanFacts(date(2026, 11, 2), "", MONTHLY)
    records = [DoseEvent(MAINTENANCE, 1, date(2027, 1, 14))]
    due = next_dose(plan, records)
    assert date(2027, 2, 14).weekday() == SUN
    assert due.due == date(2027, 2, 15)
    assert "Sun 14 Feb 2027" in due.note
    doses = upcoming_doses(plan, records, until=date(2027, 5, 31))
    assert [d.due for d in doses] == [date(2027, 2, 15), date(2027, 3, 15), date(2027, 4, 14), date(2027, 5, 14)]


def test_maintenance_on_a_public_holiday_moves_past_it():
    closures = {date(2026, 12, 25): "Christmas Day", date(2026, 12, 28): "Boxing Day (substitute day)"}
    plan = PlanFacts(date(2026, 9, 1), "", MONTHLY, closures=closures)
    due = next_dose(plan, [DoseEvent(MAINTENANCE, 1, date(2026, 11, 25))])
    assert due.due == date(2026, 12, 29)  # Fri 25 closed, weekend, Mon 28 closed
    assert "Christmas Day" in due.note


def test_individualised_interval_every_day():
    plan = PlanFacts(date(2026, 12, 1), "", Interval(1, DAYS))
    records = [DoseEvent(MAINTENANCE, 1, date(2027, 1, 7))]  # Thursday
    assert next_dose(plan, records).due == date(2027, 1, 8)
    doses = upcoming_doses(plan, records, until=date(2027, 1, 12))
    assert [d.due for d in doses] == [date(2027, 1, d) for d in (8, 11, 12)]  # the weekend's doses: Monday, once
    every_day = PlanFacts(date(2026, 12, 1), "", Interval(1, DAYS), doses_on_closed_days=True)
    doses = upcoming_doses(every_day, records, until=date(2027, 1, 12))
    assert [d.due for d in doses] == [date(2027, 1, d) for d in range(8, 13)]  # weekend included


def test_individualised_interval_every_two_weeks():
    plan = PlanFacts(date(2026, 12, 1), "", Interval(2, WEEKS))
    records = [DoseEvent(MAINTENANCE, 1, MONDAY)]
    assert next_dose(plan, records).due == date(2027, 1, 18)
    doses = upcoming_doses(plan, records, until=date(2027, 3, 1))
    assert [d.due for d in doses] == [MONDAY + timedelta(weeks=2 * k) for k in range(1, 5)]


def test_individualised_interval_every_n_months():
    plan = PlanFacts(date(2026, 12, 1), "", Interval(2, MONTHS))
    records = [DoseEvent(MAINTENANCE, 1, date(2027, 12, 31))]
    doses = upcoming_doses(plan, records, until=date(2028, 6, 30))
    assert [d.due for d in doses] == [date(2028, 2, 29), date(2028, 5, 1), date(2028, 6, 30)]  # Sun 30 April


@pytest.mark.parametrize(("every", "unit"), [(0, DAYS), (-1, MONTHS), (1, "years"), (1, "")])
def test_not_an_interval(every, unit):
    with pytest.raises(ValueError):
        Interval(every, unit)


def test_next_open_day_needs_a_clinic_day():
    with pytest.raises(ValueError):
        next_open_day(MONDAY, frozenset())
    assert next_open_day(date(2027, 1, 2), MONDAY_TO_FRIDAY) == MONDAY
    assert next_open_day(MONDAY, MONDAY_TO_FRIDAY) == MONDAY


# ---------------------------------------------------------------------------------------------------------------------
# Examples: monitoring
# ---------------------------------------------------------------------------------------------------------------------


def test_monitoring_every_three_months_until_stable():
    visits = list(visits_of(date(2027, 1, 31), None, until=date(2028, 1, 31)))
    assert [(v.on, v.kind) for v in visits] == [
        (date(2027, 4, 30), "until_stable"),
        (date(2027, 7, 31), "until_stable"),
        (date(2027, 10, 31), "until_stable"),
        (date(2028, 1, 31), "until_stable"),
    ]


def test_monitoring_yearly_after_stable():
    visits = list(visits_of(date(2027, 1, 31), date(2027, 8, 15), until=date(2030, 1, 1)))
    assert [(v.on, v.kind) for v in visits] == [
        (date(2027, 4, 30), "until_stable"),
        (date(2027, 7, 31), "until_stable"),
        (date(2028, 8, 15), "after_stable"),
        (date(2029, 8, 15), "after_stable"),
    ]


def test_monitoring_visit_on_the_stable_date_is_kept_and_none_after_it():
    visits = list(visits_of(date(2027, 1, 15), date(2027, 7, 15), until=date(2028, 12, 31)))
    assert [(v.on, v.kind) for v in visits] == [
        (date(2027, 4, 15), "until_stable"),
        (date(2027, 7, 15), "until_stable"),
        (date(2028, 7, 15), "after_stable"),
    ]


def test_monitoring_yearly_from_29_february():
    visits = list(visits_of(date(2027, 1, 1), date(2028, 2, 29), until=date(2032, 12, 31)))
    yearly = [v.on for v in visits if v.kind == "after_stable"]
    assert yearly == [date(2029, 2, 28), date(2030, 2, 28), date(2031, 2, 28), date(2032, 2, 29)]


# ---------------------------------------------------------------------------------------------------------------------
# Properties over random dose histories and random clinic calendars (issue 10)
# ---------------------------------------------------------------------------------------------------------------------

CLOSURE_SPAN_DAYS = 240


@st.composite
def clinic_plans(draw, pattern: str, *, doses_on_closed_days=None) -> PlanFacts:
    """A plan at a clinic with random weekdays (at least three) and random closures over the months it runs."""
    start = draw(st.dates(min_value=date(2020, 1, 1), max_value=date(2040, 12, 31)))
    offsets = draw(st.lists(st.integers(min_value=0, max_value=CLOSURE_SPAN_DAYS), max_size=40))
    closures = {start + timedelta(days=o): f"closure {o}" for o in offsets}
    if doses_on_closed_days is None:
        doses_on_closed_days = draw(st.booleans())
    return PlanFacts(
        start=start,
        loading_pattern=pattern,
        interval=draw(intervals),
        clinic_days=draw(clinic_day_sets),
        closures=closures,
        doses_on_closed_days=doses_on_closed_days,
        reviews=REVIEWS,
    )


def record_history(draw, plan: PlanFacts, *, steps: int, early: bool, stop_at_maintenance: bool = False):
    """Doses recorded one after another: each given (on or after a random day near its due date) or not given.
    Returns the records and, for each, the DueDose the schedule offered before it."""
    records: list[DoseEvent] = []
    offered: list[DueDose] = []
    for _ in range(steps):
        due = next_dose(plan, records)
        if stop_at_maintenance and due.phase == MAINTENANCE:
            break
        was_given = draw(st.sampled_from([True, True, True, False]))
        shift = draw(st.integers(min_value=-3 if early else 0, max_value=9))
        floor = records[-1].on + timedelta(days=1) if records else plan.start
        on = max(due.due + timedelta(days=shift), floor)
        if was_given:
            on = plan.dose_day(on)  # a dose is given on a day injections are given
        offered.append(due)
        records.append(DoseEvent(due.phase, due.number, on, was_given))
    return records, offered


@PROPERTY_SETTINGS
@given(st.data())
def test_property_fixed_loading_ends_with_exactly_six_given_never_two_a_day_never_four_in_seven(data):
    plan = data.draw(clinic_plans(THREE_TIMES_WEEKLY))
    records, _ = record_history(data.draw, plan, steps=60, early=False, stop_at_maintenance=True)
    if next_dose(plan, records).phase != MAINTENANCE:
        return  # the history ran out of steps before the course ended (many doses not given)
    given_days = [r.on for r in records if r.given]
    assert len(given_days) == plan.loading_doses == 6, records
    assert len(set(given_days)) == len(given_days), "never two given doses on one calendar day"
    for first in given_days:
        in_week = [d for d in given_days if first <= d < first + timedelta(days=7)]
        assert len(in_week) <= 3, (plan, records)


@pytest.mark.parametrize("pattern", ["", THREE_TIMES_WEEKLY, ALTERNATE_DAYS])
@PROPERTY_SETTINGS
@given(data=st.data())
def test_property_no_due_date_on_a_closed_day(pattern, data):
    """Whatever was given, missed, late or early: every dose offered falls on a day injections are given, every
    review and visit on an open day, and nothing is due on or before a day already recorded."""
    plan = data.draw(clinic_plans(pattern))
    records, offered = record_history(data.draw, plan, steps=20, early=True)
    for due in offered:
        assert plan.dose_day(due.due) == due.due, (plan, due)
    for before, after in pairwise(records):
        assert after.on > before.on
    last = records[-1].on if records else plan.start
    until = last + timedelta(days=200)
    for dose in upcoming_doses(plan, records, until=until, limit=40):
        assert plan.dose_day(dose.due) == dose.due, (plan, dose)
        assert dose.due > last or not records
    for review in loading_reviews(plan, until=until):
        assert is_open(review, plan.clinic_days, plan.closures), review
    for visit in monitoring_visits(plan, until=until):
        assert is_open(visit.on, plan.clinic_days, plan.closures), visit


@PROPERTY_SETTINGS
@given(st.data())
def test_property_alternate_days_are_48_hours_apart_except_across_closed_days_where_the_note_says_so(data):
    plan = data.draw(clinic_plans(ALTERNATE_DAYS))
    records: list[DoseEvent] = []
    for _ in range(30):
        due = next_dose(plan, records)
        if records:
            last = records[-1].on
            gap = (due.due - last).days
            if plan.doses_on_closed_days:
                assert gap == 2 and not due.note
            elif gap == 2:
                assert not due.note
            else:
                assert gap > 2
                assert due.note.startswith(f"{gap} days since the last dose: alternate days interrupted by")
                skipped = [last + timedelta(days=d) for d in range(2, gap)]
                assert not any(is_open(d, plan.clinic_days, plan.closures) for d in skipped), (plan, due)
        records.append(DoseEvent(due.phase, due.number, due.due))


# ---------------------------------------------------------------------------------------------------------------------
# Examples: alternate days are every 48 hours (issue 10, defects 4 and 5)
# ---------------------------------------------------------------------------------------------------------------------


def test_defect_alternate_days_with_doses_on_closed_days_gives_21_doses_in_42_days():
    plan = alternate(MONDAY, doses_on_closed_days=True)
    doses = upcoming_doses(plan, [], until=MONDAY + timedelta(days=41), limit=100)
    assert len(doses) == 21
    assert all((b.due - a.due).days == 2 for a, b in pairwise(doses))
    assert {d.due.weekday() for d in doses} == set(range(7)), "weekends included"


def test_alternate_days_at_a_weekday_clinic_move_off_the_weekend_and_say_so():
    plan = alternate(MONDAY)  # Monday to Friday, no weekend doses
    records = [DoseEvent(LOADING, n, date(2027, 1, d)) for n, d in ((1, 4), (2, 6), (3, 8))]
    due = next_dose(plan, records)  # Sunday 10th is closed
    assert due.due == date(2027, 1, 11)
    assert due.note == "3 days since the last dose: alternate days interrupted by a day the clinic is closed."


def test_defect_neurological_loading_dose_due_on_christmas_day_moves_and_says_which_closure():
    christmas = {date(2026, 12, 25): "Christmas Day", date(2026, 12, 28): "Boxing Day (substitute day)"}
    start = date(2026, 12, 3)
    # A clinic open every day: dose 12 is due on Christmas Day, when it is shut, so the dose moves.
    plan = PlanFacts(
        start, ALTERNATE_DAYS, Interval(2, MONTHS), clinic_days=EVERY_DAY, closures=christmas, reviews=REVIEWS
    )
    records = [DoseEvent(LOADING, n, start + timedelta(days=2 * (n - 1))) for n in range(1, 12)]
    assert records[-1].on == date(2026, 12, 23)
    due = next_dose(plan, records)
    assert due.due == date(2026, 12, 26)
    assert due.note == "3 days since the last dose: alternate days interrupted by a closure (Christmas Day)."
    records.append(DoseEvent(LOADING, 12, due.due))
    assert next_dose(plan, records).due == date(2026, 12, 29)  # 28th is closed too: the pattern continues


# ---------------------------------------------------------------------------------------------------------------------
# Examples: monitoring from the plan's own facts (pregnancy: first review at 1 month)
# ---------------------------------------------------------------------------------------------------------------------


def test_defect_pregnancy_first_review_at_one_month_then_every_three_months():
    visits = list(visits_of(date(2027, 1, 31), None, until=date(2027, 12, 31), first_months=1))
    assert [v.on for v in visits] == [date(2027, 2, 28), date(2027, 5, 31), date(2027, 8, 31), date(2027, 11, 30)]


def test_monitoring_visits_move_off_closed_days():
    plan = PlanFacts(date(2026, 9, 25), "", THREE_MONTHLY, reviews=REVIEWS, closures={date(2026, 12, 25): "Xmas"})
    visits = list(monitoring_visits(plan, until=date(2027, 7, 1)))
    # 25 Dec 2026 is closed (Friday), 25 Mar 2027 a Thursday, 25 Jun 2027 a Friday.
    assert [v.on for v in visits] == [date(2026, 12, 28), date(2027, 3, 25), date(2027, 6, 25)]
    assert visits[0].nominal == date(2026, 12, 25)


def test_loading_reviews_move_off_closed_days():
    plan = alternate(date(2027, 1, 2))  # a Saturday start: reviews every 14 days fall on Saturdays
    reviews = loading_reviews(plan, until=date(2027, 2, 26))
    assert reviews == [date(2027, 1, 18), date(2027, 2, 1), date(2027, 2, 15)]


@PROPERTY_SETTINGS
@given(
    start=start_dates,
    results_after=st.none() | st.integers(min_value=-30, max_value=3 * 366),
    stable_after=st.none() | st.integers(min_value=0, max_value=2 * 366),
    clinic_days=clinic_day_sets,
)
def test_the_next_monitoring_visit_is_the_first_one_no_results_have_answered(
    start, results_after, stable_after, clinic_days
):
    """The date stored on each plan (and the home page's list): every earlier visit had results sampled in the
    fortnight before it or later; this one has not; and a lifelong plan always has one, within about a year."""
    stable_on = start + timedelta(days=stable_after) if stable_after is not None else None
    plan = PlanFacts(start, "", THREE_MONTHLY, clinic_days=clinic_days, reviews=REVIEWS, stable_on=stable_on)
    results_on = start + timedelta(days=results_after) if results_after is not None else None
    visit = next_monitoring_visit(plan, results_on=results_on)
    assert visit is not None
    answered = lambda v: results_on is not None and v.on - timedelta(days=14) <= results_on  # noqa: E731
    assert not answered(visit)
    earlier = [v for v in monitoring_visits(plan, until=visit.nominal) if v.on < visit.on]
    assert all(answered(v) for v in earlier)
    since = max(day for day in (start, results_on, stable_on) if day is not None)
    assert visit.on <= since + timedelta(days=366 + 14 + 7)


@PROPERTY_SETTINGS
@given(day=st.dates(), months=st.integers(min_value=-12 * 10_000, max_value=12 * 10_000))
def test_add_months_is_dateutils_calendar_months(day, months):
    """The schedule's own month arithmetic gives what dateutil's relativedelta does, the clamp to a shorter month's
    last day included; a date outside the calendar is refused by both."""
    try:
        expected = day + relativedelta(months=months)
    except ValueError:
        with pytest.raises(ValueError):
            add_months(day, months)
    else:
        assert add_months(day, months) == expected


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2027, 1, 31), 1, date(2027, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2027, 3, 31), -1, date(2027, 2, 28)),
        (date(2027, 8, 31), 3, date(2027, 11, 30)),
        (date(2027, 12, 15), 1, date(2028, 1, 15)),
        (date(2027, 1, 15), -1, date(2026, 12, 15)),
    ],
)
def test_add_months_clamps_to_the_months_last_day(day, months, expected):
    assert add_months(day, months) == expected
