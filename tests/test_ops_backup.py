"""``manage.py backup FILE`` and ``manage.py restore FILE``: a restore into an emptied database gives back every
patient's whole record (the export a patient may ask for), and a damaged or unverifiable backup is refused
before anything is changed. Runs on the database the suite runs on (SQLite, or PostgreSQL with pg_dump)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from recommender.clinic import selectors
from recommender.models import DoseRecord, Patient
from recommender.ops.backups import sha256_of
from tests.factories import give, make_patient, make_plan, miss

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def every_patient_record() -> dict[str, dict]:
    records = {}
    for patient in Patient.objects.all():
        export = selectors.patient_record_export(patient=patient)
        export.pop("exported_at")
        records[str(patient.pk)] = export
    return records


@pytest.fixture
def clinic(clinician, nurse):
    """Patients with assessments, plans, given and missed doses, corrections in their history; one without a plan."""
    for _ in range(3):
        plan = make_plan(clinician, start=timezone.localdate() - timedelta(days=7))
        miss(plan, nurse)  # the first dose, due a week ago (a dose is missed only once it has come)
        give(plan, nurse, early_reason="Away next week.")
    make_patient(by=clinician, family_name="Ödön-O'Brien")
    return every_patient_record()


@pytest.fixture
def backup_file(tmp_path, clinic):
    path = tmp_path / "nightly" / "b12.backup"
    call_command("backup", str(path))
    return path


def test_restore_into_an_empty_database_gives_back_every_patient_record(clinic, backup_file):
    assert len(clinic) == 4
    assert backup_file.with_name("b12.backup.sha256").read_text().endswith("  b12.backup\n")

    call_command("flush", "--noinput")
    assert not Patient.objects.exists()

    call_command("restore", str(backup_file), "--noinput")

    assert every_patient_record() == clinic
    assert DoseRecord.objects.count() == 6


def test_a_changed_backup_is_refused_and_nothing_is_touched(clinic, backup_file, clinician):
    data = bytearray(backup_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    backup_file.write_bytes(bytes(data))
    make_patient(by=clinician, family_name="Added-After-The-Backup")

    with pytest.raises(CommandError, match="does not match its checksum"):
        call_command("restore", str(backup_file), "--noinput")
    assert Patient.objects.count() == 5


def test_a_backup_without_its_checksum_is_refused(backup_file):
    backup_file.with_name("b12.backup.sha256").unlink()
    with pytest.raises(CommandError, match=r"checksum file b12\.backup\.sha256 is missing"):
        call_command("restore", str(backup_file), "--noinput")
    assert Patient.objects.count() == 4


def test_a_backup_of_the_other_kind_of_database_is_refused(tmp_path, clinic):
    other_kind = b"SQLite format 3\x00" if connection.vendor == "postgresql" else b"PGDMP\x01\x0e"
    stranger = tmp_path / "other.backup"
    stranger.write_bytes(other_kind)
    stranger.with_name("other.backup.sha256").write_text(f"{sha256_of(stranger)}  other.backup\n")
    with pytest.raises(CommandError, match="backup; this site runs on"):
        call_command("restore", str(stranger), "--noinput")
    assert Patient.objects.count() == 4


def test_restore_asks_before_replacing_the_database(backup_file, monkeypatch, clinician):
    make_patient(by=clinician, family_name="Kept")
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    with pytest.raises(CommandError, match="cancelled"):
        call_command("restore", str(backup_file))
    assert Patient.objects.filter(family_name="Kept").exists()


def test_a_restore_that_fails_part_way_still_retires_what_the_nodes_keep(backup_file, shared, monkeypatch):
    """The database may have changed before the failure: nothing kept from before it holds."""
    from recommender import shared_cache
    from recommender.management.commands import restore as command
    from recommender.ops.backups import BackupError

    def fails_part_way(**kwargs):
        raise BackupError("pg_restore stopped at table recommender_doserecord")

    monkeypatch.setattr(command, "restore", fails_part_way)
    shared_cache.read_through(shared_cache.CLINIC_LISTS, "k", lambda: "before")
    with pytest.raises(CommandError, match="pg_restore stopped"):
        call_command("restore", str(backup_file), "--noinput")
    assert shared_cache.read_through(shared_cache.CLINIC_LISTS, "k", lambda: "after") == "after"
