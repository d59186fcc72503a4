"""SQLite as the embedded default: concurrent writers wait for each other (WAL, busy timeout, transactions that
take the write lock when they begin) instead of failing with "database is locked". Real gunicorn workers, threads
and processes, on one SQLite file."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone

from tests.servers import app_server, manage, migrated_sqlite_file

CSRF = "c" * 32
CONCURRENT = 8


def seeded(database, plans: int) -> dict:
    url = f"sqlite:///{database}"
    output = manage(url, "shell", "-c", f"from tests.server_seed import seed; seed(plans={plans})")
    return json.loads(output.strip().splitlines()[-1])


def dose_form(plan: dict) -> bytes:
    now = timezone.now().astimezone(ZoneInfo(settings.TIME_ZONE))
    return urlencode(
        {
            "csrfmiddlewaretoken": CSRF,
            "phase": plan["phase"],
            "number": plan["number"],
            "sequence": plan["sequence"],
            "outcome": "given",
            "allergy_checked": "on",
            "baseline_sample_taken": "on",
            "given_at": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "dose_mg": "1",
            "route": "IM",
            "site": "right_deltoid",
            "batch": "HX2025-118",
            "expiry": (now.date() + timedelta(days=90)).isoformat(),
            "reason": "",
        }
    ).encode()


def signed_in(session: str) -> dict:
    return {
        "Cookie": f"sessionid={session}; csrftoken={CSRF}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def at_once(calls) -> list:
    """Runs the calls in threads released together; returns their answers in order."""
    answers = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(index: int) -> None:
        start.wait()
        answers[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def dose_count(database) -> dict[str, int]:
    with sqlite3.connect(database) as connection:
        return dict(connection.execute("SELECT plan_id, COUNT(*) FROM recommender_doserecord GROUP BY plan_id"))


@pytest.fixture
def database(tmp_path):
    return migrated_sqlite_file(tmp_path)


def test_sqlite_file_runs_in_wal_mode_once_the_app_has_connected(database):
    seeded(database, plans=1)
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_eight_nurses_recording_the_same_dose_at_once_give_one_record_and_no_error(database):
    seed = seeded(database, plans=1)
    plan = seed["plans"][0]
    with app_server(f"sqlite:///{database}", workers=2, threads=4) as server:
        post = lambda: server.request(  # noqa: E731
            f"/plans/{plan['id']}/doses/record/", data=dose_form(plan), headers=signed_in(seed["sessions"]["nurse"])
        )
        answers = at_once([post] * CONCURRENT)
    assert [a.status for a in answers] == [302] * CONCURRENT, [a.body[:200] for a in answers if a.status != 302]
    assert dose_count(database) == {plan["id"].replace("-", ""): 1}


def test_eight_doses_on_different_plans_recorded_at_once_are_all_saved(database):
    seed = seeded(database, plans=CONCURRENT)
    with app_server(f"sqlite:///{database}", workers=2, threads=4) as server:

        def post(plan):
            return lambda: server.request(
                f"/plans/{plan['id']}/doses/record/",
                data=dose_form(plan),
                headers=signed_in(seed["sessions"]["nurse"]),
            )

        answers = at_once([post(plan) for plan in seed["plans"]])
    assert [a.status for a in answers] == [302] * CONCURRENT
    assert [a.headers["Location"] for a in answers] == ["/worklist/"] * CONCURRENT
    assert sorted(dose_count(database).values()) == [1] * CONCURRENT
