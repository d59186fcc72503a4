"""Issue 16, item 5: the clinic dashboard's weekly figures on a small fixed clinic, its CSV, and its queries."""

from __future__ import annotations

import csv
import io
import zoneinfo
from datetime import date, datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import ILEAL, give, make_plan, miss

LONDON = zoneinfo.ZoneInfo("Europe/London")
TODAY = datetime(2027, 3, 17, 12, 0, tzinfo=LONDON)  # a Wednesday


def travel(*args):
    return time_machine.travel(datetime(*args, tzinfo=LONDON), tick=False)


@pytest.fixture
def clinic(clinician, nurse):
    """Three monthly plans (ileal resection, no loading):

    - A from Mon 1 Feb 2027: given 1 Feb; did not attend 1 Mar; given the next day, 2 Mar.
    - B from Mon 8 Mar 2027: nothing recorded (not yet recorded on the 17th).
    - C from Mon 2 Nov 2026: nothing recorded, and its first monitoring review (3 months) passed with no results."""
    with travel(2027, 2, 1, 9, 0):
        a = make_plan(clinician, ILEAL, start=date(2027, 2, 1), every=1)
    with travel(2027, 2, 1, 11, 0):
        give(a, nurse)
    with travel(2027, 3, 1, 18, 0):
        miss(a, nurse)
    with travel(2027, 3, 2, 11, 0):
        give(a, nurse)
    with travel(2027, 3, 17, 9, 0):
        b = make_plan(clinician, ILEAL, start=date(2027, 3, 8), every=1)
        c = make_plan(clinician, ILEAL, start=date(2026, 11, 2), every=1)
    return a, b, c


def dashboard(client, user, path="dashboard"):
    with time_machine.travel(TODAY, tick=False):
        client.force_login(user)
        return client.get(reverse(path))


def test_the_dashboard_figures_on_a_fixed_clinic(client, nurse, clinic):
    response = dashboard(client, nurse)
    assert response.status_code == 200
    weeks = {w.monday: w for w in response.context["weeks"]}
    assert len(weeks) == 26 and max(weeks) == date(2027, 3, 15) and min(weeks) == date(2026, 9, 21)

    def figures(monday):
        w = weeks[monday]
        return (w.due, w.given, w.overdue, w.dna, w.dna_rate, w.monitoring_overdue)

    assert figures(date(2026, 11, 2)) == (1, 0, 1, 0, 0.0, 0)  # C's first dose, never recorded
    assert figures(date(2027, 2, 1)) == (1, 1, 0, 0, 0.0, 1)  # A given on time; C's review due Tue 2 Feb
    assert figures(date(2027, 3, 1)) == (2, 1, 1, 1, 50.0, 0)  # A: did not attend, then given the next day
    assert figures(date(2027, 3, 8)) == (1, 0, 1, 0, 0.0, 0)  # B not yet recorded
    quiet = set(weeks) - {date(2026, 11, 2), date(2027, 2, 1), date(2027, 3, 1), date(2027, 3, 8)}
    assert all(figures(monday) == (0, 0, 0, 0, None, 0) for monday in quiet)
    assert response.context["totals"] == {"due": 5, "given": 2, "overdue": 3, "dna": 1, "dna_rate": 20.0}
    assert response.context["share"] == {"active": 3, "on_schedule": 1, "percent": 33.3}
    assert response.context["monitoring_patients"] == 1
    body = response.content.decode()
    assert body.count("<svg") == 3 and 'role="img"' in body
    assert "DNA rate, week of 01 Mar 2027: 50%" in body  # each bar says its number


def test_the_dashboard_csv_has_the_numbers_behind_the_charts(client, clinician, clinic):
    response = dashboard(client, clinician, "dashboard-csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][0] == "week starting" and len(rows) == 27
    by_week = {row[0]: row[1:] for row in rows[1:]}
    assert by_week["2027-03-01"] == ["2", "1", "1", "1", "50", "0"]
    assert by_week["2027-02-01"] == ["1", "1", "0", "0", "0", "1"]
    assert by_week["2026-12-07"] == ["0", "0", "0", "0", "", "0"]


def test_the_dashboard_is_a_few_queries_however_many_plans(client, nurse, clinician, clinic):
    def queries() -> int:
        with time_machine.travel(TODAY, tick=False):
            client.force_login(nurse)
            with CaptureQueriesContext(connection) as captured:
                assert client.get(reverse("dashboard")).status_code == 200
        return len(captured)

    before = queries()
    with travel(2027, 3, 17, 9, 0):
        for _ in range(4):
            make_plan(clinician, ILEAL, start=date(2027, 1, 4), every=1)
    assert queries() == before
