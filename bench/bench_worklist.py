"""The nurses' worklist on PostgreSQL with 10,000 patients and 500,000 dose rows.

Reports: the first page's server time (median of repeated requests through Django's full stack, DEBUG off),
the number of queries (the same with 10 or 10,000 patients), the EXPLAIN plan of the worklist query, and the size of
a lifelong plan's .ics after 1 and after 50 maintenance doses. Goal: median < 50 ms.

Needs PostgreSQL: BENCH_DATABASE_URL (default postgres://app:app@127.0.0.1:5432/b12_bench; the database is
created if missing and its tables are rebuilt).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from recommender.injections import selectors as injections_selectors

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
URL = os.environ.get("BENCH_DATABASE_URL", "postgres://app:app@127.0.0.1:5432/b12_bench")
os.environ.update(
    DATABASE_URL=URL,
    DJANGO_SETTINGS_MODULE="b12site.settings",
    DJANGO_DEBUG="0",
    DJANGO_SECRET_KEY="bench-" + "x" * 60,
    DJANGO_ALLOWED_HOSTS="testserver",
    DJANGO_SECURE_SSL_REDIRECT="0",
    DJANGO_LOG_LEVEL="WARNING",
)
PATIENTS = int(os.environ.get("BENCH_PATIENTS", "10000"))
DOSES_PER_PLAN = int(os.environ.get("BENCH_DOSES_PER_PLAN", "50"))


def ensure_database() -> None:
    import psycopg

    name = URL.rsplit("/", 1)[1]
    admin = URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def seed(user) -> None:
    from django.db import connection

    from recommender.guideline import decide, parse_assessment
    from recommender.models import Assessment, DoseRecord, Patient, TreatmentPlan

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE recommender_doserecord, recommender_treatmentplan, recommender_assessment, "
            "recommender_patient CASCADE"
        )
    rng = random.Random(12)
    today = date.today()
    decision = decide(parse_assessment({"b12": {"value": 150, "unit": "pg/mL"}})).as_dict()
    now = datetime.now(UTC)
    patients, assessments, plans, doses = [], [], [], []
    for i in range(PATIENTS):
        patient = Patient(
            id=uuid.uuid4(),
            hospital_number=f"B{i:07d}",
            family_name=f"Family{i}",
            given_name="Given",
            date_of_birth=date(1950, 1, 1),
            created_by=user,
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
        plan = TreatmentPlan(
            id=uuid.uuid4(),
            patient=patient,
            assessment=assessment,
            indications=["deficiency"],
            loading_pattern="three_times_weekly",
            loading_doses=6,
            maintenance_every=2,
            maintenance_unit="months",
            start_date=today - timedelta(days=400),
            created_by=user,
            next_due_on=today + timedelta(days=rng.randint(-30, 365)),
            next_phase="maintenance",
            next_number=DOSES_PER_PLAN - 5,
            status="active" if rng.random() < 0.95 else "ended",
        )
        patients.append(patient)
        assessments.append(assessment)
        plans.append(plan)
        for n in range(1, DOSES_PER_PLAN + 1):
            phase, number = ("loading", n) if n <= 6 else ("maintenance", n - 6)
            doses.append(
                DoseRecord(
                    plan=plan,
                    phase=phase,
                    number=number,
                    due_date=today - timedelta(days=400 - n),
                    outcome="given",
                    given_at=now - timedelta(days=400 - n),
                    dose_mg=1,
                    route="IM",
                    site="left_deltoid",
                    batch="BATCH1",
                    expiry=today + timedelta(days=365),
                    recorded_by=user,
                )
            )
    Patient.objects.bulk_create(patients, batch_size=2000)  # bench data only: no history wanted
    Assessment.objects.bulk_create(assessments, batch_size=2000)
    TreatmentPlan.objects.bulk_create(plans, batch_size=2000)
    for start in range(0, len(doses), 20000):
        DoseRecord.objects.bulk_create(doses[start : start + 20000])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def main() -> None:
    ensure_database()
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from recommender.injections import calendars
    from recommender.injections import services as injections_services
    from recommender.models import DoseRecord, TreatmentPlan

    call_command("migrate", verbosity=0)
    user, _ = get_user_model().objects.get_or_create(username="bench-nurse")
    user.groups.add(Group.objects.get(name="nurse"))
    started = time.perf_counter()
    seed(user)
    print(
        f"seeded {PATIENTS} patients, {DoseRecord.objects.count()} dose rows in {time.perf_counter() - started:.0f} s"
    )

    client = Client()
    client.force_login(user)
    for _ in range(5):
        client.get("/worklist/")
    timings = []
    for _ in range(51):
        start = time.perf_counter()
        response = client.get("/worklist/")
        timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        client.get("/worklist/")
    print(
        f"worklist first page: median {statistics.median(timings):.1f} ms, p90 "
        f"{sorted(timings)[45]:.1f} ms over 51 requests; {len(queries)} queries (goal < 50 ms: "
        f"{'met' if statistics.median(timings) < 50 else 'NOT met'})"
    )

    sql, params = injections_selectors.worklist(on=date.today(), days_ahead=7)[:50].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        plan_lines = [row[0] for row in cursor.fetchall()]
    print("EXPLAIN worklist query:")
    for line in plan_lines:
        print("   ", line)
    print("index used:", any("active_plan_next_due" in line for line in plan_lines))

    # The .ics of a lifelong plan: the same size after 1 and after 50 maintenance doses.
    plan = TreatmentPlan.objects.filter(status="active").first()
    sizes = {}
    for kept in (1, 50):
        plan.doses.exclude(phase="loading").filter(number__gt=kept).update(entered_in_error=True)
        plan.doses.exclude(phase="loading").filter(number__lte=kept).update(entered_in_error=False)
        injections_services.plan_reschedule(plan)
        plan.save()
        sizes[kept] = len(calendars.plan_calendar(plan))
    print(f".ics size: {sizes[1]} bytes after 1 maintenance dose, {sizes[50]} bytes after 50")


if __name__ == "__main__":
    main()
