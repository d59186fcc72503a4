"""Booking (issue 17) under gunicorn (2 workers, DEBUG off, loopback) with 10,000 patients booked across a year of
sessions: proposing a free slot (a plan's bookings fragment) and rendering a day list, each against the bare view
served by the same gunicorn, interleaved as bench/run.py does (each round: the bare view, then the endpoint, the
endpoints in a shuffled order; the median ratio over the rounds). Goal: each ≥ 0.3 of the bare view's requests/s
with 0 errors, and the same number of queries with 10 patients as with 10,000; exits 1 when one is missed.

    python bench/bench_booking.py [--rounds 5] [--seconds 3] [--sqlite]

On PostgreSQL, in the database BOOKING_BENCH_DATABASE_URL names (default
postgres://app:app@127.0.0.1:5432/app_booking, shared with bench/booking_in_process.py, which reuses this seed),
dropped and created again each run: a database of its own, never bench/run.py's (BENCH_DATABASE_URL is not read, so
`BENCH_DATABASE_URL=… make bench` cannot drop that one), nor one with data. --sqlite: a SQLite file in a temporary
folder instead. With redis-server installed the app runs with REDIS_URL (the nodes' shared cache, as in production
and bench/run.py); BENCH_NO_REDIS=1 runs it without."""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import bench_env, gunicorn, interleaved, prepare, redis_server, run_python

DATABASE_URL = os.environ.get("BOOKING_BENCH_DATABASE_URL", "postgres://app:app@127.0.0.1:5432/app_booking")
PATIENTS = int(os.environ.get("BENCH_PATIENTS", "10000"))
# Every weekday morning, 10-minute slots, four nurses: 72 places a session, 260 sessions (18,720 places) a year; the
# 10,000 bookings are spread over the whole year, so a session is about half full.
WEEKDAYS, CAPACITY = (0, 1, 2, 3, 4), 4


