"""CDS Hooks (issue 15) under gunicorn (2 sync workers, DEBUG off, loopback): POST /cds-services/b12-review with
a full prefetch (B12 150 ng/L, MMA, homocysteine, eGFR; the patient known to the clinic), each request with its own
freshly signed JWT (ES384, then RS384: signature, aud, exp and a jti never seen before, stored), against the bare
view served in the same run. Rounds interleave bare view and service; the ratio is the service's requests/s over
the bare view's measured just before it. Goal: median ratio ≥ 0.4 with 0 errors.

SQLite in a temporary folder unless BENCH_DATABASE_URL is set (a PostgreSQL database is migrated in place). With
redis-server installed the app runs with REDIS_URL (the nodes' shared cache), as in production and bench/run.py.

    python bench/bench_cds.py [--rounds 3] [--seconds 5] [--no-redis]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from contextlib import ExitStack
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import bench_env, gunicorn, manage, prepare, redis_server, run_python, wrk

ISSUER = "https://bench-ehr.example"
PATH = "/cds-services/b12-review"
PATIENT_ID = "bench-ehr-patient"
NHS_NUMBER = "9434765919"
CONNECTIONS, THREADS = 8, 2
# wrk: each thread sends the tokens of its own share of the file, each once (a replayed jti would be a 401).
LUA = """
local tokens = {}
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  local n = 0
  for line in io.lines(args[1]) do
    if n % %(threads)d == id then tokens[#tokens + 1] = line end
    n = n + 1
  end
  next_token = 1
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = io.open(args[2]):read("*a")
end
function request()
  local token = tokens[next_token] or "exhausted"
  next_token = next_token + 1
  wrk.headers["Authorization"] = "Bearer " .. token
  return wrk.format()
end
"""


def _observation(loinc: str, value, unit: str) -> dict:
    return {
        "resourceType": "Observation",
        "id": f"obs-{loinc}",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "effectiveDateTime": "2026-11-20",
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
    }


def _bundle(*observations: dict) -> dict:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": o} for o in observations]}


def hook_body() -> str:
    patient = {
        "resourceType": "Patient",
        "id": PATIENT_ID,
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": NHS_NUMBER}],
    }
    prefetch = {
        "patient": patient,
        "b12": _bundle(_observation("2132-9", 150, "ng/L")),
        "activeB12": _bundle(),
        "mma": _bundle(_observation("13964-2", 0.5, "umol/L")),
        "homocysteine": _bundle(_observation("13965-9", 18, "umol/L")),
        "egfr": _bundle(_observation("98979-8", 75, "mL/min/{1.73_m2}")),
    }
    body = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/bench", "patientId": PATIENT_ID},
        "prefetch": prefetch,
    }
    return json.dumps(body)


def keys() -> dict:
    return {
        "ES384": ec.generate_private_key(ec.SECP384R1()),
        "RS384": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    }


def jwks(private: dict) -> dict:
    found = []
    for alg, key in private.items():
        public = json.loads(jwt.get_algorithm_by_name(alg).to_jwk(key.public_key()))
        found.append({**public, "kid": f"bench-{alg.lower()}", "alg": alg, "use": "sig"})
    return {"keys": found}


def tokens(key, alg: str, audience: str, count: int) -> list[str]:
    now = int(time.time())
    header = {"kid": f"bench-{alg.lower()}", "typ": "JWT"}
    claims = {"iss": ISSUER, "sub": "bench", "aud": audience, "iat": now, "exp": now + 540}
    return [jwt.encode({**claims, "jti": uuid.uuid4().hex}, key, algorithm=alg, headers=header) for _ in range(count)]


def seed_patient() -> None:
    """The patient the EHR names, known to the clinic by NHS number (the card links to its assessment)."""
    from django.contrib.auth import get_user_model

    from recommender.models import Patient

    Patient.objects.get_or_create(
        nhs_number=NHS_NUMBER,
        defaults={
            "hospital_number": "CDS0001",
            "family_name": "Bench",
            "given_name": "Cds",
            "date_of_birth": "1950-01-01",
            "created_by": get_user_model().objects.get(username="bench"),
        },
    )


def cds_wrk(base: str, token_list: list[str], body: str, seconds: int) -> dict:
    """One bounded wrk run, each request with its own token; non-2xx answers count as errors."""
    with tempfile.TemporaryDirectory() as tmp:
        token_file, body_file, script = Path(tmp, "tokens"), Path(tmp, "body.json"), Path(tmp, "cds.lua")
        token_file.write_text("\n".join(token_list) + "\n")
        body_file.write_text(body)
        script.write_text(LUA.replace("%(threads)d", str(THREADS)))
        args = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "-s", str(script)]
        out = subprocess.run(
            [*args, f"{base}{PATH}", "--", str(token_file), str(body_file)], capture_output=True, text=True, check=True
        ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, socket_errors.groups())) if socket_errors else 0)
    if total > len(token_list):
        raise SystemExit(f"{total} requests but only {len(token_list)} tokens: raise TOKENS_PER_SECOND")
    return {"rps": rps, "requests": total, "errors": errors}


def check_one(base: str, key, alg: str, body: str) -> dict:
    """One request first: it must answer 200 with a card, or the benchmark would measure a refusal."""
    [raw] = tokens(key, alg, base + PATH, 1)
    request = urllib.request.Request(  # noqa: S310 (the benchmark's own loopback URL)
        base + PATH,
        data=body.encode(),
        headers={"Authorization": f"Bearer {raw}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as answer:  # noqa: S310
        cards = json.loads(answer.read())["cards"]
    if len(cards) != 1:
        raise SystemExit(f"expected one card, got {cards}")
    return cards[0]


TOKENS_PER_SECOND = 1500  # well above what 2 sync workers answer on 2 cores


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument(
        "--no-redis",
        action="store_true",
        help="without the shared cache (default: a throwaway redis-server if installed)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed for the load benchmarks: apt-get install -y wrk")
    private = keys()
    body = hook_body()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        env = bench_env(os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tmp}/bench.sqlite3")
        if not args.no_redis and shutil.which("redis-server"):
            env["REDIS_URL"] = stack.enter_context(redis_server())
        session = prepare(env)
        run_python(env, "from bench.bench_cds import seed_patient; seed_patient(); print('ok')")
        jwks_file = Path(tmp, "jwks.json")
        jwks_file.write_text(json.dumps(jwks(private)))
        manage(env, "cds_client", "add", "--issuer", ISSUER, "--jwks-file", str(jwks_file))
        cookie = f"sessionid={session}"
        rps: dict[str, list[float]] = {"bare view": [], "ES384": [], "RS384": []}
        ratios: dict[str, list[float]] = {"ES384": [], "RS384": []}
        errors = dict.fromkeys(rps, 0)
        with gunicorn(env) as base:
            card = check_one(base, private["ES384"], "ES384", body)
            wrk(f"{base}/bench/bare", cookie=cookie, seconds=2)  # warm-up: both workers
            cds_wrk(base, tokens(private["RS384"], "RS384", base + PATH, 2 * TOKENS_PER_SECOND), body, 1)
            for round_number in range(1, args.rounds + 1):
                for alg in ("ES384", "RS384"):
                    batch = tokens(private[alg], alg, base + PATH, args.seconds * TOKENS_PER_SECOND)
                    bare = wrk(f"{base}/bench/bare", cookie=cookie, seconds=args.seconds)
                    service = cds_wrk(base, batch, body, args.seconds)
                    rps["bare view"].append(bare["rps"])
                    rps[alg].append(service["rps"])
                    errors["bare view"] += bare["errors"]
                    errors[alg] += service["errors"]
                    ratios[alg].append(service["rps"] / bare["rps"])
                print(f"round {round_number}/{args.rounds} done", file=sys.stderr)
    print(
        f"bench/bench_cds.py — {args.rounds} rounds × {args.seconds} s per run, gunicorn 2 sync workers, DEBUG off, "
        f"{'PostgreSQL' if os.environ.get('BENCH_DATABASE_URL') else 'SQLite'}, "
        f"{'Redis shared cache' if env.get('REDIS_URL') else 'no cache'}; wrk {THREADS} threads, "
        f"{CONNECTIONS} connections"
    )
    print(f"card: [{card['indicator']}] {card['summary']}")
    print(f"{'endpoint':44} {'req/s':>7} {'ratio':>6} {'min–max':>11} {'errors':>6}  verdict (goal ≥ 0.4)")
    print(f"{'bare view':44} {statistics.median(rps['bare view']):7.0f} {'1.00':>6} {'':>11} {errors['bare view']:6d}")
    missed = []
    for alg in ("ES384", "RS384"):
        median = statistics.median(ratios[alg])
        met = median >= 0.4 and errors[alg] == 0
        missed += [] if met else [alg]
        spread = f"{min(ratios[alg]):.2f}–{max(ratios[alg]):.2f}"
        name = f"POST {PATH} (JWT {alg})"
        print(
            f"{name:44} {statistics.median(rps[alg]):7.0f} {median:6.2f} {spread:>11} {errors[alg]:6d}  "
            f"{'met' if met else 'NOT met'}"
        )
    print("all goals met" if not missed else f"goals missed: {', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
