"""Run the site under gunicorn (DEBUG off, loopback) and load it with wrk; bounded runs only."""

from __future__ import annotations

import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_env(database_url: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SECURE_SSL_REDIRECT="0",
        PYTHONPATH=str(ROOT),
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def manage(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    out = subprocess.run(
        [PY, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True, input=stdin
    )
    return out.stdout


def prepare(env: dict[str, str]) -> str:
    """Migrate, collect static files, create a clinician and return a session cookie for it."""
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput")
    code = (
        "from django.contrib.auth import get_user_model;"
        "from django.contrib.auth.models import Group;"
        "from recommender.access.sessions import SessionStore;"
        "from django.contrib.auth import SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY;"
        "U=get_user_model(); u,_=U.objects.get_or_create(username='bench');"
        "u.set_password('bench-password-123'); u.save(); u.groups.add(Group.objects.get(name='clinician'));"
        "s=SessionStore(); s[SESSION_KEY]=str(u.pk);"
        "from django.conf import settings;"
        "s[BACKEND_SESSION_KEY]=settings.AUTHENTICATION_BACKENDS[-1];"
        "s[HASH_SESSION_KEY]=u.get_session_auth_hash(); s.create(); print(s.session_key)"
    )
    return manage(env, "shell", "-c", code).strip().splitlines()[-1]


def run_python(env: dict[str, str], code: str) -> str:
    """Run code in the project's Django shell; return its last printed line."""
    return manage(env, "shell", "-c", code).strip().splitlines()[-1]


@contextmanager
def gunicorn(env: dict[str, str], workers: int = 2):
    port = free_port()
    proc = subprocess.Popen(
        [PY, "-m", "gunicorn", "b12site.wsgi", "-b", f"127.0.0.1:{port}", "-w", str(workers), "--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def wrk(
    url: str,
    *,
    cookie: str,
    seconds: int = 10,
    connections: int = 8,
    body: str | None = None,
    content_type: str = "application/json",
    headers: tuple[str, ...] = (),
) -> dict:
    """Requests per second and error count from one bounded wrk run (non-2xx/3xx answers count as errors).
    One request is checked first: it must answer 200, not a redirect to the login page."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed for the load benchmarks: apt-get install -y wrk")
    check = urllib.request.Request(  # noqa: S310 (the benchmark's own loopback URL)
        url,
        data=body.encode() if body is not None else None,
        headers={"Cookie": cookie, **dict(h.split(": ", 1) for h in headers), "Content-Type": content_type},
    )
    with urllib.request.build_opener(_NoRedirect).open(check) as answer:
        if answer.status != 200:
            raise SystemExit(f"{url} answered {answer.status}, not 200: the benchmark would measure the wrong thing")
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-H", f"Cookie: {cookie}"]
    for header in headers:
        args += ["-H", header]
    with tempfile.TemporaryDirectory() as tmp:
        if body is not None:
            escaped = body.replace("\\", "\\\\").replace('"', '\\"')
            script = Path(tmp) / "post.lua"
            script.write_text(
                f'wrk.method = "POST"\nwrk.body = "{escaped}"\nwrk.headers["Content-Type"] = "{content_type}"\n'
            )
            args += ["-s", str(script)]
        out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    return {"rps": rps, "requests": total, "errors": errors}


def measure(base: str, request: dict, seconds: int) -> dict:
    """One wrk run of ``request`` (its path, cookie, and wrk's other arguments: body, headers…) on ``base``."""
    request = dict(request)
    path = request.pop("path")
    return wrk(f"{base}{path}", seconds=seconds, **request)


@dataclass
class Interleaved:
    """What ``interleaved`` measured: per endpoint, its ratio to the bare view in each round, its requests/s, and
    its errors (the bare view's under "bare view")."""

    ratios: dict[str, list[float]] = field(default_factory=dict)
    rps: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)


BARE = "bare view"


def interleaved(base: str, bare: dict, points: dict[str, dict], *, rounds: int, seconds: int) -> Interleaved:
    """Each endpoint against the bare view on the same server: after a warm-up, ``rounds`` rounds in which every
    endpoint, in a shuffled order, is measured right after the bare view; its ratio is its requests/s over the bare
    view's just before it (the machine's drift cancels out). The benchmarks judge the median ratio."""
    out = Interleaved(
        {name: [] for name in points}, {BARE: [], **{name: [] for name in points}}, dict.fromkeys([BARE, *points], 0)
    )
    measure(base, bare, 2)  # warm-up: both workers, connections, caches
    for request in points.values():
        measure(base, request, 1)
    for round_number in range(1, rounds + 1):
        for name in random.sample(list(points), len(points)):
            floor, page = measure(base, bare, seconds), measure(base, points[name], seconds)
            out.rps[BARE].append(floor["rps"])
            out.rps[name].append(page["rps"])
            out.errors[BARE] += floor["errors"]
            out.errors[name] += page["errors"]
            out.ratios[name].append(page["rps"] / floor["rps"])
        print(f"round {round_number}/{rounds} done", file=sys.stderr)
    return out


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@contextmanager
def redis_server():
    """A throwaway Redis (Debian's redis-server) on a free port, nothing saved to disk: the nodes' shared cache."""
    port = free_port()
    process = subprocess.Popen(
        [shutil.which("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)
