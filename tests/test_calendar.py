"""iCalendar exports: the per-plan .ics (events, recurrences, UIDs, SEQUENCE, privacy, size) and the nurse's feed."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from urllib.parse import urlparse

import pytest
from dateutil.relativedelta import relativedelta
from dateutil.rrule import rruleset, rrulestr
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from recommender.access import services as access_services
from recommender.clinic import services as clinic_services
from recommender.guideline import schedule
from recommender.injections import selectors as injections_selectors
from recommender.injections import services as injections_services
from recommender.injections.selectors import SCHEDULE_WINDOW_MONTHS
from recommender.models import AccessToken, TreatmentPlan
from tests import factories
from tests.factories import give, mark_stable

FAMILY, GIVEN = "Zebedee", "Quentin"
B12_RESULT = 137  # pg/mL: deficient, and a number that no title should carry
# Every plan here is of a patient whose name and result no calendar may show.
make_plan = partial(
    factories.make_plan, payload={"b12": {"value": B12_RESULT, "unit": "pg/mL"}}, family_name=FAMILY, given_name=GIVEN
)


def download(client, plan: TreatmentPlan) -> bytes:
    response = client.get(reverse("plan-ics", kwargs={"plan_id": plan.pk}))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    return response.content


def events_of(body: bytes) -> dict[str, object]:
    """The VEVENTs by UID."""
    calendar = Calendar.from_ical(body)
    events = {str(event["UID"]): event for event in calendar.walk("VEVENT")}
    assert len(events) == len(calendar.walk("VEVENT")), "UIDs must be unique"
    return events


def start_of(event) -> date:
    value = event.decoded("DTSTART")
    assert isinstance(value, date) and not isinstance(value, datetime), "all-day events"
    return value


def expand(event, until: date) -> list[date]:
    """The event's dates up to ``until``, as a calendar client reads them: its RRULE from its DTSTART, less its
    EXDATEs, plus its RDATEs."""
    first = datetime.combine(start_of(event), time())
    rules = rruleset()
    rules.rrule(rrulestr(event["RRULE"].to_ical().decode(), dtstart=first))
    for name, add in (("EXDATE", rules.exdate), ("RDATE", rules.rdate)):
        values = event.get(name)
        for dates in values if isinstance(values, list) else [values] if values is not None else []:
            for value in dates.dts:
                add(datetime.combine(value.dt, time()))
    return [d.date() for d in rules.between(first, datetime.combine(until, time()), inc=True)]


def window_end() -> date:
    """How far ahead the .ics moves dates off closed days (and the app and the .ics agree date for date)."""
    return schedule.add_months(timezone.localdate(), SCHEDULE_WINDOW_MONTHS)


def is_open(day: date) -> bool:
    return schedule.is_open(day, injections_selectors.clinic_days(), injections_selectors.clinic_calendar())


def ahead(days: list[date]) -> list[date]:
    """The dates from today to the end of the window."""
    today = timezone.localdate()
    return [d for d in days if today <= d <= window_end()]


def uid(plan: TreatmentPlan, suffix: str) -> str:
    return f"{plan.id}-{suffix}@b12-clinic"


def maintenance_dates(plan: TreatmentPlan, until: date) -> list[date]:
    plan.refresh_from_db()
    doses = schedule.upcoming_doses(
        injections_selectors.plan_facts(plan), injections_selectors.plan_dose_events(plan), until=until, limit=1000
    )
    return [d.due for d in doses if d.phase == schedule.MAINTENANCE]


# The per-plan calendar


def test_plan_ics_has_six_loading_doses_one_recurring_maintenance_and_recurring_monitoring(clinician_client, clinician):
    plan = make_plan(clinician, start=date(2025, 3, 3))  # a Monday
    events = events_of(download(clinician_client, plan))
    loading = [uid(plan, f"loading-{n}") for n in range(1, 7)]
    assert set(events) == {*loading, uid(plan, "maintenance"), uid(plan, "monitoring-3m")}
    assert [start_of(events[u]) for u in loading] == [date(2025, 3, d) for d in (3, 5, 7, 10, 12, 14)]
    for number, u in enumerate(loading, 1):
        assert "RRULE" not in events[u]
        assert str(events[u]["SUMMARY"]) == f"Vitamin B12 injection: Loading {number} of 6"

    maintenance = events[uid(plan, "maintenance")]
    assert start_of(maintenance) == date(2025, 5, 14)  # two months after the last loading dose
    assert maintenance["RRULE"]["FREQ"] == ["MONTHLY"]
    assert maintenance["RRULE"]["INTERVAL"] == [2]
    assert "UNTIL" not in maintenance["RRULE"] and "COUNT" not in maintenance["RRULE"]  # lifelong

    monitoring = events[uid(plan, "monitoring-3m")]
    assert start_of(monitoring) == date(2025, 6, 3)
    assert monitoring["RRULE"]["INTERVAL"] == [3]
    assert "UNTIL" not in monitoring["RRULE"]
    assert expand(monitoring, date(2026, 3, 3)) == [
        date(2025, 6, 3),
        date(2025, 9, 3),
        date(2025, 12, 3),
        date(2026, 3, 3),
    ]


def test_loading_events_follow_the_schedule_after_a_late_dose(clinician_client, clinician, nurse):
    plan = make_plan(clinician, start=date(2025, 3, 3))  # planned Mon/Wed/Fri 3-14 March
    give(plan, nurse, on=date(2025, 3, 6))  # loading 1 given three days late: the course moves on
    records = injections_selectors.plan_dose_events(plan)
    upcoming = schedule.upcoming_doses(injections_selectors.plan_facts(plan), records, until=date(2026, 3, 1), limit=20)
    expected = {1: date(2025, 3, 6)} | {d.number: d.due for d in upcoming if d.phase == schedule.LOADING}
    assert len(expected) == 6
    assert expected[2] == plan.next_due_on  # what the worklist shows

    events = events_of(download(clinician_client, plan))
    shown = {n: start_of(events[uid(plan, f"loading-{n}")]) for n in range(1, 7)}
    assert shown == expected
    first_maintenance = next(d.due for d in upcoming if d.phase == schedule.MAINTENANCE)
    assert start_of(events[uid(plan, "maintenance")]) == first_maintenance


def test_plan_ics_for_nurses_too_but_not_anonymous(client, nurse, clinician):
    plan = make_plan(clinician, start=date(2025, 3, 3))
    response = client.get(reverse("plan-ics", kwargs={"plan_id": plan.pk}))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    client.force_login(nurse)
    assert events_of(download(client, plan))


def test_uids_are_stable_and_sequence_rises_after_each_change(clinician_client, clinician, nurse):
    plan = make_plan(clinician, start=date(2025, 3, 3))
    first, again = events_of(download(clinician_client, plan)), events_of(download(clinician_client, plan))
    assert set(first) == set(again)
    assert {u: e["SEQUENCE"] for u, e in first.items()} == {u: e["SEQUENCE"] for u, e in again.items()}

    def sequences(events):
        values = {int(e["SEQUENCE"]) for e in events.values()}
        assert len(values) == 1, "one sequence for the plan's events"
        return values.pop()

    seen = [sequences(first)]
    give(plan, nurse)
    after_dose = events_of(download(clinician_client, plan))
    assert set(after_dose) == set(first)
    seen.append(sequences(after_dose))

    clinic_services.plan_change_interval(
        plan=plan, every=3, unit="months", reason="Settled on treatment.", by=clinician
    )
    after_interval = events_of(download(clinician_client, plan))
    assert set(after_interval) == set(first)
    assert after_interval[uid(plan, "maintenance")]["RRULE"]["INTERVAL"] == [3]
    seen.append(sequences(after_interval))

    mark_stable(plan, on=date(2025, 4, 1), by=clinician)
    after_stable = events_of(download(clinician_client, plan))
    assert set(after_stable) >= set(first)
    seen.append(sequences(after_stable))
    assert seen == sorted(seen) and len(set(seen)) == len(seen), seen


def test_no_patient_name_hospital_number_or_result_in_any_title(clinician_client, clinician, nurse):
    plan = make_plan(clinician, start=date(2025, 3, 3))
    give(plan, nurse)
    mark_stable(plan, on=date(2025, 3, 20), by=clinician)
    body = download(clinician_client, plan)
    text = body.decode()
    for secret in (FAMILY, GIVEN, FAMILY.upper(), plan.patient.hospital_number):
        assert secret not in text
    calendar = Calendar.from_ical(body)
    for component in [calendar, *calendar.walk("VEVENT")]:
        for field in ("SUMMARY", "X-WR-CALNAME", "DESCRIPTION"):
            if field in component:
                value = str(component[field])
                assert str(B12_RESULT) not in value
                assert "pg/mL" not in value
                assert plan.patient.hospital_number not in value


ANCHORS = [date(2025, 1, 31), date(2024, 1, 31), date(2024, 2, 29), date(2024, 8, 30), date(2025, 3, 15)]


@pytest.mark.parametrize("every", [1, 2, 3])
@pytest.mark.parametrize("anchor", ANCHORS, ids=str)
def test_maintenance_rrule_expands_to_the_scheduled_dates_for_two_years(
    clinician_client, clinician, nurse, anchor, every
):
    plan = make_plan(clinician, start=anchor - timedelta(days=14), every=every, individualised=every == 1)
    while plan.next_number < 6:
        give(plan, nurse)
    give(plan, nurse, on=anchor)  # the last loading dose, given on the anchor day: maintenance counts from it
    nominal = anchor + relativedelta(months=every)
    assert plan.next_phase == "maintenance"
    assert plan.next_due_on == schedule.next_open_day(
        nominal, injections_selectors.clinic_days(), injections_selectors.clinic_calendar()
    )

    event = events_of(download(clinician_client, plan))[uid(plan, "maintenance")]
    until = window_end()
    expected = maintenance_dates(plan, until)
    assert len(ahead(expected)) >= 24 // every - 1
    assert start_of(event) == anchor + relativedelta(months=every)  # the rule's first date; the app may move it
    assert ahead(expand(event, until)) == ahead(expected)


@pytest.mark.parametrize(("every", "unit"), [(4, "weeks"), (10, "days"), (12, "weeks")])
def test_maintenance_rrule_for_individualised_weeks_and_days(clinician_client, clinician, nurse, every, unit):
    plan = make_plan(clinician, start=date(2024, 12, 2), every=every, unit=unit, individualised=True)
    while plan.next_phase == "loading":
        give(plan, nurse)
    give(plan, nurse, on=date(2025, 1, 31), early_reason="Symptoms back before it was due.")
    event = events_of(download(clinician_client, plan))[uid(plan, "maintenance")]
    assert event["RRULE"]["FREQ"] == ["WEEKLY" if unit == "weeks" else "DAILY"]
    until = window_end()
    expected = maintenance_dates(plan, until)
    assert expected[0] == plan.next_due_on
    assert ahead(expand(event, until)) == ahead(expected)


@pytest.mark.parametrize("every", [1, 2, 3])
def test_maintenance_rrule_after_maintenance_doses_given_on_the_31st(clinician_client, clinician, nurse, every):
    plan = make_plan(clinician, start=date(2023, 10, 2), every=every, individualised=every == 1)
    while plan.next_phase == "loading":
        give(plan, nurse)
    give(plan, nurse, on=date(2024, 1, 31))  # maintenance 1, on the 31st
    give(plan, nurse)  # maintenance 2, on its (clamped) due date
    event = events_of(download(clinician_client, plan))[uid(plan, "maintenance")]
    until = window_end()
    expected = maintenance_dates(plan, until)
    assert expected[0] == plan.next_due_on
    assert ahead(expand(event, until)) == ahead(expected)


def test_maintenance_rrule_after_a_missed_dose(clinician_client, clinician, nurse):
    plan = make_plan(clinician, start=date(2025, 1, 6))
    while plan.next_phase == "loading":
        give(plan, nurse)
    give(plan, nurse)  # maintenance 1
    injections_services.dose_record(
        plan=plan, phase="maintenance", number=2, outcome="missed", reason="Did not attend.", by=nurse
    )
    plan.refresh_from_db()
    event = events_of(download(clinician_client, plan))[uid(plan, "maintenance")]
    until = window_end()
    expected = maintenance_dates(plan, until)
    assert expected[0] == plan.next_due_on
    assert ahead(expand(event, until)) == ahead(expected)


@pytest.mark.parametrize("start", [date(2024, 1, 31), date(2024, 2, 29), date(2025, 3, 3)], ids=str)
def test_monitoring_rrules_expand_to_the_follow_up_visits(clinician_client, clinician, start):
    plan = make_plan(clinician, start=start)
    events = events_of(download(clinician_client, plan))
    until = window_end()
    visits = list(schedule.monitoring_visits(injections_selectors.plan_facts(plan), until=until))
    assert ahead(expand(events[uid(plan, "monitoring-3m")], until)) == ahead([v.on for v in visits])
    assert uid(plan, "monitoring-12m") not in events

    stable_on = start + timedelta(days=200)
    mark_stable(plan, on=stable_on, by=clinician)
    events = events_of(download(clinician_client, plan))
    visits = list(schedule.monitoring_visits(injections_selectors.plan_facts(plan), until=until))
    three_monthly = expand(events[uid(plan, "monitoring-3m")], until)
    yearly = expand(events[uid(plan, "monitoring-12m")], until)
    assert ahead(three_monthly) == ahead([v.on for v in visits if v.kind == "until_stable"])
    assert ahead(yearly) == ahead([v.on for v in visits if v.kind == "after_stable"])
    assert three_monthly and max(three_monthly) <= stable_on  # no 3-monthly visit after the stable date
    assert [v.nominal for v in visits if v.kind == "after_stable"][:3] == [
        stable_on + relativedelta(years=k) for k in (1, 2, 3)
    ]
    assert all(is_open(v.on) for v in visits)


def test_stable_before_the_first_visit_withdraws_the_three_monthly_series(clinician_client, clinician):
    plan = make_plan(clinician, start=date(2025, 3, 3))
    mark_stable(plan, on=date(2025, 4, 1), by=clinician)
    events = events_of(download(clinician_client, plan))
    assert str(events[uid(plan, "monitoring-3m")]["STATUS"]) == "CANCELLED"
    assert start_of(events[uid(plan, "monitoring-12m")]) == date(2026, 4, 1)


def test_neurological_plan_shows_alternate_day_loading_until_a_clinician_ends_it(clinician_client, clinician, nurse):
    today = timezone.localdate()
    plan = make_plan(clinician, start=today - timedelta(days=6), neuro=True)
    first = give(plan, nurse)  # on its due date: the start, or the next open day when the start is not one
    events = events_of(download(clinician_client, plan))
    loading = [e for u, e in events.items() if "-loading-" in u and "review" not in u]
    assert loading and all("RRULE" not in e for e in loading)
    assert all("alternate days" in str(e["SUMMARY"]) for e in loading)
    assert uid(plan, "loading-review") in events
    assert uid(plan, "maintenance") not in events  # open-ended loading: no maintenance date yet

    clinic_services.plan_end_loading(plan=plan, on=today, by=clinician)
    events = events_of(download(clinician_client, plan))
    maintenance = events[uid(plan, "maintenance")]
    # The series' nominal start (its RRULE counts from it; a closed occurrence is moved by its own exception).
    assert start_of(maintenance) == schedule.add_months(timezone.localdate(first.given_at), 2)
    assert "RRULE" in maintenance


def test_open_ended_loading_shows_doses_up_to_the_review_and_none_the_day_after(clinician_client, clinician, nurse):
    """Defect seen (a Friday's run): the .ics showed the alternate-day dose due the day after the loading review,
    which is the clinician's to decide; the plan page's schedule stops at the review."""
    from zoneinfo import ZoneInfo

    import time_machine

    with time_machine.travel(datetime(2026, 12, 4, 9, 0, tzinfo=ZoneInfo("Europe/London")), tick=False):
        plan = factories.make_plan(clinician, start=date(2026, 12, 1), neuro=True)
        give(plan, nurse, on=date(2026, 12, 1))
        clinician_client.force_login(clinician)  # signed in at the travelled time (else idle past the timeout)
        events = events_of(download(clinician_client, plan))
    review = start_of(events[uid(plan, "loading-review")])
    loading = sorted(start_of(e) for u, e in events.items() if "-loading-" in u and "review" not in u)
    # Tue 1, Thu 3, Mon 7 (Sat 5 closed), Wed 9, Fri 11, Mon 14 (Sun 13 closed); the review on Tue 15; Wed 16 next.
    assert review == date(2026, 12, 15)
    assert loading[-1] == date(2026, 12, 14)
    assert date(2026, 12, 16) not in loading


def test_ended_plan_events_are_cancelled(clinician_client, clinician):
    plan = make_plan(clinician, start=date(2025, 3, 3))
    clinic_services.plan_end(plan=plan, reason="Moved away.", by=clinician)
    events = events_of(download(clinician_client, plan))
    assert events and all(str(e["STATUS"]) == "CANCELLED" for e in events.values())


def test_lifelong_plan_ics_does_not_grow_with_the_doses_given(clinician_client, clinician, nurse):
    plan = make_plan(clinician, start=date(2019, 1, 7))
    while plan.next_phase == "loading":
        give(plan, nurse)
    give(plan, nurse)
    after_one = download(clinician_client, plan)
    for _ in range(29):
        give(plan, nurse)
    assert (plan.next_phase, plan.next_number) == ("maintenance", 31)
    after_thirty = download(clinician_client, plan)
    # The series moves with the last dose; only the closures in the 24-month window it crosses change its size.
    assert abs(len(after_thirty) - len(after_one)) <= 160, (len(after_one), len(after_thirty))
    assert len(events_of(after_thirty)) == len(events_of(after_one))


# The month view


def month_events(response) -> dict[date, list[str]]:
    assert response.status_code == 200
    return {day["date"]: [e["label"] for e in day["events"]] for week in response.context["weeks"] for day in week}


def test_month_view_shows_doses_given_and_due_and_follow_up_visits(nurse_client, clinician, nurse):
    plan = make_plan(clinician, start=date(2025, 3, 3))
    give(plan, nurse)  # loading 1, on 3 March
    url = reverse("plan-month", kwargs={"plan_id": plan.pk})
    march = month_events(nurse_client.get(url, {"month": "2025-03-01"}))
    assert "Loading 1: given" in march[date(2025, 3, 3)]
    for number, day in enumerate((5, 7, 10, 12, 14), 2):
        assert f"Loading {number} due" in march[date(2025, 3, day)]
    june = month_events(nurse_client.get(url, {"month": "2025-06-01"}))
    assert "Follow-up review" in june[date(2025, 6, 3)]
    may = month_events(nurse_client.get(url, {"month": "2025-05-01"}))
    assert "Maintenance 1 due" in may[date(2025, 5, 14)]


def test_month_view_reads_an_active_plans_records_once_and_an_ended_plans_month(nurse_client, clinician, nurse):
    plan = make_plan(clinician, start=date(2025, 3, 3))
    give(plan, nurse)
    url = reverse("plan-month", kwargs={"plan_id": plan.pk})
    with CaptureQueriesContext(connection) as queries:
        march = month_events(nurse_client.get(url, {"month": "2025-03-01"}))
    assert "Loading 1: given" in march[date(2025, 3, 3)]
    doses = [q for q in queries.captured_queries if 'FROM "recommender_doserecord"' in q["sql"]]
    assert len(doses) == 1  # the schedule's read of the records also gives the month's
    clinic_services.plan_end(plan=plan, reason="Moved away.", by=clinician)
    march = month_events(nurse_client.get(url, {"month": "2025-03-01"}))
    assert "Loading 1: given" in march[date(2025, 3, 3)]
    assert not any("due" in label for labels in march.values() for label in labels)


def test_month_view_places_a_dose_on_the_clinics_local_date(settings, nurse_client, clinician, nurse):
    settings.TIME_ZONE = "Pacific/Auckland"
    plan = make_plan(clinician, start=date(2025, 3, 3))
    injections_services.dose_record(
        plan=plan,
        phase="loading",
        number=1,
        outcome="given",
        allergy_checked=True,  # the first-dose checks (asked, sample taken)
        baseline_sample_taken=True,
        given_at=datetime(2025, 3, 3, 19, 30, tzinfo=UTC),  # 08:30 on 4 March in Auckland
        dose_mg=Decimal(1),
        route="IM",
        site="left_deltoid",
        batch="HX2025-118",
        expiry=date(2026, 1, 31),
        by=nurse,
    )
    url = reverse("plan-month", kwargs={"plan_id": plan.pk})
    for state in ("active", "ended"):  # an ended plan's month reads only that month's records: the same local date
        if state == "ended":
            clinic_services.plan_end(plan=plan, reason="Moved away.", by=clinician)
        march = month_events(nurse_client.get(url, {"month": "2025-03-01"}))
        assert "Loading 1: given" in march[date(2025, 3, 4)], state
        assert "Loading 1: given" not in march[date(2025, 3, 3)], state


def test_month_view_with_a_bad_month_shows_a_message(nurse_client, clinician):
    plan = make_plan(clinician, start=date(2025, 3, 3))
    response = nurse_client.get(reverse("plan-month", kwargs={"plan_id": plan.pk}), {"month": "2025-3"})
    assert response.status_code == 200
    assert response.context["month"] == timezone.localdate().replace(day=1)
    assert any("is not a date" in str(m) for m in get_messages(response.wsgi_request))


@pytest.mark.parametrize("edge", ["9999-12-01", "0001-01-01"])
def test_month_view_at_the_edge_of_the_calendar_is_not_a_500(nurse_client, clinician, edge):
    plan = make_plan(clinician, start=date(2025, 3, 3))
    nurse_client.raise_request_exception = False
    response = nurse_client.get(reverse("plan-month", kwargs={"plan_id": plan.pk}), {"month": edge})
    assert response.status_code == 200


# The nurse's subscription feed


def issue_feed(client) -> str:
    response = client.post(reverse("calendar-feed"), {"action": "issue"})
    assert response.status_code == 200
    url = response.context["new_url"]
    assert url and url in response.content.decode()
    return urlparse(url).path


def test_feed_address_is_shown_once_and_serves_the_worklist_without_login(nurse_client, nurse, clinician):
    today = timezone.localdate()
    overdue = make_plan(clinician, start=today - timedelta(days=10))
    soon = make_plan(clinician, start=today + timedelta(days=5))
    far = make_plan(clinician, start=today + timedelta(days=60))
    path = issue_feed(nurse_client)
    token = path.rsplit("/", 1)[1].removesuffix(".ics")
    page = nurse_client.get(reverse("calendar-feed"))
    assert page.status_code == 200
    assert token not in page.content.decode()
    assert AccessToken.objects.get(user=nurse).digest == AccessToken.digest_of(token)  # only the digest is kept

    response = Client().get(path)  # a calendar client: no session
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    for plan in (overdue, soon):
        plan.refresh_from_db()
        event = events[f"{plan.id}-{plan.next_phase}-{plan.next_number}@b12-clinic"]
        assert start_of(event) == plan.next_due_on
        assert str(event["SUMMARY"]).startswith(f"B12 injection due: Loading {plan.next_number} ")
    assert not [u for u in events if u.startswith(str(far.id))]
    for event in events.values():
        summary = str(event["SUMMARY"])
        numbers = [p.patient.hospital_number for p in (overdue, soon, far)]
        for secret in (FAMILY, GIVEN, FAMILY.upper(), *numbers, str(B12_RESULT)):
            assert secret not in summary
    assert FAMILY not in response.content.decode() and GIVEN not in response.content.decode()


def test_feed_follows_the_worklist_after_a_dose_is_recorded(nurse_client, nurse, clinician):
    plan = make_plan(clinician, start=timezone.localdate() - timedelta(days=10))
    path = issue_feed(nurse_client)
    before = {str(e["UID"]) for e in Calendar.from_ical(Client().get(path).content).walk("VEVENT")}
    assert before == {f"{plan.id}-loading-1@b12-clinic"}
    give(plan, nurse, on=timezone.localdate() - timedelta(days=1))
    after = {str(e["UID"]) for e in Calendar.from_ical(Client().get(path).content).walk("VEVENT")}
    assert after == {f"{plan.id}-loading-2@b12-clinic"}


def test_revoked_feed_and_random_token_give_404(nurse_client, nurse, clinician):
    make_plan(clinician, start=timezone.localdate())
    path = issue_feed(nurse_client)
    assert Client().get(path).status_code == 200
    token = AccessToken.objects.get(user=nurse, purpose=AccessToken.Purpose.CALENDAR)
    response = nurse_client.post(reverse("calendar-feed"), {"action": "revoke", "token": str(token.pk)})
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert Client().get(path).status_code == 404
    random = AccessToken.new_secret()
    assert Client().get(reverse("worklist-feed", kwargs={"token": random})).status_code == 404
    assert Client().get("/feeds/worklist/nothing.ics").status_code == 404


@pytest.mark.parametrize("token", ["abc", ""])
def test_revoking_a_malformed_token_id_is_a_404_not_a_500(nurse_client, token):
    nurse_client.raise_request_exception = False
    response = nurse_client.post(reverse("calendar-feed"), {"action": "revoke", "token": token})
    assert response.status_code == 404


def test_another_users_token_cannot_be_revoked(client, nurse, clinician, django_user_model):
    token, _ = access_services.access_token_issue(user=nurse, purpose=AccessToken.Purpose.CALENDAR, name="worklist")
    client.force_login(clinician)
    response = client.post(reverse("calendar-feed"), {"action": "revoke", "token": str(token.pk)})
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_feed_makes_the_same_number_of_queries_for_2_or_30_plans(nurse_client, clinician):
    today = timezone.localdate()
    path = issue_feed(nurse_client)
    feed = Client()
    for i in range(2):
        make_plan(clinician, start=today - timedelta(days=i))
    feed.get(path)
    with CaptureQueriesContext(connection) as two:
        response = feed.get(path)
    assert len(Calendar.from_ical(response.content).walk("VEVENT")) == 2
    for i in range(2, 30):
        make_plan(clinician, start=today - timedelta(days=i % 10))
    with CaptureQueriesContext(connection) as thirty:
        response = feed.get(path)
    assert len(Calendar.from_ical(response.content).walk("VEVENT")) == 30
    assert len(thirty.captured_queries) == len(two.captured_queries), "\n".join(
        q["sql"] for q in thirty.captured_queries
    )


def test_the_ics_of_a_plan_on_the_guidelines_regimen_does_not_read_its_decision(clinician_client, clinician):
    """Only an individualised plan's description quotes the decision's range; the others never read it."""
    plan = make_plan(clinician, start=timezone.localdate())
    with CaptureQueriesContext(connection) as queries:
        assert clinician_client.get(reverse("plan-ics", kwargs={"plan_id": plan.pk})).status_code == 200
    assert not [q for q in queries.captured_queries if '"recommender_assessment"' in q["sql"]]


@settings(max_examples=200)
@given(texts=st.lists(st.text(max_size=200), min_size=1, max_size=5))
def test_the_calendar_bytes_are_icalendars_own(texts):
    """Folding only the lines that need it gives exactly icalendar's ``to_ical()``: short and long lines, escapes,
    characters of several octets."""
    from icalendar import Event

    from recommender.injections.calendars import ical_bytes

    cal = Calendar()
    cal.add("prodid", "-//test//EN")
    cal.add("version", "2.0")
    for i, text in enumerate(texts):
        event = Event()
        event.add("uid", f"{i}-{text[:20]}")
        event.add("summary", text)
        event.add("description", text * 3)
        event.add("dtstart", date(2027, 1, 1) + timedelta(days=i))
        cal.add_component(event)
    assert ical_bytes(cal) == cal.to_ical()
