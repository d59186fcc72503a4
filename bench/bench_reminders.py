"""Planning a day's reminders (issue 16) for 10,000 patients who agreed to them, on PostgreSQL: every patient has an
active plan with a dose due within the reminder window (a fifth of them booked at a location), a monitoring visit
schedule to check, and a contact preference (half email, half SMS, mixed time windows). Goal: the whole day planned
and enqueued (django-tasks-db) in under 5 s, with the same number of queries for every batch and the same reads
for 1,000 patients as for 10,000. Planning the same day again must plan nothing.

The database is BENCH_REMINDERS_DATABASE_URL (default postgres://app:app@127.0.0.1:5432/app_bench_reminders),
dropped and rebuilt by each run (migrate, then rows inserted in bulk)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATABASE_URL = os.environ.get("BENCH_REMINDERS_DATABASE_URL", "postgres://app:app@127.0.0.1:5432/app_bench_reminders")
PATIENTS = int(os.environ.get("BENCH_PATIENTS", "10000"))
GOAL_SECONDS = 5.0
BOOKED_SHARE = 5  # one patient in five is booked


def fresh_database() -> None:
    import psycopg

    name = DATABASE_URL.rsplit("/", 1)[1]
    admin_url = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_django() -> None:
    os.environ["DATABASE_URL"] = DATABASE_URL
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "b12site.settings")
    os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed(patients: int, *, on, first: int = 0) -> None:
    """Patients, assessments, plans, contact preferences and a fifth booked, inserted in bulk (no history)."""
    import uuid
    from datetime import datetime, time, timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from recommender.guideline import decide, parse_assessment
    from recommender.models import (
        Appointment,
        Assessment,
        ContactPreference,
        Location,
        Patient,
        TreatmentPlan,
    )

    user, _ = get_user_model().objects.get_or_create(username="bench")
    location, _ = Location.objects.get_or_create(name="Bench Surgery", defaults={"address": "1 Bench Road"})
    decision = decide(parse_assessment({"b12": {"value": 150, "unit": "pg/mL"}})).as_dict()
    rows: dict[str, list] = {"patients": [], "assessments": [], "plans": [], "contacts": [], "appointments": []}
    windows = ["any", "morning", "afternoon", "evening"]
    for i in range(first, first + patients):
        due = on + timedelta(days=i % 4)  # from the day planned to three days ahead
        started = on - timedelta(days=300 + i % 90)
        patient = Patient(
            id=uuid.uuid4(),
            hospital_number=f"R{i:07d}",
            family_name=f"Family{i}",
            given_name="Given",
            date_of_birth=datetime(1950, 1, 1).date(),
            created_by=user,
            usual_location=location if i % 2 else None,
        )
        assessment = Assessment(
            id=uuid.uuid4(),
            patient=patient,
            sample_date=started,
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
            loading_pattern="",
            maintenance_every=3,
            maintenance_unit="months",
            start_date=started,
            created_by=user,
            next_due_on=due,
            next_phase="maintenance",
            next_number=4,
        )
        by_sms = i % 2 == 0
        contact = ContactPreference(
            patient=patient,
            email="" if by_sms else f"p{i}@example.org",
            mobile="+447700900123" if by_sms else "",
            consent="sms" if by_sms else "email",
            window=windows[i % 4],
            updated_by=user,
        )
        rows["patients"].append(patient)
        rows["assessments"].append(assessment)
        rows["plans"].append(plan)
        rows["contacts"].append(contact)
        if i % BOOKED_SHARE == 0:
            slot = i // BOOKED_SHARE
            rows["appointments"].append(
                Appointment(
                    plan=plan,
                    kind="dose",
                    phase="maintenance",
                    number=4,
                    due_on=due,
                    location=location,
                    starts_at=timezone.make_aware(datetime.combine(due, time(9))) + timedelta(minutes=slot % 18 * 10),
                    slot_minutes=10,
                    seat=slot // 18 + 1,
                    capacity=10_000,
                    booked_by=user,
                )
            )
    for model, name in (
        (Patient, "patients"),
        (Assessment, "assessments"),
        (TreatmentPlan, "plans"),
        (ContactPreference, "contacts"),
        (Appointment, "appointments"),
    ):
        model.objects.bulk_create(rows[name], batch_size=2000)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would have, in a clinic's database


def plan_day(on) -> dict:
    """Plan and enqueue the day as tasks.plan_reminders does, counting queries and time per phase and batch."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from recommender.reminders import selectors, services, tasks

    days_before = selectors.reminder_settings().days_before
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as reads:
        due = list(selectors.due_on(on=on, days_before=days_before))
    read_seconds = time.perf_counter() - started
    per_batch = []
    planned = 0
    batches = services.reminders_plan(on=on, due=due)
    while True:
        with CaptureQueriesContext(connection) as queries:
            batch = next(batches, None)
            if batch is None:
                break
            tasks._enqueue(batch.ids, run_after=batch.run_after)
        per_batch.append(len(queries))
        planned += len(batch.ids)
    return {
        "due": len(due),
        "planned": planned,
        "read_queries": len(reads),
        "read_seconds": read_seconds,
        "batch_queries": per_batch,
        "seconds": time.perf_counter() - started,
    }


def main() -> int:
    from datetime import date, timedelta

    fresh_database()
    setup_django()
    from django_tasks_db.models import DBTaskResult

    on = date.today() + timedelta(days=1)
    small = PATIENTS // 10
    seed(small, on=on)
    few = plan_day(on)
    seed(PATIENTS - small, on=on, first=small)
    # The first 1,000 are planned already: plan the next day's view of all 10,000 afresh, then the same day again.
    from recommender.models import ReminderSend

    ReminderSend.objects.all().delete()
    DBTaskResult.objects.all().delete()
    full = plan_day(on)
    again = plan_day(on)
    tasks_enqueued = DBTaskResult.objects.count()

    print(f"Planning the reminders of one day, PostgreSQL, {PATIENTS:,} patients who agreed to reminders")
    for label, run in ((f"{small:,} patients", few), (f"{PATIENTS:,} patients", full), ("same day again", again)):
        print(
            f"  {label:>16}: {run['due']:>6} due, {run['planned']:>6} planned in {run['seconds']:.2f} s "
            f"(reads {run['read_seconds']:.2f} s, {run['read_queries']} queries); "
            f"{len(run['batch_queries'])} batches, queries per batch {sorted(set(run['batch_queries'])) or '-'}"
        )
    print(f"  tasks enqueued for {PATIENTS:,} patients: {tasks_enqueued}")
    ok = (
        full["seconds"] < GOAL_SECONDS
        and full["planned"] == full["due"] >= PATIENTS
        and few["read_queries"] == full["read_queries"]
        and len(set(full["batch_queries"] + few["batch_queries"])) == 1
        and again["planned"] == 0
    )
    print(
        f"  goal: under {GOAL_SECONDS:.0f} s, constant queries per batch, same reads at 1,000 and 10,000, "
        f"nothing planned twice: {'met' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
