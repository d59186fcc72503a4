"""The JSON API under gunicorn (2 workers, DEBUG off, loopback) against a bare view in the same run.

Goal: the API serves ≥ 0.6 of the bare view's requests/s with 0 errors.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import bench_env, gunicorn, prepare, report, wrk

BODY = json.dumps({"b12": {"value": 150, "unit": "pg/mL"}, "neurological_involvement": True, "severe": True})


def main(seconds: int = 10) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = bench_env(f"sqlite:///{tmp}/bench.sqlite3")
        cookie = f"sessionid={prepare(env)}"
        with gunicorn(env) as base:
            wrk(f"{base}/bench/bare", cookie=cookie, seconds=2)  # warm-up
            bare = wrk(f"{base}/bench/bare", cookie=cookie, seconds=seconds)
            api = wrk(f"{base}/api/v1/recommendation", cookie=cookie, seconds=seconds, body=BODY)
    report([("bare view", bare), ("POST /api/v1/recommendation", api)])
    ratio = api["rps"] / bare["rps"]
    met = ratio >= 0.6 and api["errors"] == 0 and bare["errors"] == 0
    print(f"API / bare = {ratio:.2f}   (goal ≥ 0.60 with 0 errors: {'met' if met else 'NOT met'})")


if __name__ == "__main__":
    main()
