"""The two requests of bench/bench_booking.py (a plan's bookings fragment proposing a free slot, and a session's day
list) through Django's test client, in-process: milliseconds per request next to the bare view's, the ratio, the
queries, and with --top N the N costliest functions (cProfile). A tool for finding what to make cheaper; the goal
(each ≥ 0.3 of the bare view's requests/s) is judged by bench/bench_booking.py under gunicorn.

It seeds bench_booking's data (10,000 patients booked across a year of sessions) into its OWN PostgreSQL database
the first time (BOOKING_BENCH_DATABASE_URL, default app_booking): never into the shared app_bench.

    python bench/booking_in_process.py [--repeat 50] [--top 30] [--redis]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import bench_env, prepare, redis_server, run_python  # noqa: E402

DATABASE_URL = os.environ.get("BOOKING_BENCH_DATABASE_URL", "postgres://app:app@127.0.0.1:5432/app_booking")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--top", type=int, default=0, help="profile: the N costliest functions (cumulative)")
    parser.add_argument("--redis", action="store_true", help="with a throwaway redis-server as the shared cache")
    args = parser.parse_args()
    if DATABASE_URL.rstrip("/").rsplit("/", 1)[1] == "app_bench":
        raise SystemExit("app_bench is shared and read-only: give this tool its own database")
    from bench.bench_booking import PATIENTS, QUERY_COUNT
    from bench.run import ensure_database

    env = bench_env(DATABASE_URL)
    env["DJANGO_ALLOWED_HOSTS"] += ",testserver"
    env["B12_HOLIDAYS"] = ""
    ensure_database(DATABASE_URL)
    session = prepare(env)
    seeded = run_python(env, "from recommender.models import Location; print(Location.objects.exists())")
    if seeded != "True":
        run_python(env, "from bench.bench_booking import seed; seed(10, first_batch=True); print('ok')")
        urls = run_python(env, "from bench.bench_booking import targets; print(targets())")
        print("queries with 10 patients (proposal, day list):", run_python(env, QUERY_COUNT.format(urls=urls)))
        run_python(env, f"from bench.bench_booking import seed; seed({PATIENTS - 10}, first_batch=False); print('ok')")
    urls = run_python(env, "from bench.bench_booking import targets; print(targets())")
    with ExitStack() as stack:
        if args.redis:
            env["REDIS_URL"] = stack.enter_context(redis_server())
        os.environ.update(env)
        measure(urls.split(), session, args)
    return 0


def measure(urls: list[str], session: str, args) -> None:
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.cookies["sessionid"] = session

    def timed(call) -> float:
        for _ in range(5):
            response = call()
            assert response.status_code == 200, (response.status_code, response.content[:300])
        start = time.perf_counter()
        for _ in range(args.repeat):
            call()
        return (time.perf_counter() - start) / args.repeat * 1000

    bare_ms = timed(lambda: client.get("/bench/bare"))
    print(f"{'bare view':40} {bare_ms:7.2f} ms")
    propose_url, day_list_url = urls
    for name, call in (
        ("GET proposal (plan bookings fragment)", lambda: client.get(propose_url, headers={"HX-Request": "true"})),
        ("GET day list", lambda: client.get(day_list_url)),
    ):
        ms = timed(call)
        with CaptureQueriesContext(connection) as queries:
            call()
        print(f"{name:40} {ms:7.2f} ms  ratio {bare_ms / ms:5.2f} (goal 0.3)  {len(queries)} queries")
        if args.top:
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(20):
                call()
            profile.disable()
            pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    sys.exit(main())
