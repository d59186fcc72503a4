"""Load: the clinic's mix (bench/locustfile.py) against gunicorn (2 sync workers, DEBUG off) on the seeded
PostgreSQL (bench/seed.py), locust headless with 32 users.

0. Warm-up: the same mix for a few seconds, not counted (each worker compiles its templates and fills its caches on
   its first requests, as a service does once after a restart, not on a clinic day).
1. The clinic-realistic run: 60 s at BENCH_RATE requests/s (default 60) in total. Goal: 0 failures, the rate
   reached, p99 < 150 ms.
2. Saturation: the same mix with no waiting for 30 s, and the bare view through the same locust users for 30 s;
   the mix's requests/s as a ratio to the bare view's.

Prints one table per run (p50/p95/p99 per request kind) and exits 1 when a goal is missed.

    BENCH_DATABASE_URL=postgres://app:app@127.0.0.1:5432/app_bench python bench/load.py
Needs locust (requirements-dev.txt); LOCUST=/path/to/locust to use another installation.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import bench_env, gunicorn  # noqa: E402
from bench.run import DATABASE_URL, prepare  # noqa: E402

MIX = ["Clinician", "Nurse", "ApiClient"]


def locust_command() -> str:
    found = os.environ.get("LOCUST") or shutil.which("locust", path=str(Path(sys.executable).parent))
    if not found:
        raise SystemExit("locust is needed: pip install -r requirements-dev.txt (or set LOCUST=/path/to/locust)")
    return found


def run_locust(base: str, ids: dict, *, classes: list[str], users: int, seconds: int, rate: float) -> list[dict]:
    env = dict(os.environ)
    env.update(BENCH_SESSIONS=json.dumps(ids), BENCH_RATE=str(rate), BENCH_USERS=str(users))
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp) / "run"
        subprocess.run(
            [
                locust_command(),
                "-f",
                str(ROOT / "bench" / "locustfile.py"),
                "--headless",
                "--host",
                base,
                "-u",
                str(users),
                "-r",
                str(users),
                "-t",
                f"{seconds}s",
                "--csv",
                str(prefix),
                "--only-summary",
                "--loglevel",
                "WARNING",
                "--exit-code-on-error",
                "0",
                *classes,
            ],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        failures = Path(f"{prefix}_failures.csv").read_text()
        if failures.count("\n") > 1:
            sys.stderr.write(failures)
        with open(f"{prefix}_stats.csv") as stats:
            return list(csv.DictReader(stats))


def table(title: str, rows: list[dict]) -> dict:
    print(title)
    print(f"  {'request':28} {'count':>7} {'fail':>5} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")
    total = {}
    for row in rows:
        name = row["Name"] if row["Name"] != "Aggregated" else "ALL"
        print(
            f"  {name:28} {int(row['Request Count']):7d} {int(row['Failure Count']):5d} "
            f"{float(row['Requests/s']):7.1f} {row['50%']:>7} {row['95%']:>7} {row['99%']:>7}"
        )
        if row["Name"] == "Aggregated":
            total = row
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--rate", type=float, default=float(os.environ.get("BENCH_RATE", "60")))
    parser.add_argument("--saturation-seconds", type=int, default=30)
    parser.add_argument("--warm-up-seconds", type=int, default=10)
    args = parser.parse_args()
    env = bench_env(DATABASE_URL)
    ids = prepare(env)
    started = datetime.now(UTC)
    with gunicorn(env) as base:
        run_locust(base, ids, classes=MIX, users=args.users, seconds=args.warm_up_seconds, rate=args.rate)
        steady = run_locust(base, ids, classes=MIX, users=args.users, seconds=args.seconds, rate=args.rate)
        mix = run_locust(base, ids, classes=MIX, users=args.users, seconds=args.saturation_seconds, rate=0)
        bare = run_locust(base, ids, classes=["Bare"], users=args.users, seconds=args.saturation_seconds, rate=0)
    print(
        f"bench/load.py — {started:%Y-%m-%d %H:%M} UTC; locust {args.users} users, gunicorn 2 sync workers, "
        "DEBUG off, PostgreSQL 10,000 patients / 500,000 doses"
    )
    total = table(f"1. clinic rate: {args.rate:.0f} req/s offered for {args.seconds} s", steady)
    mix_total = table(f"2. saturation, the mix, no waiting, {args.saturation_seconds} s", mix)
    bare_total = table(f"3. saturation, the bare view, no waiting, {args.saturation_seconds} s", bare)
    failures = int(total["Failure Count"]) + int(mix_total["Failure Count"])
    achieved, p99 = float(total["Requests/s"]), float(total["99%"])
    ratio = float(mix_total["Requests/s"]) / float(bare_total["Requests/s"])
    met = {
        "0 failures": failures == 0,
        f"rate ≥ {0.95 * args.rate:.0f} req/s reached": achieved >= 0.95 * args.rate,
        "p99 < 150 ms": p99 < 150,
    }
    print(
        f"clinic rate: {achieved:.1f} req/s, p50 {total['50%']} ms, p95 {total['95%']} ms, p99 {total['99%']} ms, "
        f"{failures} failures"
    )
    print(
        f"saturation: mix {float(mix_total['Requests/s']):.0f} req/s / bare {float(bare_total['Requests/s']):.0f} "
        f"req/s = {ratio:.2f}"
    )
    for goal, ok in met.items():
        print(f"  {goal}: {'met' if ok else 'NOT met'}")
    return 0 if all(met.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
