"""Where the time of a page goes, in-process: each endpoint of bench/run.py requested through Django's test client
(the same middleware, no gunicorn, no wrk) on the seeded benchmark database; prints milliseconds per request next
to the bare view's, the ratio, the queries, and with --top N the N costliest functions of one endpoint (cProfile).
A tool for finding what to make cheaper; the goals are judged by bench/run.py only.

    BENCH_DATABASE_URL=postgres://app:app@127.0.0.1:5432/app_bench python bench/where_time_goes.py [--only worklist]
        [--top 25] [--repeat 50] [--no-redis]      (SORT=tottime: the profile by each function's own time)

Like bench/run.py, with a throwaway redis-server as the shared cache when one is installed.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import bench_env, redis_server  # noqa: E402
from bench.run import DATABASE_URL, endpoints, prepare  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="endpoints whose name contains this")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--top", type=int, default=0, help="profile: the N costliest functions (cumulative)")
    parser.add_argument("--callers", default="", help="profile: who calls the functions matching this")
    parser.add_argument("--no-redis", action="store_true", help="without the shared cache (as bench/run.py)")
    args = parser.parse_args()
    if args.no_redis or not shutil.which("redis-server"):
        return measure(args, None)
    with redis_server() as url:
        return measure(args, url)


def measure(args, redis_url: str | None) -> int:
    env = bench_env(DATABASE_URL)
    if redis_url:
        env["REDIS_URL"] = redis_url
    env["DJANGO_ALLOWED_HOSTS"] += ",testserver"
    os.environ.update(env)

    ids = prepare(env)  # static files collected (the manifest the pages' tags read), the seed made or reused

    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    def request(spec: dict):
        client = Client()
        for part in filter(None, (spec.get("cookie") or "").split("; ")):
            name, value = part.split("=", 1)
            client.cookies[name] = value
        headers = {}
        for header in spec.get("headers", ()):
            name, value = header.split(": ", 1)
            headers[name] = value
        if "body" in spec:
            content_type = spec.get("content_type", "application/json")
            body = spec["body"]
            # The body as bench/run.py sends it (urlencoded, not the test client's multipart).
            return lambda: client.post(spec["path"], body, content_type=content_type, headers=headers)
        return lambda: client.get(spec["path"], headers=headers)

    def timed(call) -> float:
        for _ in range(5):
            response = call()
            assert response.status_code == 200, (response.status_code, response.content[:300])
        start = time.perf_counter()
        for _ in range(args.repeat):
            call()
        return (time.perf_counter() - start) / args.repeat * 1000

    bare = request({"path": "/bench/bare", "cookie": f"sessionid={ids['sessions']['bench'][0]}"})
    bare_ms = timed(bare)
    print(f"{'bare view':44} {bare_ms:7.2f} ms")
    for name, goal, spec in endpoints(ids):
        if args.only and args.only not in name:
            continue
        call = request(spec)
        ms = timed(call)
        with CaptureQueriesContext(connection) as queries:
            call()
        print(f"{name:44} {ms:7.2f} ms  ratio {bare_ms / ms:5.2f} (goal {goal})  {len(queries)} queries")
        if args.top:
            for query in sorted(queries.captured_queries, key=lambda q: -float(q["time"]))[: max(8, args.top)]:
                print(f"   {float(query['time']) * 1000:6.2f} ms  {query['sql'][:150]}")
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(20):
                call()
            profile.disable()
            stats = pstats.Stats(profile).sort_stats(os.environ.get("SORT", "cumulative"))
            if args.callers:
                stats.print_callers(args.callers)
            else:
                stats.print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
