"""Every page and endpoint against a bare Django view on the same gunicorn (2 workers, DEBUG off, loopback),
on PostgreSQL seeded with 10,000 patients and 500,000 doses (history tables filled; see bench/seed.py).

Each round measures, for every endpoint, the bare view and then the endpoint (wrk, a few seconds each), in a
shuffled order; the ratio is the endpoint's requests/s over the bare view's measured just before it. The table
shows the median ratio over the rounds (and its spread), and the script exits 1 when a goal is missed:
API ≥ 0.8, htmx fragment ≥ 0.5, every other page ≥ 0.3, and the plan page with 250 doses within 10 % of the
same plan with 5.

    BENCH_DATABASE_URL=postgres://app:app@127.0.0.1:5432/app_bench python bench/run.py [--rounds 5] [--seconds 3]
        [--no-redis]

With redis-server installed the app runs with REDIS_URL (the shared cache of several nodes), as in production.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import PY, bench_env, gunicorn, interleaved, manage, redis_server  # noqa: E402

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://app:app@127.0.0.1:5432/app_bench")

API_BODY = json.dumps({"b12": {"value": 150, "unit": "pg/mL"}, "neurological_involvement": True, "severe": True})
FORM = {
    "sample_date": datetime.now(UTC).date().strftime("%d/%m/%Y"),
    "b12_value": "150",
    "b12_unit": "pg/mL",
    "active_b12_unit": "pmol/L",
    "homocysteine_unit": "umol/L",
    "neurological_involvement": "on",
    "severe": "on",
}


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def prepare(env: dict[str, str]) -> dict:
    """Migrate, collect static files, seed (or reuse the seed); the ids, sessions and API token."""
    ensure_database(env["DATABASE_URL"])
    manage(env, "collectstatic", "--noinput")
    out = subprocess.run([PY, "-m", "bench.seed"], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    sys.stderr.write(out.stderr[-2000:] if "seeded" in out.stderr else "")
    return json.loads(out.stdout.strip().splitlines()[-1])


# name, goal (ratio to the bare view), request
def endpoints(ids: dict) -> list[tuple[str, float, dict]]:
    clinician = f"sessionid={ids['sessions']['bench'][0]}"
    nurse = f"sessionid={ids['sessions']['bench-nurse'][0]}"
    csrf = secrets.token_hex(16)
    plan, patient = ids["plan"], ids["patient"]
    return [
        (
            "API decision (POST, bearer token)",
            0.8,
            {
                "path": "/api/v1/recommendation",
                "cookie": "",
                "body": API_BODY,
                "headers": (f"Authorization: Bearer {ids['api_token']}",),
            },
        ),
        (
            "htmx fragment: assessment preview",
            0.5,
            {
                "path": f"/patients/{patient}/assess/preview/",
                "cookie": f"{clinician}; csrftoken={csrf}",
                "body": urlencode(FORM),
                "content_type": "application/x-www-form-urlencoded",
                "headers": ("HX-Request: true", f"X-CSRFToken: {csrf}"),
            },
        ),
        ("assessment page", 0.3, {"path": f"/patients/{patient}/assess/", "cookie": clinician}),
        ("worklist (nurse)", 0.3, {"path": "/worklist/", "cookie": nurse}),
        ("plan page, 5 doses", 0.3, {"path": f"/plans/{ids['short_plan']}/", "cookie": clinician}),
        ("plan page, 250 doses", 0.3, {"path": f"/plans/{ids['long_plan']}/", "cookie": clinician}),
        ("all doses page (250, page 1)", 0.3, {"path": f"/plans/{ids['long_plan']}/doses/", "cookie": clinician}),
        ("patient page", 0.3, {"path": f"/patients/{patient}/", "cookie": clinician}),
        ("home page (10,000 own patients)", 0.3, {"path": "/", "cookie": clinician}),
        ("month view", 0.3, {"path": f"/plans/{plan}/calendar/", "cookie": clinician}),
        (".ics", 0.3, {"path": f"/plans/{plan}/calendar.ics", "cookie": clinician}),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument(
        "--no-redis",
        action="store_true",
        help="without the shared cache (default: a throwaway redis-server if installed)",
    )
    parser.add_argument(
        "--only",
        default="",
        help="measure only the endpoints whose name contains this (the goals of the others unjudged)",
    )
    args = parser.parse_args()
    env = bench_env(DATABASE_URL)
    env.pop("DJANGO_LOG_LEVEL", None)
    with ExitStack() as stack:
        if not args.no_redis and shutil.which("redis-server"):
            env["REDIS_URL"] = stack.enter_context(redis_server())
        return run(env, args)


def run(env: dict[str, str], args) -> int:
    ids = prepare(env)
    points = [point for point in endpoints(ids) if args.only in point[0]]
    bare_request = {"path": "/bench/bare", "cookie": f"sessionid={ids['sessions']['bench'][0]}"}
    started = datetime.now(UTC)
    with gunicorn(env) as base:
        measured = interleaved(
            base, bare_request, {name: request for name, _, request in points}, rounds=args.rounds, seconds=args.seconds
        )
    ratios, rps, errors = measured.ratios, measured.rps, measured.errors
    elapsed = (datetime.now(UTC) - started).total_seconds()

    print(
        f"bench/run.py — {started:%Y-%m-%d %H:%M} UTC, {args.rounds} rounds × {args.seconds} s per run, "
        f"gunicorn 2 sync workers, DEBUG off, PostgreSQL, "
        f"{'Redis shared cache' if env.get('REDIS_URL') else 'no cache'} ({elapsed / 60:.0f} min)"
    )
    print(f"{'endpoint':36} {'req/s':>7} {'ratio':>6} {'min–max':>11} {'goal':>6} {'errors':>6}  verdict")
    print(
        f"{'bare view':36} {statistics.median(rps['bare view']):7.0f} {'1.00':>6} {'':>11} {'':>6} "
        f"{errors['bare view']:6d}"
    )
    missed = []
    for name, goal, _ in points:
        median = statistics.median(ratios[name])
        met = median >= goal and errors[name] == 0
        if not met:
            missed.append(name)
        spread = f"{min(ratios[name]):.2f}–{max(ratios[name]):.2f}"
        print(
            f"{name:36} {statistics.median(rps[name]):7.0f} {median:6.2f} {spread:>11} {'≥' + str(goal):>6} "
            f"{errors[name]:6d}  {'met' if met else 'NOT met'}"
        )
    if "plan page, 250 doses" in ratios and "plan page, 5 doses" in ratios:
        per_round = [
            long / short
            for long, short in zip(ratios["plan page, 250 doses"], ratios["plan page, 5 doses"], strict=True)
        ]
        history = statistics.median(per_round)
        met = history >= 0.9
        if not met:
            missed.append("plan page 250 vs 5 doses")
        print(
            f"{'plan page 250 doses / 5 doses':36} {'':7} {history:6.2f} {'':>11} {'≥0.9':>6} {'':6}  "
            f"{'met' if met else 'NOT met'}"
        )
    if args.only:
        print(f"only the endpoints matching {args.only!r} were measured")
    print("all goals met" if not missed else f"goals missed: {', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    time.tzset()
    sys.exit(main())