def seed(patients: int, *, first_batch: bool) -> None:
    """Patients with active plans, each booked into a seat of a session within the coming year (run in the
    project's shell). ``first_batch`` creates the location, its sessions and the plan to propose for."""
    import uuid
    from datetime import UTC, date, datetime, time, timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from recommender.guideline import decide, parse_assessment
    from recommender.models import Appointment, Assessment, Location, Patient, Session, TreatmentPlan

    user = get_user_model().objects.get(username="bench")
    today = date.today()
    if first_batch:
        location = Location.objects.create(name="Bench Surgery", address="1 Bench Road")
        for weekday in WEEKDAYS:
            Session.objects.create(
                location=location, weekday=weekday, start=time(9), end=time(12), slot_minutes=10, capacity=CAPACITY
            )
    location = Location.objects.get(name="Bench Surgery")
    decision = decide(parse_assessment({"b12": {"value": 150, "unit": "pg/mL"}})).as_dict()
    session_days = [d for d in (today + timedelta(days=i) for i in range(1, 366)) if d.weekday() in WEEKDAYS]
    seats = [
        (day, timezone.make_aware(datetime.combine(day, time(9))) + timedelta(minutes=10 * s), seat)
        for day in session_days
        for s in range(18)
        for seat in range(1, CAPACITY + 1)
    ]
    done = Patient.objects.count()
    rows: dict[str, list] = {"patients": [], "assessments": [], "plans": [], "appointments": []}
    now = datetime.now(UTC)
    for i in range(done, done + patients):
        patient = Patient(
            id=uuid.uuid4(),
            hospital_number=f"B{i:07d}",
            family_name=f"Family{i}",
            given_name="Given",
            date_of_birth=date(1950, 1, 1),
            created_by=user,
            usual_location=location,
        )
        assessment = Assessment(
            id=uuid.uuid4(),
            patient=patient,
            sample_date=today - timedelta(days=400),
            inputs={"b12": {"value": 150, "unit": "pg/mL"}},
            decision=decision,
            ruleset_id="seed-2025",
            ruleset_version="1.0.0",
            thresholds=decision["thresholds"],
            status="deficient",
            im_recommended=True,
            created_by=user,
        )
        day, starts_at, seat = seats[(i * len(seats) // max(PATIENTS, i + 1)) % len(seats)]
        plan = TreatmentPlan(
            id=uuid.uuid4(),
            patient=patient,
            assessment=assessment,
            indications=["deficiency"],
            loading_pattern="",
            maintenance_every=3,
            maintenance_unit="months",
            start_date=day,
            created_by=user,
            next_due_on=day,
            next_phase="maintenance",
            next_number=1,
        )
        appointment = Appointment(
            plan=plan,
            kind="dose",
            phase="maintenance",
            number=1,
            due_on=day,
            location=location,
            starts_at=starts_at,
            slot_minutes=10,
            seat=seat,
            capacity=CAPACITY,
            booked_by=user,
            booked_at=now,
        )
        for name, row in zip(rows, (patient, assessment, plan, appointment), strict=True):
            rows[name].append(row)
    for model, name in ((Patient, "patients"), (Assessment, "assessments"), (TreatmentPlan, "plans")):
        model.objects.bulk_create(rows[name], batch_size=2000)  # bench data only: no history wanted
    Appointment.objects.bulk_create(rows["appointments"], batch_size=2000)


def targets() -> str:
    """The URLs measured: a plan to propose a slot for (the first seeded: its own booking moved away, so its dose
    is due and unbooked) and the day list of the first session."""
    from datetime import timedelta

    from django.utils import timezone

    from recommender.appointments.selectors import sessions_between
    from recommender.models import Appointment, TreatmentPlan

    plan = TreatmentPlan.objects.order_by("patient__hospital_number").first()
    Appointment.objects.filter(plan=plan).update(status="cancelled", change_reason="bench: to propose")
    today = timezone.localdate()
    session = sessions_between(first=today + timedelta(days=1), last=today + timedelta(days=8))[0]
    return f"/appointments/plans/{plan.pk}/ /appointments/sessions/{session.day:%Y-%m-%d}/{session.key}/"


QUERY_COUNT = (
    "from django.test import Client; from django.test.utils import CaptureQueriesContext;"
    "from django.db import connection; from django.contrib.auth import get_user_model;"
    "c=Client(); c.force_login(get_user_model().objects.get(username='bench'));"
    "counts=[];\n"
    "for url in {urls!r}.split():\n"
    "    c.get(url, headers={{'HX-Request': 'true'}})\n"
    "    with CaptureQueriesContext(connection) as q:\n"
    "        r=c.get(url, headers={{'HX-Request': 'true'}})\n"
    "    assert r.status_code==200, (url, r.status_code)\n"
    "    counts.append(len(q))\n"
    "print(' '.join(map(str, counts)))"
)


def recreate(url: str) -> None:
    """Drop the PostgreSQL database ``url`` names and create it again, empty."""
    import psycopg

    server, name = url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file in a temporary folder, not PostgreSQL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        url = None if args.sqlite else DATABASE_URL
        if url:
            recreate(url)  # the seed wants an empty database: a second run on the same one failed
        env = bench_env(url or f"sqlite:///{tmp}/bench.sqlite3")
        if shutil.which("redis-server") and not os.environ.get("BENCH_NO_REDIS"):
            env["REDIS_URL"] = stack.enter_context(redis_server())
        env["DJANGO_ALLOWED_HOSTS"] += ",testserver"
        env["B12_HOLIDAYS"] = ""
        session = prepare(env)
        # The bench user books: the clinician role may.
        run_python(env, "from bench.bench_booking import seed; seed(10, first_batch=True); print('ok')")
        urls = run_python(env, "from bench.bench_booking import targets; print(targets())")
        # Counted without the shared cache: the reads each page makes when nothing of it is kept (with the cache, a
        # page seen again reads only the session).
        uncached = {name: value for name, value in env.items() if name != "REDIS_URL"}
        small = run_python(uncached, QUERY_COUNT.format(urls=urls))
        run_python(env, f"from bench.bench_booking import seed; seed({PATIENTS - 10}, first_batch=False); print('ok')")
        large = run_python(uncached, QUERY_COUNT.format(urls=urls))
        propose_url, day_list_url = urls.split()
        cookie = f"sessionid={session}"
        points = {
            "GET proposal (plan bookings fragment)": {
                "path": propose_url,
                "cookie": cookie,
                "headers": ("HX-Request: true",),
            },
            "GET day list": {"path": day_list_url, "cookie": cookie},
        }
        with gunicorn(env) as base:
            measured = interleaved(
                base, {"path": "/bench/bare", "cookie": cookie}, points, rounds=args.rounds, seconds=args.seconds
            )
    ratios, rps = measured.ratios, measured.rps
    errors = sum(measured.errors.values())
    print(
        f"bench/bench_booking.py — {PATIENTS:,} patients booked across a year of sessions, {args.rounds} rounds × "
        f"{args.seconds} s per run, interleaved with the bare view, gunicorn 2 sync workers, DEBUG off, "
        f"{'PostgreSQL' if url else 'SQLite'}, {'Redis shared cache' if env.get('REDIS_URL') else 'no cache'}"
    )
    print(f"{'endpoint':40} {'req/s':>7} {'ratio':>6} {'min–max':>11}")
    print(f"{'bare view':40} {statistics.median(rps['bare view']):7.0f} {'1.00':>6}")
    for name in points:
        spread = f"{min(ratios[name]):.2f}–{max(ratios[name]):.2f}"
        print(f"{name:40} {statistics.median(rps[name]):7.0f} {statistics.median(ratios[name]):6.2f} {spread:>11}")
    constant = small == large
    print(
        f"queries without the shared cache, with 10 patients (proposal, day list): {small}; with {PATIENTS}: {large} "
        f"({'constant' if constant else 'NOT constant'})"
    )
    print(f"errors: {errors}")
    missed = [] if constant and errors == 0 else ["queries constant and 0 errors"]
    for name, short in zip(points, ("proposal", "day list"), strict=True):
        ratio = statistics.median(ratios[name])
        met = ratio >= 0.3 and errors == 0
        if not met:
            missed.append(short)
        print(
            f"{short} / bare = {ratio:.2f}   (median of {args.rounds}; goal ≥ 0.30 with 0 errors: "
            f"{'met' if met else 'NOT met'})"
        )
    if missed:
        print(f"goals missed: {', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
