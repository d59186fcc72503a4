"""The plan page and the home page cost the same however long the history grows (issue 14, item 8): the plan page
shows the latest doses and links to a paginated page of all of them; the home page reads a bounded window of the
user's latest records. Query counts are pinned so that a per-row query (or a whole-history read) shows up here."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from recommender.injections import pages as injection_pages
from recommender.injections import selectors
from recommender.models import DoseRecord

from .factories import give, make_assessment, make_patient, make_plan

pytestmark = pytest.mark.django_db


def _rows(response) -> list[str]:
    return re.findall(r'data-dose="([0-9a-f-]+)"', response.content.decode())


def _weekly_plan(by):
    """A plan started long ago with weekly maintenance, so that many doses can be given in the past."""
    return make_plan(by, start=timezone.localdate() - timedelta(days=400), every=1, unit="weeks", individualised=True)


def _give(plan, nurse, count: int) -> None:
    for _ in range(count):
        give(plan, nurse)


def _queries(client, url: str) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured), response


def test_plan_page_shows_the_latest_doses_and_links_to_all(clinician_client, clinician, nurse):
    plan = _weekly_plan(clinician)
    _give(plan, nurse, selectors.PLAN_PAGE_DOSES + 4)
    response = clinician_client.get(reverse("plan-detail", args=[plan.pk]))

    shown = _rows(response)
    latest = [str(d.pk) for d in selectors.plan_doses(plan=plan)[: selectors.PLAN_PAGE_DOSES]]
    assert shown == latest
    assert reverse("plan-doses", args=[plan.pk]) in response.content.decode()
    # A nurse can still mark the latest dose entered in error from the plan page.
    nurse_client = Client()
    nurse_client.force_login(nurse)
    page = nurse_client.get(reverse("plan-detail", args=[plan.pk])).content.decode()
    assert reverse("dose-error", args=[latest[0]]) in page
    assert page.count("/entered-in-error/") == 1


def test_plan_page_with_few_doses_shows_them_all_and_no_link(clinician_client, clinician, nurse):
    plan = _weekly_plan(clinician)
    _give(plan, nurse, 3)
    response = clinician_client.get(reverse("plan-detail", args=[plan.pk]))
    assert len(_rows(response)) == 3
    assert reverse("plan-doses", args=[plan.pk]) not in response.content.decode()


def test_plan_page_costs_the_same_queries_with_5_or_25_doses(clinician_client, clinician, nurse):
    plan = _weekly_plan(clinician)
    _give(plan, nurse, 5)
    url = reverse("plan-detail", args=[plan.pk])
    clinician_client.get(url)  # warm the per-process caches (holidays, permissions)
    few, _ = _queries(clinician_client, url)
    _give(plan, nurse, 20)
    many, response = _queries(clinician_client, url)
    assert many == few
    assert len(_rows(response)) == selectors.PLAN_PAGE_DOSES


def test_all_doses_page_lists_every_record_once_a_page_at_a_time(clinician_client, clinician, nurse, monkeypatch):
    monkeypatch.setattr(injection_pages, "DOSES_PAGE_SIZE", 10)
    plan = _weekly_plan(clinician)
    _give(plan, nurse, 23)
    url = reverse("plan-doses", args=[plan.pk])

    pages = [_rows(clinician_client.get(url, {"page": n})) for n in (1, 2, 3)]
    assert [len(rows) for rows in pages] == [10, 10, 3]
    seen = [pk for rows in pages for pk in rows]
    assert seen == [str(d.pk) for d in selectors.plan_doses(plan=plan)]
    assert "page 1 of 3" in clinician_client.get(url).content.decode()
    # A page number out of range shows the last page rather than an error.
    assert _rows(clinician_client.get(url, {"page": 99})) == pages[2]


def test_all_doses_page_queries_do_not_grow_with_the_history(clinician_client, clinician, nurse):
    plan = _weekly_plan(clinician)
    _give(plan, nurse, 3)
    url = reverse("plan-doses", args=[plan.pk])
    clinician_client.get(url)
    few, _ = _queries(clinician_client, url)
    _give(plan, nurse, 20)
    many, _ = _queries(clinician_client, url)
    assert many == few


def test_all_doses_page_needs_the_view_permission(client, django_user_model, clinician):
    plan = _weekly_plan(clinician)
    client.force_login(django_user_model.objects.create_user("nobody", password="x" * 16))
    assert client.get(reverse("plan-doses", args=[plan.pk])).status_code == 403


def test_home_lists_the_users_latest_patients_newest_first(clinician_client, clinician, django_user_model):
    patients = [make_patient(by=clinician) for _ in range(12)]
    # A patient registered by someone else and assessed by this clinician counts; an old patient assessed again
    # comes back to the top.
    colleague = django_user_model.objects.create_user("dr_other", password="x" * 16)
    theirs = make_patient(by=colleague)
    make_assessment(theirs, clinician)
    make_assessment(patients[0], clinician)

    response = clinician_client.get(reverse("home"))
    listed = re.findall(r'href="/patients/([0-9a-f-]+)/"', response.content.decode())
    expected = [patients[0], theirs, *reversed(patients[4:])]
    assert listed == [str(p.pk) for p in expected]


def test_home_page_queries_do_not_grow_with_the_users_history(clinician_client, clinician):
    for _ in range(2):
        make_assessment(make_patient(by=clinician), clinician)
    url = reverse("home")
    clinician_client.get(url)
    few, _ = _queries(clinician_client, url)
    for _ in range(25):
        make_assessment(make_patient(by=clinician), clinician)
    many, response = _queries(clinician_client, url)
    assert many == few
    assert len(re.findall(r'href="/patients/[0-9a-f-]+/"', response.content.decode())) == 10


def test_home_page_reads_the_users_roles_once(clinician_client, clinician):
    url = reverse("home")
    clinician_client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = clinician_client.get(url)
    assert "Clinician" in response.content.decode()
    assert sum('"auth_user_groups"' in q["sql"] and '"auth_group"."name"' in q["sql"] for q in captured) == 1


def test_the_phases_values_sort_in_the_order_of_the_course():
    """A plan's records are ordered by phase value (``dose_course_order``): loading before maintenance."""
    assert list(DoseRecord.Phase.values) == sorted(DoseRecord.Phase.values) == ["loading", "maintenance"]


def test_the_latest_records_are_read_from_the_course_order_index_not_sorted_from_the_whole_history(clinician, nurse):
    """The plan page's latest ten and a page of all doses read the first rows of an index in the course's order
    (``dose_course_order``): the database reads as many rows as it shows, for a plan with 5 records or 500. The
    planner is told to avoid a sort and a table scan where it can: the index serves the order only if the
    query's ORDER BY is the index's own."""
    plan = _weekly_plan(clinician)
    _give(plan, nurse, 3)
    latest = selectors.plan_doses(plan=plan)[: selectors.PLAN_PAGE_DOSES + 1]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_sort = off")
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_bitmapscan = off")
        plan_text = latest.explain()
    assert "dose_course_order" in plan_text, plan_text
    assert "TEMP B-TREE" not in plan_text.upper() and "Sort Key" not in plan_text, plan_text
