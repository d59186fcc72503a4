"""A database that is down or hung: pages answer a plain 503 page and the API a JSON 503 within a few seconds,
never a 500, a trace or a hang (not even the login page), and service resumes by itself when the database returns.

Real gunicorn servers (tests/servers.py) pointed at a closed port, at a listener that accepts and never answers,
and at an SQLite file that appears later."""

from __future__ import annotations

import json
import shutil
import socket
import threading
from contextlib import contextmanager

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from recommender.ops.outages import UNAVAILABLE
from tests.factories import make_patient
from tests.server_seed import signed_in_session
from tests.servers import app_server, free_port, migrated_sqlite_file

# A session cookie makes every page read the database (the session), as a signed-in clinician's pages do.
SIGNED_IN = {"Cookie": "sessionid=" + "a" * 32}
CSRF = "b" * 32
LOGIN_POST = f"csrfmiddlewaretoken={CSRF}&username=dr_jones&password=not-the-password".encode()
LOGIN_HEADERS = {"Cookie": f"csrftoken={CSRF}", "Content-Type": "application/x-www-form-urlencoded"}
API_BODY = b'{"b12": {"value": 150, "unit": "pg/mL"}}'
API_HEADERS = {"Authorization": "Bearer some-token", "Content-Type": "application/json"}
# The default connect timeout is 3 s, the statement timeout 5 s: an answer comes well before gunicorn's 30 s kill.
PROMPT = 10


@contextmanager
def silent_database():
    """A TCP listener that accepts connections and never says a word (a hung database server)."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()


def assert_unavailable_everywhere(server) -> None:
    page = server.request("/", headers=SIGNED_IN)
    assert page.status == 503, page.body[:300]
    assert UNAVAILABLE in page.body
    assert "Traceback" not in page.body and "OperationalError" not in page.body
    assert page.headers["Retry-After"]
    assert page.seconds < PROMPT

    worklist = server.request("/worklist/", headers=SIGNED_IN)
    assert worklist.status == 503 and worklist.seconds < PROMPT

    api = server.request("/api/v1/recommendation", data=API_BODY, headers=API_HEADERS)
    assert api.status == 503
    assert api.headers["Content-Type"] == "application/json"
    assert json.loads(api.body) == {"errors": {"service": [UNAVAILABLE]}}
    assert api.seconds < PROMPT

    login_page = server.request("/login/")
    assert login_page.status in {200, 503} and login_page.seconds < PROMPT
    login = server.request("/login/", data=LOGIN_POST, headers=LOGIN_HEADERS)
    assert login.status == 503, login.body[:300]
    assert login.seconds < PROMPT

    ready = server.request("/readyz")
    assert ready.status == 503
    assert '"database": "unavailable"' in ready.body
    assert ready.seconds < PROMPT
    assert server.request("/healthz").status == 200  # the process itself is alive

    log = server.log_text()
    assert "Traceback" not in log
    # One line for each request the outage refused (pages, API, login; /readyz logs its own), nothing more.
    assert log.count("database unavailable: ") == 4 + (login_page.status == 503), log[-3000:]


def test_a_closed_database_port_answers_503_pages_and_json(tmp_path):
    closed = free_port()
    with app_server(f"postgres://app:app@127.0.0.1:{closed}/b12") as server:
        assert_unavailable_everywhere(server)


def test_a_database_that_never_answers_answers_503_within_the_connect_timeout():
    with silent_database() as port, app_server(f"postgres://app:app@127.0.0.1:{port}/b12") as server:
        assert_unavailable_everywhere(server)


def test_service_resumes_by_itself_when_the_database_returns(tmp_path, migrated_sqlite):
    database = tmp_path / "data" / "b12.sqlite3"  # its folder does not exist yet: the database is "down"
    paths = ["/", "/patients/", "/api/v1/recommendation"]
    with app_server(f"sqlite:///{database}") as server:
        assert server.request("/readyz").status == 503
        assert [server.request(path, headers=SIGNED_IN | API_HEADERS).status for path in paths] == [503] * 3

        database.parent.mkdir()
        shutil.copy(migrated_sqlite, database)

        assert server.request("/readyz").status == 200
        # The unknown session is sent to sign in again; the unknown API token is refused.
        assert [server.request(path, headers=SIGNED_IN | API_HEADERS).status for path in paths] == [302, 302, 401]


@pytest.fixture(scope="module")
def migrated_sqlite(tmp_path_factory):
    return migrated_sqlite_file(tmp_path_factory.mktemp("migrated"))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="statement_timeout is PostgreSQL's")
def test_a_query_the_database_never_finishes_is_stopped_by_the_statement_timeout(clinician):
    from tests.test_ops_nodes import database_url

    session = signed_in_session(clinician)
    patient = make_patient(by=clinician)
    blocker = psycopg.connect(database_url(), autocommit=False)
    try:
        blocker.execute("LOCK TABLE recommender_patient IN ACCESS EXCLUSIVE MODE")  # every read of patients waits
        with app_server(database_url(), DJANGO_SECRET_KEY=settings.SECRET_KEY) as server:
            page = server.request(f"/patients/{patient.pk}/", headers={"Cookie": f"sessionid={session}"})
        assert page.status == 503
        assert UNAVAILABLE in page.body
        assert 4 < page.seconds < PROMPT  # the web server's default statement timeout is 5 s
    finally:
        blocker.rollback()
        blocker.close()
