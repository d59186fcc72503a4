"""The audit trail: every service write leaves history naming the acting user; nothing writes around the history
(no QuerySet.update/delete, no bulk writes); logins are throttled per account and logged, never with a password."""

from __future__ import annotations

import logging
import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.db.models import Max
from django.test import Client
from django.utils import timezone

from recommender.clinic import services as clinic_services
from recommender.injections import services as injections_services
from recommender.models import Assessment, DoseRecord, LabProfile, Patient, TreatmentPlan
from recommender.roles import CLINICIAN, NURSE
from tests.conftest import PASSWORD, make_user
from tests.factories import DEFICIENT, DEFICIENT_NEURO, make_patient, make_plan, miss

AUDITED = (Patient, Assessment, TreatmentPlan, DoseRecord, LabProfile)
RECOMMENDER = Path(__file__).resolve().parent.parent / "recommender"


def today() -> date:
    return timezone.localdate()


class History:
    """The history rows written since it was made, across every audited model."""

    def __init__(self):
        self.marks = {
            model.history.model: model.history.model.objects.aggregate(m=Max("history_id"))["m"] or 0
            for model in AUDITED
        }

    def new_rows(self) -> list:
        return [
            row
            for historical, mark in self.marks.items()
            for row in historical.objects.filter(history_id__gt=mark).order_by("history_id")
        ]

    def assert_written_by(self, user, *instances, types: str | None = None) -> list:
        """Every row written since is by ``user``; each instance has at least one of them. Returns the rows."""
        rows = self.new_rows()
        assert rows, "the service left no history"
        assert {r.history_user_id for r in rows} == {user.pk}, [(r, r.history_user) for r in rows]
        for instance in instances:
            mine = [r for r in rows if type(r).instance_type is type(instance) and r.id == instance.pk]
            assert mine, f"no history row for {instance!r}"
            if types:
                assert "".join(r.history_type for r in mine) == types, instance
        return rows


@pytest.fixture
def c2(django_user_model):
    return make_user(django_user_model, "dr_second", CLINICIAN)


@pytest.fixture
def n2(django_user_model):
    return make_user(django_user_model, "nurse_second", NURSE)


def test_patient_create(clinician):
    history = History()
    patient = make_patient(by=clinician, hospital_number="H0000001")
    [row] = history.assert_written_by(clinician, patient, types="+")
    assert row.hospital_number == "H0000001"


def test_assessment_create(clinician, c2):
    patient = make_patient(by=clinician)
    history = History()
    assessment = clinic_services.assessment_create(patient=patient, sample_date=today(), payload=dict(DEFICIENT), by=c2)
    [row] = history.assert_written_by(c2, assessment, types="+")
    assert row.decision == assessment.decision


def test_assessment_record_with_a_plan(clinician, c2):
    patient = make_patient(by=clinician)
    history = History()
    plan = make_plan(c2, patient=patient)
    assessment = plan.assessment
    history.assert_written_by(c2, assessment, plan)


def test_plan_create_superseding_an_old_plan(clinician, c2):
    patient = make_patient(by=clinician)
    old = make_plan(clinician, patient=patient)
    history = History()
    new = make_plan(c2, patient=patient, every=3)
    rows = history.assert_written_by(c2, new, old)
    old_rows = [r for r in rows if r.id == old.pk]
    assert [r.history_type for r in old_rows] == ["~", "~"]
    assert old_rows[-1].status == TreatmentPlan.Status.SUPERSEDED
    assert old_rows[-1].superseded_by_id == new.pk
    # The plan's creation stays attributed to whoever created it.
    assert old.history.earliest().history_user == clinician


def test_plan_end(clinician, c2):
    plan = make_plan(clinician)
    history = History()
    clinic_services.plan_end(plan=plan, reason="Moved away", by=c2)
    [row] = history.assert_written_by(c2, plan, types="~")
    assert row.status == TreatmentPlan.Status.ENDED
    assert row.history_change_reason == "plan ended"


def test_dose_record(clinician, nurse):
    plan = make_plan(clinician)
    history = History()
    dose = injections_services.dose_record(
        plan=plan,
        phase=plan.next_phase,
        number=plan.next_number,
        outcome="given",
        allergy_checked=True,  # the first-dose checks (asked, sample taken)
        baseline_sample_taken=True,
        given_at=timezone.now(),
        dose_mg=Decimal(1),
        route="IM",
        site="right_deltoid",
        batch="LOT-7",
        expiry=today() + timedelta(days=90),
        by=nurse,
    )
    history.assert_written_by(nurse, dose, plan)
    assert dose.history.get().history_type == "+"


def test_dose_mark_entered_in_error(clinician, nurse, n2):
    plan = make_plan(clinician)
    dose = miss(plan, nurse)
    history = History()
    injections_services.dose_mark_entered_in_error(dose=dose, reason="Wrong patient", by=n2)
    rows = history.assert_written_by(n2, dose, plan)
    [dose_row] = [r for r in rows if isinstance(r, DoseRecord.history.model)]
    assert dose_row.entered_in_error is True
    assert dose_row.history_change_reason == "entered in error"
    assert dose.history.earliest().history_user == nurse


