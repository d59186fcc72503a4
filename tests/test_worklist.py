"""The nurses' worklist: what is due, filtering by date, recording from it, query count and the clinic's time zone."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from functools import partial

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format

from recommender.clinic import services as clinic_services
from recommender.models import DoseRecord, TreatmentPlan
from tests import factories
from tests.factories import give, messages_of

WORKLIST = "/worklist/"


@pytest.fixture(autouse=True)
def clinic_every_day(settings):
    """Every day a clinic day, so that a plan's first dose falls due on its start date whatever today is."""
    settings.B12_CLINIC_DAYS = list(range(7))


# The worklist shows each patient by name and date of birth.
make_plan = partial(factories.make_plan, family_name="Zebedee", given_name="Quentin", date_of_birth=date(1950, 5, 17))


def bucket_ids(response, bucket: str) -> list:
    return [row.plan.pk for row in response.context[bucket]]


def row_html(html: str, plan: TreatmentPlan) -> str:
    match = re.search(rf'<tr data-plan="{plan.pk}">(.*?)</tr>', html, re.S)
    assert match, f"no worklist row for {plan.patient.hospital_number}"
    return match.group(1)


def test_worklist_shows_overdue_today_and_the_next_7_days_across_patients(nurse_client, clinician, nurse):
    today = timezone.localdate()
    overdue = make_plan(clinician, start=today - timedelta(days=3))
    due_today = make_plan(clinician, start=today, neuro=True)
    in_a_week = make_plan(clinician, start=today + timedelta(days=7))
    too_late = make_plan(clinician, start=today + timedelta(days=8))
    ended = make_plan(clinician, start=today - timedelta(days=2))
    clinic_services.plan_end(plan=ended, reason="Moved away.", by=clinician)
    maintenance = make_plan(clinician, start=today - timedelta(days=70))
    while maintenance.next_phase == "loading":
        give(maintenance, nurse)

    response = nurse_client.get(WORKLIST)
    assert response.status_code == 200
    assert response.context["on"] == response.context["today"]
    listed = set(bucket_ids(response, "overdue") + bucket_ids(response, "due_today") + bucket_ids(response, "upcoming"))
    assert {overdue.pk, due_today.pk, in_a_week.pk, maintenance.pk} == listed
    assert too_late.pk not in listed and ended.pk not in listed
    assert overdue.pk in bucket_ids(response, "overdue")
    assert bucket_ids(response, "due_today") == [due_today.pk]
    assert in_a_week.pk in bucket_ids(response, "upcoming")

    html = response.content.decode()
    row = row_html(html, overdue)
    assert overdue.patient.hospital_number in row
    assert "Loading 1 of 6" in row
    assert date_format(today - timedelta(days=3), "D d M") in row
    assert "3 days" in row
    assert "Loading 1 (alternate days)" in row_html(html, due_today)
    assert "Maintenance 1" in row_html(html, maintenance)
    assert date_format(maintenance.next_due_on, "D d M") in row_html(html, maintenance)
    assert "<td>–</td>" in row_html(html, in_a_week)
    # Positive identification: every row names the patient with the date of birth (issue 10, item 9).
    assert "ZEBEDEE, Quentin" in row and "17 May 1950" in row


def test_worklist_is_sorted_soonest_first(nurse_client, clinician):
    today = timezone.localdate()
    plans = [make_plan(clinician, start=today + timedelta(days=d)) for d in (5, -4, 1, -1)]
    response = nurse_client.get(WORKLIST)
    rows = response.context["overdue"] + response.context["due_today"] + response.context["upcoming"]
    assert [r.plan.pk for r in rows] == [plans[1].pk, plans[3].pk, plans[2].pk, plans[0].pk]


def test_filter_by_date(nurse_client, clinician):
    today = timezone.localdate()
    soon = make_plan(clinician, start=today + timedelta(days=3))
    later = make_plan(clinician, start=today + timedelta(days=12))
    on = today + timedelta(days=10)
    response = nurse_client.get(WORKLIST, {"on": on.isoformat()})
    assert response.status_code == 200
    assert response.context["on"] == on
    assert soon.pk in bucket_ids(response, "overdue")
    assert later.pk in bucket_ids(response, "upcoming")
    assert "7 days" in row_html(response.content.decode(), soon)
    assert f'value="{on:%d/%m/%Y}"' in response.content.decode()

    response = nurse_client.get(WORKLIST, {"on": (today + timedelta(days=12)).isoformat()})
    assert bucket_ids(response, "due_today") == [later.pk]


