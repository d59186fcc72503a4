"""The worklist, the month view, the plan page and the per-plan .ics agree date for date over the next 24 months
(issue 10, item 3), across clinic closures and public holidays, month ends (31st anchors) and a leap year; and the
.ics stays bounded in size however many doses were given."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import pytest
from django.utils import timezone

from recommender.clinic import services as clinic_services
from recommender.guideline import schedule
from recommender.injections import calendars
from recommender.injections import presenters as injections_presenters
from recommender.injections import selectors as injections_selectors
from recommender.injections import services as injections_services
from recommender.models import ClinicClosure, TreatmentPlan
from tests.factories import DEFICIENT, DEFICIENT_NEURO, finish_loading, give, make_plan
from tests.test_calendar import events_of, expand, start_of
from tests.test_closures import ILEAL, PREGNANT

WINDOW_MONTHS = injections_selectors.SCHEDULE_WINDOW_MONTHS
EARLY = "Given on the day the clinic could, before the due date if that moved."  # a due date moved off a closed day


@pytest.fixture(autouse=True)
def _england(settings):
    settings.B12_HOLIDAYS = "GB-ENG"
    settings.B12_CLINIC_DAYS = [0, 1, 2, 3, 4]


def latest_31st(before: date, after: date) -> date:
    day = before
    while not (day.day == 31 and day > after):
        day -= timedelta(days=1)
    return day


def ics_dates(plan: TreatmentPlan, today: date) -> dict[str, list[date]]:
    """What a calendar client shows from the plan's .ics, from today to the end of the window, by kind."""
    end = schedule.add_months(today, WINDOW_MONTHS)
    events = events_of(calendars.plan_calendar(plan, today=today))
    out: dict[str, list[date]] = {"doses": [], "visits": [], "reviews": []}
    for uid, event in events.items():
        if str(event.get("STATUS", "")) == "CANCELLED":
            continue
        if "-loading-review" in uid:
            out["reviews"].append(start_of(event))
        elif "-loading-" in uid:
            out["doses"].append(start_of(event))
        elif "-maintenance" in uid:
            out["doses"].extend(expand(event, end))
        elif "-monitoring-" in uid:
            out["visits"].extend(expand(event, end))
    return {k: sorted(d for d in v if today <= d <= end) for k, v in out.items()}


def month_view_dates(plan: TreatmentPlan, today: date) -> dict[str, list[date]]:
    end = schedule.add_months(today, WINDOW_MONTHS)
    out: dict[str, list[date]] = {"doses": [], "visits": [], "reviews": []}
    month = today.replace(day=1)
    while month <= end:
        grid = injections_presenters.month_calendar(
            today=today, **injections_selectors.plan_month_events(plan=plan, month=month)
        )
        for week in grid["weeks"]:
            for day in week:
                if not day["in_month"] or not today <= day["date"] <= end:
                    continue
                for event in day["events"]:
                    kind = {"due": "doses", "visit": "visits", "review": "reviews"}.get(event["kind"])
                    if kind:
                        out[kind].append(day["date"])
        month = schedule.add_months(month, 1)
    return {k: sorted(v) for k, v in out.items()}


def app_dates(plan: TreatmentPlan, today: date) -> dict[str, list[date]]:
    """The plan page's schedule (the selectors), from today to the end of the window."""
    end = schedule.add_months(today, WINDOW_MONTHS)
    facts, records = injections_selectors.plan_facts(plan), injections_selectors.plan_dose_events(plan)
    doses = [d.due for d in schedule.upcoming_doses(facts, records, until=end, limit=1000)]
    page = injections_selectors.plan_schedule(plan=plan, today=today)
    return {
        "doses": [d for d in doses if d >= today],
        "visits": [v.on for v in page["visits"] if v.on <= end],
        "reviews": [d for d in schedule.loading_reviews(facts, until=end) if d >= today],
    }


def assert_agree(plan: TreatmentPlan, today: date) -> dict[str, list[date]]:
    plan.refresh_from_db()
    app, ics, month = app_dates(plan, today), ics_dates(plan, today), month_view_dates(plan, today)
    if plan.loading_pattern == schedule.ALTERNATE_DAYS and plan.loading_ended_on is None:
        # Open-ended loading: the .ics holds the doses up to the next review (a clinician decides what follows).
        assert ics["doses"] == [d for d in app["doses"] if d <= app["reviews"][0]]
    else:
        assert ics["doses"] == app["doses"], "the .ics and the plan page disagree on doses"
    assert month["doses"] == app["doses"], "the month view and the plan page disagree on doses"
    assert ics["visits"] == app["visits"] == month["visits"]
    assert month["reviews"] == app["reviews"]
    assert ics["reviews"] == app["reviews"][:1], "the .ics holds the next loading review"
    # The worklist row: the plan's stored next dose is the first the schedule expects.
    facts, records = injections_selectors.plan_facts(plan), injections_selectors.plan_dose_events(plan)
    assert plan.next_due_on == schedule.next_dose(facts, records).due
    if plan.next_due_on >= today:
        assert plan.next_due_on == app["doses"][0] == ics["doses"][0]
    calendar = injections_selectors.clinic_calendar()
    for day in app["visits"] + app["reviews"] + ([] if plan.doses_on_closed_days else app["doses"]):
        assert schedule.is_open(day, injections_selectors.clinic_days(), calendar), f"{day} is closed"
    return app