def test_plan_end_loading(clinician, c2):
    plan = make_plan(clinician, payload=DEFICIENT_NEURO)
    history = History()
    clinic_services.plan_end_loading(plan=plan, on=today(), by=c2)
    [row] = history.assert_written_by(c2, plan, types="~")
    assert row.loading_ended_on == today()


def test_plan_mark_stable(clinician, c2):
    no_loading = {"b12": {"value": 400, "unit": "pg/mL"}, "bariatric_surgery": True}  # stable from the start
    plan = make_plan(clinician, payload=no_loading, every=3)
    history = History()
    clinic_services.plan_mark_stable(plan=plan, on=today(), reason="Symptoms resolved.", by=c2)
    [row] = history.assert_written_by(c2, plan, types="~")
    assert (row.stable_on, row.stable_reason) == (today(), "Symptoms resolved.")


def test_patient_update(clinician, c2):
    patient = make_patient(by=clinician)
    history = History()
    clinic_services.patient_update(
        patient=patient,
        hospital_number="H0000001",
        family_name="Audit-Smith",
        given_name="Ada",
        date_of_birth=date(1950, 5, 5),
        reason="Name changed on marriage.",
        by=c2,
    )
    [row] = history.assert_written_by(c2, patient, types="~")
    assert (row.family_name, row.history_change_reason) == ("Audit-Smith", "Name changed on marriage.")


def test_plan_change_interval(clinician, c2):
    plan = make_plan(clinician)
    history = History()
    clinic_services.plan_change_interval(plan=plan, every=3, unit="months", reason="Stable levels", by=c2)
    [row] = history.assert_written_by(c2, plan, types="~")
    assert (row.maintenance_every, row.maintenance_unit) == (3, "months")
    assert "Stable levels" in row.history_change_reason


def test_lab_profile_make_default(admin_user, django_user_model):
    other_admin = django_user_model.objects.create(username="admin_two", is_staff=True)
    old = LabProfile(name="Old default")
    old._history_user = other_admin
    old.save()
    clinic_services.lab_profile_make_default(profile=old, by=other_admin)
    new = LabProfile(name="New default", total_b12_deficient_below=200)
    new._history_user = other_admin
    new.save()
    history = History()
    clinic_services.lab_profile_make_default(profile=new, by=admin_user)
    rows = history.assert_written_by(admin_user, old, new)
    assert {(r.name, r.is_default) for r in rows} == {("Old default", False), ("New default", True)}


# Nothing writes around the history: simple-history records save() and delete() of instances, never
# QuerySet.update(), QuerySet.delete() or the bulk methods. The services save instances one by one.

WRITE_AROUND = re.compile(r"\.\s*(update|bulk_update|bulk_create|delete|_raw_delete)\s*\(")
# (file, line) pairs shown to be on something other than an audited model, such as a dict's update(), or an
# instance's delete() (simple-history records it; tests/test_closures.py checks the removal is in the history).
ALLOWED: set[tuple[str, str]] = {
    (
        "recommender/injections/services.py",
        "closure.delete()  # an instance delete: simple-history keeps the row with who removed it",
    ),
    # A plan's next monitoring visit is derived from the plan and the patient's results (each with its history) and
    # is not in the plan's history (excluded_fields): refreshed in place when results come, filled after a bulk load.
    (
        "recommender/injections/services.py",
        "TreatmentPlan.objects.filter(pk=row.pk).update(next_visit_on=plan_next_visit(row))",
    ),
    (
        "recommender/injections/services.py",
        'TreatmentPlan.objects.bulk_update(plans, ["next_visit_on"], batch_size=2000)',
    ),
    # Sessions are not clinical and have no history: signing a user out everywhere deletes them.
    ("recommender/access/accounts.py", "ended, _ = SignInSession.objects.filter(user=user).delete()"),
    # Sign-in records without history: django-axes's attempts and django-otp's devices and recovery codes.
    ("recommender/access/lockout.py", "count += attempts.delete()[0]"),
    ("recommender/access/twofactor.py", "device.token_set.all().delete()"),
    (
        "recommender/access/twofactor.py",
        "StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])",
    ),
    ("recommender/access/twofactor.py", "TOTPDevice.objects.filter(user=device.user, confirmed=False).delete()"),
    ("recommender/access/twofactor.py", "TOTPDevice.objects.filter(user=user).delete()"),
    ("recommender/access/twofactor.py", "StaticDevice.objects.filter(user=user).delete()"),
    # CDS Hooks (no history): the ids of expired JWTs swept, a client deactivated, a dict, the cards and feedback
    # written once (never changed).
    ("recommender/interop/cds/security.py", "CdsJwtUse.objects.filter(expires_at__lt=timezone.now()).delete()"),
    (
        "recommender/interop/cds/services.py",
        "prefetch.update(fhirserver.prefetch_fetch(body, PREFETCH, missing, patient_id))",
    ),
    ("recommender/interop/cds/services.py", "found = CdsClient.objects.filter(issuer=issuer).update(active=False) > 0"),
    ("recommender/interop/cds/services.py", "type(rows[0]).objects.bulk_create(rows)"),  # CdsCard or CdsFeedback rows
} | {
    # demo_clinic --reset (DEBUG only) removes the fictional demo patients and all their records, by design.
    ("recommender/management/commands/demo_clinic.py", line)
    for line in (
        "doses.update(replaced_by=None)",
        "doses.delete()",
        "plans.update(superseded_by=None)",
        "plans.delete()",
        "Assessment.objects.filter(patient__in=patients).delete()",
        "count, _ = patients.delete()",
        "ClinicClosure.objects.filter(reason=DEMO_CLOSURE_REASON).delete()",
    )
}