@pytest.mark.parametrize("bad", ["yesterday", "2025-02-30", "31/02/2025", "2025-13-01", "01/31/2025"])
def test_a_bad_date_shows_a_message_not_an_error(nurse_client, clinician, bad):
    plan = make_plan(clinician, start=timezone.localdate())
    response = nurse_client.get(WORKLIST, {"on": bad})
    assert response.status_code == 200
    assert response.context["on"] == response.context["today"]
    assert any("is not a date" in m and bad in m for m in messages_of(response))
    assert bucket_ids(response, "due_today") == [plan.pk]


def test_the_as_of_date_is_day_month_year(nurse_client, clinician):
    """The filter shows and takes dd/mm/yyyy, whatever the browser's locale (ISO still works for links)."""
    today = timezone.localdate()
    response = nurse_client.get(WORKLIST, {"on": f"{today + timedelta(days=3):%d/%m/%Y}"})
    assert response.context["on"] == today + timedelta(days=3)
    assert f'value="{today + timedelta(days=3):%d/%m/%Y}"' in response.content.decode()
    assert 'type="date"' not in response.content.decode()


@pytest.mark.parametrize("edge", ["9999-12-31", "0001-01-01"])
def test_a_date_at_the_edge_of_the_calendar_is_not_a_500(nurse_client, clinician, edge):
    make_plan(clinician, start=timezone.localdate())
    nurse_client.raise_request_exception = False
    response = nurse_client.get(WORKLIST, {"on": edge})
    assert response.status_code == 200


def test_nurse_sees_the_record_button_and_a_clinician_does_not(client, nurse, clinician):
    plan = make_plan(clinician, start=timezone.localdate())
    record_url = reverse("dose-record", kwargs={"plan_id": plan.pk})
    client.force_login(nurse)
    row = row_html(client.get(WORKLIST).content.decode(), plan)
    assert f'href="{record_url}?next=' in row
    assert ">Record</a>" in row
    client.force_login(clinician)
    row = row_html(client.get(WORKLIST).content.decode(), plan)
    assert record_url not in row
    assert ">Record</a>" not in row


def test_anonymous_is_sent_to_log_in(client):
    response = client.get(WORKLIST)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_recording_removes_the_due_row_and_the_next_dose_appears(nurse_client, clinician):
    today = timezone.localdate()
    plan = make_plan(clinician, start=today - timedelta(days=3))
    before = nurse_client.get(WORKLIST)
    assert "Loading 1 of 6" in row_html(before.content.decode(), plan)

    given_at = timezone.localtime().replace(second=0, microsecond=0) - timedelta(minutes=5)
    response = nurse_client.post(
        reverse("dose-record", kwargs={"plan_id": plan.pk}),
        {
            "phase": "loading",
            "number": "1",
            "sequence": str(plan.calendar_sequence),
            "next": WORKLIST,
            "outcome": "given",
            "allergy_checked": "on",
            "baseline_sample_taken": "on",
            "given_at": given_at.strftime("%Y-%m-%dT%H:%M"),
            "dose_mg": "1",
            "route": "IM",
            "site": "left_thigh",
            "batch": "HX2025-118",
            "expiry": (today + timedelta(days=60)).isoformat(),
        },
        follow=True,
    )
    assert response.redirect_chain == [(WORKLIST, 302)]
    assert any(f"Loading 1 of 6 for {plan.patient.hospital_number} recorded" in m for m in messages_of(response))
    html = response.content.decode().split('<div id="rows">', 1)[1]
    assert "Loading 1 of 6" not in html
    plan.refresh_from_db()
    assert (plan.next_phase, plan.next_number) == ("loading", 2)
    row = row_html(html, plan)
    assert "Loading 2 of 6" in row
    assert date_format(plan.next_due_on, "D d M") in row


def test_the_worklist_makes_the_same_number_of_queries_for_2_or_30_plans(nurse_client, clinician, nurse):
    today = timezone.localdate()
    an_hour_ago = timezone.localtime() - timedelta(hours=1)
    for i in range(2):
        plan = make_plan(clinician, start=today - timedelta(days=10 + i))
        if i == 0:
            give(plan, nurse, given_at=an_hour_ago)  # a plan with a dose on record
    nurse_client.get(WORKLIST)  # caches filled once per process are not the worklist's cost

    with CaptureQueriesContext(connection) as two:
        response = nurse_client.get(WORKLIST)
    assert len(response.context["page"]) == 2

    for i in range(2, 30):
        plan = make_plan(clinician, start=today - timedelta(days=10 + i % 10))
        if i % 4 == 0:
            give(plan, nurse, given_at=an_hour_ago)
    with CaptureQueriesContext(connection) as thirty:
        response = nurse_client.get(WORKLIST)
    assert len(response.context["page"]) == 30
    assert len(thirty.captured_queries) == len(two.captured_queries), "\n".join(
        q["sql"] for q in thirty.captured_queries
    )


