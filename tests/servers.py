"""App servers as subprocesses, the way a hospital runs them: gunicorn on a free port with the environment given.

Used by the outage, SQLite-concurrency and two-node tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from django.db import connection

from tests.factories import dose_form_data

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict
    body: str
    seconds: float


@dataclass(frozen=True)
class Server:
    base: str
    log: object = None  # the server's output (a temporary file)

    def log_text(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def request(
        self, path: str, *, data: bytes | None = None, headers: dict | None = None, timeout: float = 20
    ) -> Answer:
        request = urllib.request.Request(self.base + path, data=data, headers=headers or {})  # noqa: S310 (http only)
        started = time.monotonic()
        try:
            with _NO_REDIRECTS.open(request, timeout=timeout) as response:
                body = response.read().decode()
                return Answer(response.status, dict(response.headers), body, time.monotonic() - started)
        except urllib.error.HTTPError as error:
            return Answer(error.code, dict(error.headers), error.read().decode(), time.monotonic() - started)


class _KeepRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_NO_REDIRECTS = urllib.request.build_opener(_KeepRedirects)


def server_env(database_url: str, **extra: str) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "DJANGO_"))}
    env |= {
        "DJANGO_SETTINGS_MODULE": "tests.server_settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "test-servers-only-" + "x" * 40,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_LOG_LEVEL": "WARNING",
        "DATABASE_URL": database_url,
        "PYTHONPATH": str(ROOT),
    }
    return env | extra


@contextmanager
def app_server(database_url: str, *, workers: int = 1, threads: int = 4, **extra: str):
    """A gunicorn serving the app on a free port; yields a Server once /healthz answers, stops it afterwards."""
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", "b12site.wsgi",
        "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
        "--timeout", "60", "--graceful-timeout", "2",
    ]  # fmt: skip
    # A file, not a pipe: a chatty server must never block on a full pipe. Closed in the finally below.
    log = tempfile.TemporaryFile()  # noqa: SIM115
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        command, cwd=ROOT, env=server_env(database_url, **extra), stdout=log, stderr=subprocess.STDOUT
    )
    server = Server(f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"gunicorn exited: {log.read().decode()[-2000:]}")
            try:
                if server.request("/healthz", timeout=2).status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer /healthz within 30 s")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def manage(database_url: str, *args: str, **extra: str) -> str:
    """Run ``manage.py`` against ``database_url`` (as the servers see it); returns its output."""
    done = subprocess.run(  # noqa: S603 (our own interpreter and arguments)
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=server_env(database_url, **extra),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def migrated_sqlite_file(folder: Path) -> Path:
    """A fresh SQLite file with every migration applied (and the roles the migrations create)."""
    database = folder / "migrated.sqlite3"
    manage(f"sqlite:///{database}", "migrate", "--noinput", "-v", "0")
    return database


# Signed-in posts to the servers: the CSRF cookie and the form's token carry the same (unmasked) secret.
CSRF = "c" * 32


def database_url() -> str:
    """The test database as a URL the servers can open (PostgreSQL)."""
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def dose_form(plan: dict) -> bytes:
    """The dose form's post for a plan's next dose (``plan``: its phase, number and sequence), with the CSRF token."""
    fields = dose_form_data(phase=plan["phase"], number=plan["number"], sequence=plan["sequence"])
    return urlencode({"csrfmiddlewaretoken": CSRF, **fields}).encode()


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