def write_around_calls(root: Path) -> list[str]:
    """Lines of the app's Python (not its migrations) calling .update(, .bulk_update(, .delete( and the like."""
    found = []
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.relative_to(root).parts:
            continue
        relative = path.relative_to(root.parent).as_posix()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if WRITE_AROUND.search(line) and (relative, line.strip()) not in ALLOWED:
                found.append(f"{relative}:{number}: {line.strip()}")
    return found


def test_no_service_or_view_writes_around_the_history():
    scanned = [p for p in RECOMMENDER.rglob("*.py") if "migrations" not in p.parts]
    assert RECOMMENDER / "injections" / "services.py" in scanned and RECOMMENDER / "admin.py" in scanned
    assert write_around_calls(RECOMMENDER) == []


def test_the_scan_finds_queryset_and_bulk_writes(tmp_path):
    app = tmp_path / "recommender"
    (app / "migrations").mkdir(parents=True)
    (app / "bad.py").write_text(
        "def f(Plan, plan):\n"
        "    Plan.objects.filter(status='active').update(status='ended')\n"
        "    Plan.objects.bulk_update([plan], ['status'])\n"
        "    (plan.doses.all()\n"
        "        .delete())\n"
        "    plan.save()\n",
        encoding="utf-8",
    )
    (app / "migrations" / "0001.py").write_text("Group.objects.filter(name='x').delete()\n", encoding="utf-8")
    assert [hit.split(":")[1] for hit in write_around_calls(app)] == ["2", "3", "5"]


# Logins: throttled per account (django-axes), logged, never with the password.

LOGIN = "/login/"
WRONG = [f"wrong-password-{i}" for i in range(1, 6)]


def _login(client, username, password):
    return client.post(LOGIN, {"username": username, "password": password})


def test_five_failed_logins_lock_the_account_and_not_another(client, nurse, clinician, caplog):
    caplog.set_level(logging.DEBUG)
    for attempt, password in enumerate(WRONG[:4], start=1):
        response = _login(client, nurse.username, password)
        assert response.status_code == 200, f"attempt {attempt}"
        assert "_auth_user_id" not in client.session
    _login(client, nurse.username, WRONG[4])

    locked = _login(client, nurse.username, PASSWORD)
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    assert "registration/locked.html" in [t.name for t in locked.templates]

    # Lockout is by username: another user on the same computer (same address) still signs in.
    colleague = Client()
    response = _login(colleague, clinician.username, PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert colleague.session["_auth_user_id"] == str(clinician.pk)

    # Still locked for the nurse, even from a fresh browser.
    assert _login(Client(), nurse.username, PASSWORD).status_code == 429


def test_logins_are_logged_without_the_password(client, nurse, clinician, caplog):
    caplog.set_level(logging.DEBUG)
    for password in WRONG:
        _login(client, nurse.username, password)
    _login(client, nurse.username, PASSWORD)  # locked now
    _login(Client(), clinician.username, PASSWORD)

    auth = [r for r in caplog.records if r.name == "recommender.auth"]
    failed = [r for r in auth if r.getMessage().startswith("login failed")]
    succeeded = [r for r in auth if r.getMessage().startswith("login succeeded")]
    assert len(failed) >= 5
    assert all(f"user={nurse.username}" in r.getMessage() and r.levelno == logging.WARNING for r in failed)
    assert [r.getMessage() for r in succeeded] == [f"login succeeded user={clinician.username} ip=127.0.0.1"]

    secrets = [PASSWORD, *WRONG]
    for record in caplog.records:
        text = " ".join([record.getMessage(), repr(record.args), record.exc_text or "", str(record.__dict__)])
        for secret in secrets:
            assert secret not in text, f"{record.name} logged a password: {record.getMessage()}"
    for secret in secrets:
        assert secret not in caplog.text
    # Nor does django-axes keep one in its records.
    for model in (AccessAttempt, AccessFailureLog):
        for row in model.objects.values():
            for secret in secrets:
                assert secret not in str(row), f"{model.__name__} stored a password"
    assert AccessAttempt.objects.filter(username=nurse.username).exists()


def test_logout_is_logged(client, clinician, caplog):
    caplog.set_level(logging.INFO, logger="recommender.auth")
    assert _login(client, clinician.username, PASSWORD).status_code == 302
    client.post("/logout/")
    messages = [r.getMessage() for r in caplog.records if r.name == "recommender.auth"]
    assert messages[-1] == f"logout user={clinician.username} ip=127.0.0.1"