# Time zones: stored in UTC, shown and scheduled in the clinic's time zone


def test_given_at_is_stored_in_utc_and_shown_in_the_clinics_time_zone(settings, nurse_client, clinician):
    settings.TIME_ZONE = "Pacific/Auckland"  # UTC+13 in March (daylight saving)
    plan = make_plan(clinician, start=date(2025, 3, 1))
    response = nurse_client.post(
        reverse("dose-record", kwargs={"plan_id": plan.pk}),
        {
            "phase": "loading",
            "number": "1",
            "sequence": str(plan.calendar_sequence),
            "outcome": "given",
            "allergy_checked": "on",
            "baseline_sample_taken": "on",
            "given_at": "2025-03-04T08:30",  # as the nurse in Auckland enters it
            "dose_mg": "1",
            "route": "IM",
            "site": "left_deltoid",
            "batch": "HX2025-118",
            "expiry": "2026-01-31",
        },
    )
    assert response.status_code == 302
    record = DoseRecord.objects.get(plan=plan)
    assert timezone.is_aware(record.given_at)
    assert record.given_at == datetime(2025, 3, 3, 19, 30, tzinfo=UTC)
    assert DoseRecord._meta.db_table == "recommender_doserecord"
    pk = DoseRecord._meta.pk.get_db_prep_value(record.pk, connection)
    with connection.cursor() as cursor:
        cursor.execute("SELECT given_at FROM recommender_doserecord WHERE id = %s", [pk])
        raw = cursor.fetchone()[0]
    if isinstance(raw, str):
        raw = datetime.fromisoformat(raw)
    if raw.tzinfo is None:  # SQLite: the UTC wall time, without an offset
        assert raw == datetime(2025, 3, 3, 19, 30)
    else:  # PostgreSQL: timestamp with time zone, read in the connection's UTC
        assert raw.utcoffset() == timedelta(0)
        assert raw == datetime(2025, 3, 3, 19, 30, tzinfo=UTC)

    page = nurse_client.get(reverse("plan-detail", kwargs={"plan_id": plan.pk})).content.decode()
    assert "04 Mar 2025 08:30" in page
    settings.TIME_ZONE = "Europe/London"
    page = nurse_client.get(reverse("plan-detail", kwargs={"plan_id": plan.pk})).content.decode()
    assert "03 Mar 2025 19:30" in page
    assert "04 Mar 2025 08:30" not in page


@pytest.mark.parametrize(
    ("zone", "local_day"),
    [
        ("Pacific/Auckland", date(2025, 3, 4)),
        ("Europe/London", date(2025, 3, 3)),
        ("Pacific/Honolulu", date(2025, 3, 3)),
    ],
)
def test_the_next_dose_counts_from_the_local_date_of_the_time_given(settings, clinician, nurse, zone, local_day):
    settings.TIME_ZONE = zone
    plan = make_plan(clinician, start=date(2025, 3, 1), neuro=True)  # alternate days, every day a clinic day
    record = give(plan, nurse, given_at=datetime(2025, 3, 3, 19, 30, tzinfo=UTC))
    assert timezone.localdate(record.given_at) == local_day
    assert plan.next_due_on == local_day + timedelta(days=2)


@pytest.mark.parametrize(
    ("zone", "today"),
    [("Pacific/Auckland", date(2025, 3, 4)), ("Europe/London", date(2025, 3, 3))],
)
def test_the_worklists_today_is_the_clinics_local_date(settings, monkeypatch, nurse_client, clinician, zone, today):
    settings.TIME_ZONE = zone
    on_the_3rd = make_plan(clinician, start=date(2025, 3, 3))
    on_the_4th = make_plan(clinician, start=date(2025, 3, 4))
    # 19:30 UTC on 3 March 2025 is 08:30 on 4 March in Auckland and still 3 March in London.
    monkeypatch.setattr(timezone, "now", lambda: datetime(2025, 3, 3, 19, 30, tzinfo=UTC))
    response = nurse_client.get(WORKLIST)
    assert response.context["today"] == today
    due_today = on_the_4th if today.day == 4 else on_the_3rd
    assert bucket_ids(response, "due_today") == [due_today.pk]
    if today.day == 4:
        assert bucket_ids(response, "overdue") == [on_the_3rd.pk]
        assert "1 day" in row_html(response.content.decode(), on_the_3rd)
    else:
        assert bucket_ids(response, "upcoming") == [on_the_4th.pk]


