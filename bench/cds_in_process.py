"""Where the time of a CDS Hooks call goes, in-process: POST /cds-services/b12-review with bench/bench_cds.py's
prefetch and a freshly signed JWT per call (ES384, then RS384; tokens signed before the clock starts), through
Django's test client (the same middleware, no gunicorn, no wrk) on the seeded benchmark database, called in turn
with the bare view; prints milliseconds per call beside the bare view's and the ratio, both in wall-clock time and
in CPU time (this process, its database backend and the Redis server: steadier on a busy machine), the queries,
and with --top N the N costliest functions (cProfile). A tool for finding what to make cheaper; the goal is judged
by bench/bench_cds.py.

Registers the benchmark's client and its patient as bench/bench_cds.py does (the patient authored by the API user,
so no clinician's home page changes); every call stores its jti and its card, as a real call does.

    BENCH_DATABASE_URL=postgres://app:app@127.0.0.1:5432/app_bench python bench/cds_in_process.py [--redis]
        [--repeat 100] [--rounds 5] [--top 30] [--sort tottime]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_cds import ISSUER, NHS_NUMBER, PATH, hook_body, jwks, keys, tokens  # noqa: E402
from bench.harness import PY, bench_env, redis_server  # noqa: E402
from bench.run import DATABASE_URL  # noqa: E402


def _register(private: dict) -> None:
    from django.contrib.auth import get_user_model

    from recommender.interop.cds.services import cds_client_register
    from recommender.models import Patient

    cds_client_register(issuer=ISSUER, jwks=jwks(private))
    Patient.objects.get_or_create(
        nhs_number=NHS_NUMBER,
        defaults={
            "hospital_number": "CDS0001",
            "family_name": "Bench",
            "given_name": "Cds",
            "date_of_birth": "1950-01-01",
            "created_by": get_user_model().objects.get(username="bench-api"),
        },
    )


def _cpu_ns(pids: list) -> int:
    """Nanoseconds on a CPU so far of these processes' main threads (/proc/PID/schedstat)."""
    return sum(int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) for pid in pids)


def _redis_pids() -> list[int]:
    """The throwaway redis-server of REDIS_URL (its port on the command line), if any."""
    port = os.environ.get("REDIS_URL", "").rsplit(":", 1)[-1].split("/")[0]
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            command = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if port and command[0].endswith(b"redis-server") and port.encode() in command:
            found.append(int(proc.name))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=100, help="calls of each per round")
    parser.add_argument("--rounds", type=int, default=5, help="the ratios shown are the median of the rounds'")
    parser.add_argument("--top", type=int, default=0, help="profile: the N costliest functions (cumulative)")
    parser.add_argument("--sort", default="cumulative", help="profile order: cumulative or tottime")
    parser.add_argument("--redis", action="store_true", help="with a throwaway redis-server as the shared cache")
    args = parser.parse_args()
    with ExitStack() as stack:
        env = bench_env(DATABASE_URL)
        env["DJANGO_ALLOWED_HOSTS"] += ",testserver"
        if args.redis and shutil.which("redis-server"):
            env["REDIS_URL"] = stack.enter_context(redis_server())
        os.environ.update(env)
        return run(args)


def run(args) -> int:
    out = subprocess.run([PY, "-m", "bench.seed"], cwd=ROOT, env=dict(os.environ), check=True, capture_output=True)
    ids = json.loads(out.stdout.decode().strip().splitlines()[-1])

    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    private = keys()
    _register(private)
    body = hook_body()
    audience = "http://testserver" + PATH
    bare_client = Client()
    bare_client.cookies["sessionid"] = ids["sessions"]["bench"][0]
    service_client = Client()

    def bare():
        response = bare_client.get("/bench/bare")
        assert response.status_code == 200, response.status_code

    def signed(alg: str, count: int):
        batch = iter(tokens(private[alg], alg, audience, count))

        def call():
            response = service_client.post(
                PATH, body, content_type="application/json", headers={"Authorization": f"Bearer {next(batch)}"}
            )
            assert response.status_code == 200, (response.status_code, response.content[:300])
            assert len(json.loads(response.content)["cards"]) == 1
            return response

        return call

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pids = ["self", cursor.fetchone()[0], *_redis_pids()]

    def alternated(call, repeat: int) -> dict[str, float]:
        """The bare view and the service called in turn, one each, so that both meet the same load on a busy
        machine: wall-clock and CPU ms per call of each (CPU: this process, its database backend and the Redis
        server: what a call costs the cores)."""
        spent = dict.fromkeys(("bare", "service", "bare cpu", "service cpu"), 0.0)
        for _ in range(repeat):
            for name, target in (("bare", bare), ("service", call)):
                start, start_cpu = time.perf_counter(), _cpu_ns(pids)
                target()
                spent[f"{name} cpu"] += (_cpu_ns(pids) - start_cpu) / 1e6
                spent[name] += (time.perf_counter() - start) * 1000
        return {name: total / repeat for name, total in spent.items()}

    print(f"cache: {'Redis' if os.environ.get('REDIS_URL') else 'none'}; bare view and service called in turn")
    for alg in ("ES384", "RS384"):
        call = signed(alg, args.repeat * args.rounds + 30)
        for _ in range(5):
            bare()
            call()
        rounds = [alternated(call, args.repeat) for _ in range(args.rounds)]
        with CaptureQueriesContext(connection) as queries:
            call()

        def median(name: str, rounds=rounds) -> float:
            return statistics.median(r[name] for r in rounds)

        wall_ratio = statistics.median(r["bare"] / r["service"] for r in rounds)
        cpu_ratio = statistics.median(r["bare cpu"] / r["service cpu"] for r in rounds)
        print(
            f"POST {PATH} (JWT {alg}): {median('service'):6.2f} ms, bare view {median('bare'):5.2f} ms, "
            f"ratio {wall_ratio:4.2f}; CPU {median('service cpu'):5.2f} ms, bare {median('bare cpu'):5.2f} ms, "
            f"ratio {cpu_ratio:4.2f} (goal 0.4); {len(queries)} queries"
        )
        if args.top:
            for query in queries:
                print("   ", query["sql"][:100])
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(20):
                call()
            profile.disable()
            pstats.Stats(profile).sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
