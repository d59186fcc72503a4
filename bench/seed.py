"""Seed a PostgreSQL database for the benchmarks: 10,000 patients, one assessment and one plan each, 500,000 dose
records, and every history table filled (one "created" row per record, as the services would have written).

Fast: the rows are generated inside PostgreSQL (INSERT … SELECT over generate_series, deterministic md5 UUIDs),
about a minute for the whole set. Idempotent: a database already seeded with the same numbers is reused.

    DATABASE_URL=postgres://app:app@127.0.0.1:5432/app_bench DJANGO_SETTINGS_MODULE=bench.settings \
        python -m bench.seed

Besides the 10,000 clinic patients there are two plan-page probes with the same regimen (maintenance every
week, no loading course): BENCH-SHORT with 5 doses given and BENCH-LONG with 250. The users: ``bench``
(clinician: registered and assessed every patient, so the home page's "recent patients" sees 10,000 of them),
``bench-nurse`` (nurse) and ``bench-api`` (clinician, for the API with a token).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PATIENTS = int(os.environ.get("BENCH_PATIENTS", "10000"))
DOSES_PER_PLAN = int(os.environ.get("BENCH_DOSES_PER_PLAN", "50"))  # 6 loading + 44 maintenance
PROBES = {"BENCH-SHORT": 5, "BENCH-LONG": 250}
PASSWORD = "bench-password-123"  # a throw-away benchmark database


def _uuid(kind: str, key: str) -> str:
    return f"md5('{kind}' || {key})::uuid"


def _copy_history(cursor, model) -> None:
    """One "+" history row per live row, dated when the row was created, by its author."""
    history = model.history.model
    columns = [f.column for f in model._meta.concrete_fields]
    own = {f.column for f in history._meta.concrete_fields}
    columns = [c for c in columns if c in own]
    author = next(c for c in ("created_by_id", "recorded_by_id") if c in columns)
    stamp = "created_at" if "created_at" in columns else "recorded_at"
    cols = ", ".join(f'"{c}"' for c in columns)
    cursor.execute(f'TRUNCATE "{history._meta.db_table}"')
    cursor.execute(
        f'INSERT INTO "{history._meta.db_table}" ({cols}, history_date, history_type, history_user_id) '
        f"SELECT {cols}, {stamp}, '+', {author} FROM \"{model._meta.db_table}\""
    )


def users():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    made = {}
    for name, group in (("bench", "clinician"), ("bench-nurse", "nurse"), ("bench-api", "clinician")):
        user, created = get_user_model().objects.get_or_create(username=name, defaults={"first_name": name})
        if created or not user.check_password(PASSWORD):
            user.set_password(PASSWORD)
            user.save()
        user.groups.add(Group.objects.get(name=group))
        made[name] = user
    return made


def seeded(expected_doses: int) -> bool:
    """The seed is there: the clinic's patients, at least its doses (a load run adds some), and the two probe plans
    untouched."""
    from recommender.models import DoseRecord, Patient, TreatmentPlan

    probes_intact = all(
        TreatmentPlan.objects.filter(patient__hospital_number=name, status=TreatmentPlan.Status.ACTIVE).count() == 1
        and DoseRecord.objects.filter(plan__patient__hospital_number=name).count() == doses
        for name, doses in PROBES.items()
    )
    return (
        Patient.objects.filter(hospital_number__startswith="B0").count() == PATIENTS
        and DoseRecord.objects.count() >= expected_doses
        and DoseRecord.history.count() >= expected_doses
        and probes_intact
    )


def seed(*, force: bool = False) -> dict:
    """Seed (or reuse) the bench data; return the ids the benchmarks need."""
    from django.db import connection, transaction
    from django.utils import timezone

    from recommender.guideline import decide, parse_assessment
    from recommender.injections.services import plans_next_visit_fill
    from recommender.models import Assessment, DoseRecord, Patient, TreatmentPlan

    people = users()
    expected = PATIENTS * DOSES_PER_PLAN + sum(PROBES.values())
    if force or not seeded(expected):
        started = time.perf_counter()
        clinician, nurse = people["bench"].pk, people["bench-nurse"].pk
        body = {"b12": {"value": 150, "unit": "pg/mL"}}
        decision = decide(parse_assessment(body)).as_dict()
        today = timezone.localdate()
        with transaction.atomic(), connection.cursor() as c:
            c.execute(
                "TRUNCATE recommender_doserecord, recommender_treatmentplan, recommender_assessment, "
                "recommender_patient CASCADE"
            )
            # Patients i = 1..N, then the two probes as N+1, N+2.
            c.execute(
                f"""INSERT INTO recommender_patient (id, hospital_number, family_name, given_name, date_of_birth,
                        nhs_number, created_by_id, created_at)
                    SELECT {_uuid("p", "i")}, 'B' || lpad(i::text, 7, '0'), 'Family' || i, 'Given',
                        date '1940-01-01' + mod(i, 20000), NULL, %s, now() - interval '12 years' + i * interval '30 min'
                    FROM generate_series(1, %s) i""",
                [clinician, PATIENTS],
            )
            probes = list(PROBES.items())
            for k, (number, _) in enumerate(probes, start=PATIENTS + 1):
                c.execute(
                    f"""INSERT INTO recommender_patient (id, hospital_number, family_name, given_name,
                            date_of_birth, created_by_id, created_at)
                        SELECT {_uuid("p", "%s")}, %s, 'Probe', %s, date '1950-01-01', %s,
                            now() - interval '13 years'""",
                    [k, number, number, clinician],
                )
            c.execute(
                f"""INSERT INTO recommender_assessment (id, patient_id, sample_date, inputs, decision, ruleset_id,
                        ruleset_version, thresholds, status, im_recommended, b12_pg_per_ml, created_by_id, created_at)
                    SELECT {_uuid("a", "i")}, {_uuid("p", "i")}, (now() - interval '12 years')::date, %s::jsonb,
                        %s::jsonb, %s, %s, %s::jsonb, 'deficient', true, 150, %s,
                        now() - interval '12 years' + i * interval '30 min' + interval '1 min'
                    FROM generate_series(1, %s) i""",
                [
                    _json(body),
                    _json(decision),
                    decision["ruleset"]["id"],
                    decision["ruleset"]["version"],
                    _json(decision["thresholds"]),
                    clinician,
                    PATIENTS + len(PROBES),
                ],
            )
            # Clinic plans: loading 6 (three times weekly), maintenance every 3 months, the last dose given
            # 0-99 days ago (so some are overdue, most due within three months); 5 % ended.
            c.execute(
                f"""INSERT INTO recommender_treatmentplan (id, patient_id, assessment_id, status, indications,
                        loading_pattern, loading_doses, maintenance_every, maintenance_unit, individualised,
                        individualised_reason, pending_mma, pending_mma_reason, lifelong, start_date, stable_reason,
                        end_reason, ended_on, created_by_id, created_at, next_due_on, next_phase, next_number,
                        next_due_note, calendar_sequence, doses_on_closed_days, first_review_months)
                    SELECT {_uuid("t", "i")}, {_uuid("p", "i")}, {_uuid("a", "i")},
                        CASE WHEN mod(i, 20) = 0 THEN 'ended' ELSE 'active' END, '["deficiency"]'::jsonb,
                        'three_times_weekly', 6, 3, 'months', false, '', false, '', true,
                        %(today)s - mod(i, 100) - 43 * 91 - 30, '',
                        CASE WHEN mod(i, 20) = 0 THEN 'moved away' ELSE '' END,
                        CASE WHEN mod(i, 20) = 0 THEN %(today)s - 1 END, %(by)s,
                        now() - interval '12 years' + i * interval '30 min' + interval '2 min',
                        CASE WHEN mod(i, 20) = 0 THEN NULL ELSE %(today)s - mod(i, 100) + 91 END,
                        'maintenance', 45, '', 0, false, 3
                    FROM generate_series(1, %(n)s) i""",
                {"today": today, "by": clinician, "n": PATIENTS},
            )
            for k, (_, doses) in enumerate(probes, start=PATIENTS + 1):
                c.execute(
                    f"""INSERT INTO recommender_treatmentplan (id, patient_id, assessment_id, status, indications,
                            loading_pattern, loading_doses, maintenance_every, maintenance_unit, individualised,
                            individualised_reason, pending_mma, pending_mma_reason, lifelong, start_date,
                            stable_reason, end_reason, created_by_id, created_at, next_due_on, next_phase,
                            next_number, next_due_note, calendar_sequence, doses_on_closed_days, first_review_months)
                        SELECT {_uuid("t", "%(k)s")}, {_uuid("p", "%(k)s")}, {_uuid("a", "%(k)s")}, 'active',
                            '["deficiency"]'::jsonb, '', NULL, 1, 'weeks', true, 'weekly by the haematologist',
                            false, '', true, %(today)s - 7 * %(doses)s, '', '', %(by)s, now() - interval '13 years',
                            %(today)s + 7, 'maintenance', %(doses)s + 1, '', 0, true, 3""",
                    {"k": k, "doses": doses, "today": today, "by": clinician},
                )
            # Doses of the clinic plans: 1-6 loading (every other day from the start), 7-50 maintenance every
            # 91 days up to the last one, mod(i, 100) days ago.
            c.execute(
                f"""INSERT INTO recommender_doserecord (id, plan_id, phase, number, due_date, outcome, given_at,
                        given_on, dose_mg, route, site, batch, expiry, reason, early_reason, allergy_checked,
                        baseline_sample_taken, recorded_by_id, recorded_at, entered_in_error, error_reason)
                    SELECT {_uuid("d", "i || '-' || n")}, {_uuid("t", "i")},
                        CASE WHEN n <= 6 THEN 'loading' ELSE 'maintenance' END,
                        CASE WHEN n <= 6 THEN n ELSE n - 6 END, day, 'given', day + time '10:00', day, 1.00, 'IM',
                        'left_deltoid', 'BATCH' || mod(n, 7), day + 365, '', '', n = 1, n = 1, %(by)s,
                        day + time '10:05', false, ''
                    FROM generate_series(1, %(n)s) i, generate_series(1, %(per)s) n,
                        LATERAL (SELECT CASE WHEN n <= 6 THEN %(today)s - mod(i, 100) - 43 * 91 - 30 + 2 * (n - 1)
                                        ELSE %(today)s - mod(i, 100) - (%(per)s - n) * 91 END AS day) d""",
                {"n": PATIENTS, "per": DOSES_PER_PLAN, "today": today, "by": nurse},
            )
            for k, (_, doses) in enumerate(probes, start=PATIENTS + 1):
                c.execute(
                    f"""INSERT INTO recommender_doserecord (id, plan_id, phase, number, due_date, outcome, given_at,
                            given_on, dose_mg, route, site, batch, expiry, reason, early_reason, allergy_checked,
                            baseline_sample_taken, recorded_by_id, recorded_at, entered_in_error, error_reason)
                        SELECT {_uuid("d", "%(k)s || '-' || n")}, {_uuid("t", "%(k)s")}, 'maintenance', n, day,
                            'given', day + time '10:00', day, 1.00, 'IM', 'right_deltoid', 'BATCH1', day + 365, '', '',
                            n = 1, n = 1, %(by)s, day + time '10:05', false, ''
                        FROM generate_series(1, %(doses)s) n,
                            LATERAL (SELECT %(today)s - 7 * (%(doses)s - n + 1) AS day) d""",
                    {"k": k, "doses": doses, "today": today, "by": nurse},
                )
            plans_next_visit_fill()
            for model in (Patient, Assessment, TreatmentPlan, DoseRecord):
                _copy_history(c, model)
        with connection.cursor() as c:
            c.execute("VACUUM ANALYZE") if connection.get_autocommit() else c.execute("ANALYZE")
        print(
            f"seeded {Patient.objects.count()} patients, {DoseRecord.objects.count()} doses, "
            f"{DoseRecord.history.count()} dose history rows in {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )
    from recommender.models import TreatmentPlan as Plan

    probe_plans = {name: str(Plan.objects.get(patient__hospital_number=name).pk) for name in PROBES}
    typical = Plan.objects.get(patient__hospital_number=f"B{PATIENTS // 2:07d}")
    return {
        "users": {name: user.pk for name, user in people.items()},
        "password": PASSWORD,
        "short_plan": probe_plans["BENCH-SHORT"],
        "long_plan": probe_plans["BENCH-LONG"],
        "plan": str(typical.pk),
        "patient": str(typical.patient_id),
    }


def credentials(user_ids: dict[str, int], *, sessions_each: int = 16) -> dict:
    """Fresh session keys for the clinician and the nurse (a few each, as for a ward of browsers), an API token for
    the API client, and patients with an active plan for the load scenario."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model

    from recommender.access import services
    from recommender.access.sessions import SessionStore
    from recommender.models import AccessToken, TreatmentPlan

    sessions: dict[str, list[str]] = {}
    for name in ("bench", "bench-nurse"):
        user = get_user_model().objects.get(pk=user_ids[name])
        for _ in range(sessions_each):
            store = SessionStore()
            store[SESSION_KEY] = str(user.pk)
            store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
            store[HASH_SESSION_KEY] = user.get_session_auth_hash()
            store.create()
            sessions.setdefault(name, []).append(store.session_key)
    api_user = get_user_model().objects.get(pk=user_ids["bench-api"])
    _, token = services.access_token_issue(user=api_user, purpose=AccessToken.Purpose.API, name="bench")
    patients = TreatmentPlan.objects.filter(
        status=TreatmentPlan.Status.ACTIVE, patient__hospital_number__startswith="B0"
    ).values_list("patient_id", flat=True)[:500]
    return {"sessions": sessions, "api_token": token, "patients": [str(p) for p in patients]}


def _json(value) -> str:
    import json

    from django.core.serializers.json import DjangoJSONEncoder

    return json.dumps(value, cls=DjangoJSONEncoder)


def main() -> None:
    import json

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    ids = seed(force="--force" in sys.argv)
    print(json.dumps(ids | credentials(ids["users"])))


if __name__ == "__main__":
    main()