def test_the_worklists_today_follows_the_clinics_zone_now(settings, nurse_client, clinician):
    settings.TIME_ZONE = "Pacific/Auckland"
    before = timezone.localdate()
    plan = make_plan(clinician, start=before)
    response = nurse_client.get(WORKLIST)
    after = timezone.localdate()
    assert response.context["today"] in {before, after}
    assert plan.pk in bucket_ids(response, "due_today") + bucket_ids(response, "overdue")


# Positive identification on every row (issue 10, item 9)


def test_each_row_shows_name_date_of_birth_with_age_hospital_and_nhs_number(nurse_client, clinician):
    """The defect: rows showed the hospital number only: no name, no date of birth."""
    today = timezone.localdate()
    plan = make_plan(clinician, start=today, hospital_number="WL90001")
    clinic_services.patient_update(
        patient=plan.patient,
        hospital_number="WL90001",
        family_name="Zebedee",
        given_name="Quentin",
        date_of_birth=date(1950, 5, 17),
        nhs_number="9434765919",
        reason="NHS number from the GP letter.",
        by=clinician,
    )
    without_nhs = make_plan(clinician, start=today)
    html = nurse_client.get(WORKLIST).content.decode()
    years = today.year - 1950 - ((today.month, today.day) < (5, 17))
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row_html(html, plan)))
    for shown in ("ZEBEDEE, Quentin", f"Born 17 May 1950 (aged {years})", "WL90001", "NHS no. 943 476 5919"):
        assert shown in text, text
    assert "Loading 1 of 6" in text and date_format(today, "D d M") in text
    other = re.sub(r"<[^>]+>", " ", row_html(html, without_nhs))
    assert "ZEBEDEE, Quentin" in other and "NHS no." not in other


def test_a_due_date_in_another_year_shows_its_year(nurse_client, clinician):
    """The defect: dates carried no year ("Mon 02 Jan"), so last December's overdue dose read as this year's."""
    today = timezone.localdate()
    last_year = date(today.year - 1, 12, 1)
    overdue = make_plan(clinician, start=last_year)
    this_year = make_plan(clinician, start=today)
    html = nurse_client.get(WORKLIST).content.decode()
    assert date_format(last_year, "D d M Y") in row_html(html, overdue)
    due = row_html(html, this_year)
    assert date_format(today, "D d M") in due
    assert date_format(today, "D d M Y") not in due


def test_the_worklist_queries_stay_constant_with_names_and_nhs_numbers(nurse_client, clinician):
    today = timezone.localdate()
    nhs_numbers = iter(["9434765919", "4010232137", "1234567881"])

    def identified_plan():
        plan = make_plan(clinician, start=today - timedelta(days=2))
        patient = plan.patient
        clinic_services.patient_update(
            patient=patient,
            hospital_number=patient.hospital_number,
            family_name=patient.family_name,
            given_name=patient.given_name,
            date_of_birth=patient.date_of_birth,
            nhs_number=next(nhs_numbers),
            reason="NHS number added.",
            by=clinician,
        )
        return plan

    identified_plan()
    nurse_client.get(WORKLIST)
    with CaptureQueriesContext(connection) as one:
        nurse_client.get(WORKLIST)
    identified_plan()
    identified_plan()
    for _ in range(5):
        make_plan(clinician, start=today)
    with CaptureQueriesContext(connection) as eight:
        response = nurse_client.get(WORKLIST)
    assert len(response.context["page"]) == 8
    assert len(eight.captured_queries) == len(one.captured_queries)
    assert response.content.decode().count("NHS no.") == 3


def test_the_worklist_pages_count_the_plans_without_reading_their_patients(nurse_client, clinician, monkeypatch):
    """Defect seen: the page count joined every patient (1.9 ms with 10,000 patients) though only the rows need
    them. The pages still say how many there are."""
    from recommender.injections import views as injections_views

    monkeypatch.setattr(injections_views, "WORKLIST_PAGE_SIZE", 2)
    today = timezone.localdate()
    for i in range(5):
        make_plan(clinician, start=today - timedelta(days=10 + i))
    with CaptureQueriesContext(connection) as queries:
        response = nurse_client.get(WORKLIST)
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"]]
    assert len(counts) == 1 and "recommender_patient" not in counts[0], counts
    assert response.context["page"].paginator.num_pages == 3
    assert "Page 1 of 3" in response.content.decode()
    last = nurse_client.get(WORKLIST, {"page": 3})
    assert len(last.context["page"]) == 1