@pytest.mark.django_db
def test_worklist_month_view_plan_page_and_ics_agree_over_24_months(clinician, nurse, admin_user):
    today = timezone.localdate()
    plans = []

    # 1. Three-times-weekly loading, the last dose given late on a 31st; maintenance every 2 months from it.
    start = today - timedelta(days=110)
    anchor = latest_31st(today, start + timedelta(days=20))
    loading = make_plan(clinician, DEFICIENT, start=start, every=2)
    while loading.next_number < 6:
        give(loading, nurse)
    give(loading, nurse, on=anchor, early_reason=EARLY)
    assert loading.next_phase == "maintenance"
    plans.append(loading)

    # 2. Ileal resection, monthly from a 31st: February and 30-day months clamp, closed days move.
    ileal = make_plan(clinician, ILEAL, start=anchor, every=1)
    give(ileal, nurse, on=anchor, early_reason=EARLY)
    plans.append(ileal)

    # 3. Neurological: alternate-day loading still running (reviews every two weeks).
    neuro = make_plan(clinician, DEFICIENT_NEURO, start=today - timedelta(days=3), every=2)
    give(neuro, nurse, on=today - timedelta(days=3), early_reason=EARLY)
    plans.append(neuro)

    # 4. Pregnancy: first review at one month, then 3-monthly; recorded stable later: yearly.
    pregnant = make_plan(clinician, PREGNANT, start=today - timedelta(days=40), every=3)
    plans.append(pregnant)
    stable = make_plan(clinician, PREGNANT, start=today - timedelta(days=200), every=3)
    finish_loading(stable, nurse)
    clinic_services.plan_mark_stable(
        plan=stable, on=today - timedelta(days=10), reason="Symptoms resolved.", by=clinician
    )
    plans.append(stable)

    # Closures on days the plans would otherwise use, and a Christmas week.
    for plan in plans:
        plan.refresh_from_db()
    first_nominals = [
        schedule.add_months(anchor, 2 * 3),
        schedule.add_months(anchor, 7),
        schedule.add_months(stable.stable_on, 12),
    ]
    closures = {day: "Training day" for day in first_nominals}
    christmas = date(today.year + 1, 12, 21)
    closures |= {christmas + timedelta(days=i): "Christmas week" for i in range(5)}
    for day, reason in closures.items():
        injections_services.clinic_closure_save(closure=ClinicClosure(date=day, reason=reason), by=admin_user)

    # Two windows back to back: four years, so a 29 February is always inside one of them.
    later = schedule.add_months(today, WINDOW_MONTHS)
    for view_today in (today, later):
        for plan in plans:
            app = assert_agree(plan, view_today)
            assert app["visits"], plan
            if plan.loading_pattern != schedule.ALTERNATE_DAYS:
                assert app["doses"], plan
    for day in closures:
        for plan in plans:
            assert day not in app_dates(plan, today)["doses"] + app_dates(plan, today)["visits"]

    # The month ends and the leap day: the monthly series from a 31st is clamped, never skips a month.
    ileal_doses = sorted(set(app_dates(ileal, today)["doses"] + app_dates(ileal, later)["doses"]))
    assert len(ileal_doses) >= 2 * WINDOW_MONTHS - 1
    assert all((b - a).days <= 31 + 4 for a, b in pairwise(ileal_doses)), "none skipped"
    nominal_feb = [schedule.add_months(anchor, k) for k in range(1, 60) if schedule.add_months(anchor, k).month == 2]
    assert any(d.day == 29 for d in nominal_feb), "a leap-year February falls in the four years"


@pytest.mark.django_db
def test_ics_size_is_bounded_after_1_or_200_doses(clinician, nurse):
    today = timezone.localdate()
    plan = make_plan(
        clinician, ILEAL, start=today - timedelta(days=320), every=1, unit="days", individualised_reason="Daily."
    )
    give(plan, nurse)
    after_one = calendars.plan_calendar(plan, today=today)
    for _ in range(199):
        give(plan, nurse)
    assert plan.doses.count() == 200
    after_200 = calendars.plan_calendar(plan, today=today)
    assert len(after_200) < 12_000, len(after_200)
    assert abs(len(after_200) - len(after_one)) < 400, (len(after_one), len(after_200))
    assert len(events_of(after_200)) == len(events_of(after_one))
    assert_agree(plan, today)
