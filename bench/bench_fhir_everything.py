"""FHIR Patient/$everything (issue 15) for a patient with 5 years of monthly doses, on PostgreSQL: the query count is
the same as for a patient with a handful of doses, and the median time of the whole request (token check, audit
row, Bundle built with the R4B models and serialised) is under 100 ms.

In-process through Django's whole middleware stack (test client, DEBUG off), so the figure is the server's own time
without the network. BENCH_DATABASE_URL (default postgres://app:app@127.0.0.1:5432/app_fhir; created if missing and
migrated; each run adds its own two patients); BENCH_RUNS (default 50). Exits non-zero when a goal is missed."""

from __future__ import annotations

import os
import statistics
import sys
import uuid
from datetime import date, datetime, time, timedelta
from pathlib import Path
from time import perf_counter, process_time
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://app:app@127.0.0.1:5432/app_fhir")
RUNS = int(os.environ.get("BENCH_RUNS", "50"))
YEARS = 5
GOAL_MS = 100


def _create_database() -> None:
    import psycopg

    url = urlparse(DATABASE_URL)
    name = url.path.lstrip("/")
    admin = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')


def _setup() -> None:
    os.environ["DATABASE_URL"] = DATABASE_URL
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "b12site.settings")
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-" + "x" * 50)
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
    os.environ["B12_PLAN_START_WINDOW_DAYS"] = str(366 * (YEARS + 1))  # a plan that started 5 years ago
    _create_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _patient_with_doses(user, *, hospital_number: str, months: int):
    """A plan started ``months`` months ago (six loading doses, then monthly maintenance) and every dose given."""
    from dateutil.relativedelta import relativedelta
    from django.utils import timezone

    from recommender.clinic import services as clinic_services
    from recommender.injections.services import plan_reschedule
    from recommender.models import DoseRecord, Patient

    start = date.today() - relativedelta(months=months)
    patient = clinic_services.patient_create(
        hospital_number=hospital_number,
        family_name="Bench",
        given_name="Everything",
        date_of_birth=date(1950, 1, 1),
        nhs_number=None,
        by=user,
    )
    _, plan = clinic_services.assessment_record(
        patient=patient,
        sample_date=start,
        payload={"b12": {"value": 150, "unit": "pg/mL"}, "homocysteine": {"value": 18, "unit": "umol/L"}, "egfr": 80},
        plan_options={
            "start_date": start,
            "maintenance_every": 1,
            "maintenance_unit": "months",
            "individualised": True,
            "individualised_reason": "Symptoms return before the second month.",
        },
        by=user,
    )
    days = [start + timedelta(days=d) for d in (0, 2, 4, 7, 9, 11)]
    doses = [("loading", n, day) for n, day in enumerate(days, 1)]
    doses += [("maintenance", n, start + relativedelta(months=n)) for n in range(1, months + 1)]
    DoseRecord.objects.bulk_create(
        DoseRecord(
            plan=plan,
            phase=phase,
            number=number,
            due_date=day,
            outcome="given",
            given_at=timezone.make_aware(datetime.combine(day, time(10))),
            given_on=day,
            dose_mg=1,
            route="IM",
            site="left_deltoid" if number % 2 else "right_deltoid",
            batch=f"HX{day:%Y%m}",
            expiry=day + timedelta(days=365),
            recorded_by=user,
        )
        for phase, number, day in doses
        if day <= date.today()
    )
    plan_reschedule(plan)
    plan.save()
    return Patient.objects.get(pk=patient.pk), DoseRecord.objects.filter(plan=plan).count()


def _seed():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from recommender.access import services as access_services
    from recommender.models import AccessToken
    from recommender.roles import CLINICIAN

    user, _ = get_user_model().objects.get_or_create(username="bench_fhir", defaults={"first_name": "Bench"})
    user.groups.add(Group.objects.get(name=CLINICIAN))
    _, raw = access_services.access_token_issue(user=user, purpose=AccessToken.Purpose.API, name="bench")
    run = uuid.uuid4().hex[:8].upper()
    small, small_doses = _patient_with_doses(user, hospital_number=f"BF{run}S", months=1)
    large, large_doses = _patient_with_doses(user, hospital_number=f"BF{run}L", months=12 * YEARS)
    return raw, (small, small_doses), (large, large_doses)


def main() -> int:
    _setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    raw, (small, small_doses), (large, large_doses) = _seed()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")

    def everything(patient):
        response = client.get(f"/fhir/r4/Patient/{patient.pk}/$everything", secure=True)  # production: HTTPS only
        assert response.status_code == 200, response.status_code
        return response

    counts = {}
    for patient in (small, large):
        everything(patient)  # warm
        with CaptureQueriesContext(connection) as captured:
            response = everything(patient)
        counts[patient.pk] = len(captured)
    entries = response.content.count(b'"fullUrl"')
    times, cpu = [], []
    for _ in range(RUNS):
        started, started_cpu = perf_counter(), process_time()
        everything(large)
        times.append((perf_counter() - started) * 1000)
        cpu.append((process_time() - started_cpu) * 1000)
    median, worst = statistics.median(times), max(times)
    p95 = statistics.quantiles(times, n=20)[-1]
    print(f"$everything on PostgreSQL, {RUNS} runs, in-process (DEBUG off, bearer token, audit row included)")
    print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall times need a quiet machine)")
    print(f"  patient with {small_doses} doses: {counts[small.pk]} queries")
    print(
        f"  patient with {large_doses} doses ({YEARS} years monthly): {counts[large.pk]} queries, {entries} entries, "
        f"{len(response.content) / 1024:.0f} KiB"
    )
    print(f"  median {median:.1f} ms, p95 {p95:.1f} ms, worst {worst:.1f} ms (goal: median < {GOAL_MS} ms)")
    print(f"  CPU time of this process: median {statistics.median(cpu):.1f} ms (the database's own time aside)")
    ok = counts[small.pk] == counts[large.pk] and median < GOAL_MS
    print("  constant query count:", "yes" if counts[small.pk] == counts[large.pk] else "NO")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
