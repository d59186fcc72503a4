"""SQLite as the embedded default: concurrent writers wait for each other (WAL, busy timeout, transactions that
take the write lock when they begin) instead of failing with "database is locked". Real gunicorn workers, threads
and processes, on one SQLite file."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.servers import app_server, at_once, dose_form, manage, migrated_sqlite_file, signed_in

CONCURRENT = 8


def seeded(database, plans: int) -> dict:
    url = f"sqlite:///{database}"
    output = manage(url, "shell", "-c", f"from tests.server_seed import seed; seed(plans={plans})")
    return json.loads(output.strip().splitlines()[-1])


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
