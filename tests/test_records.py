"""How a clinical record is written (recommender/records.py): validated first, with who and why in its history."""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from recommender import records
from recommender.models import REASON_MAX_LENGTH, Patient
from recommender.records import reason_error, save_record
from tests.factories import make_patient

MISSING = "Give a reason."


@pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
def test_a_missing_reason_gets_the_callers_message(reason):
    assert reason_error(reason, MISSING) == MISSING


def test_a_reason_too_long_says_how_long_it_is():
    message = reason_error("x" * (REASON_MAX_LENGTH + 1), MISSING)
    assert str(REASON_MAX_LENGTH) in message and str(REASON_MAX_LENGTH + 1) in message


def test_a_good_reason_has_no_error():
    assert reason_error("  Symptoms resolved.  ", MISSING) == ""


@pytest.mark.django_db
def test_save_record_keeps_who_and_why_in_the_history(clinician):
    patient = make_patient(by=clinician)
    patient.family_name = "Corrected"
    save_record(patient, by=clinician, reason="Name misspelt at registration.")
    latest = patient.history.latest()
    assert latest.history_user == clinician
    assert latest.history_change_reason == "Name misspelt at registration."
    assert Patient.objects.get(pk=patient.pk).family_name == "Corrected"


@pytest.mark.django_db
def test_save_record_refuses_an_invalid_record_and_saves_nothing(clinician):
    patient = make_patient(by=clinician, family_name="Okafor")
    patient.family_name = ""
    with pytest.raises(ValidationError) as refused:
        save_record(patient, by=clinician, reason="Cleared by mistake.")
    assert "family_name" in refused.value.message_dict
    assert Patient.objects.get(pk=patient.pk).family_name == "Okafor"
    assert patient.history.count() == 1


@pytest.mark.django_db
def test_insert_one_writes_the_row_save_would_and_sets_its_id(clinician):
    """The access audit's INSERT, compiled once: the same row as the ORM's save, its id read back."""
    from recommender import records
    from recommender.models import AccessRecord

    patient = make_patient(by=clinician)
    fields = {"user": clinician, "username": "dr_smith", "patient": patient, "what": "plan.view", "ip": "10.0.0.9"}
    saved, inserted = AccessRecord(**fields), AccessRecord(**fields)
    saved.save()
    records.insert_one(inserted)
    assert inserted.pk is not None and inserted.pk != saved.pk and not inserted._state.adding
    columns = ("user_id", "username", "patient_id", "what", "ip", "request_id")
    assert AccessRecord.objects.filter(pk=inserted.pk).values(*columns).get() == (
        AccessRecord.objects.filter(pk=saved.pk).values(*columns).get()
    )
    sql, _ = records._compiled_insert(AccessRecord, [inserted], returning=True)
    assert records._one_row_insert(AccessRecord, connection.vendor, returning=True)[0] == sql


def _unsaved_copy(plan, **changes):
    """A new plan like ``plan`` (its patient, assessment and author held as objects, as the services build one)."""
    from recommender.models import TreatmentPlan

    values = {
        field.attname: getattr(plan, field.attname)
        for field in TreatmentPlan._meta.concrete_fields
        if not field.is_relation and not field.primary_key
    }
    copy = TreatmentPlan(**values)
    copy.patient, copy.assessment, copy.created_by = plan.patient, plan.assessment, plan.created_by
    for name, value in changes.items():
        setattr(copy, name, value)
    return copy


def _errors(validate, instance) -> dict:
    with pytest.raises(ValidationError) as refused:
        validate(instance)
    return refused.value.message_dict


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes",
    [
        {"maintenance_every": 0},  # a check constraint
        {"individualised": True, "individualised_reason": ""},  # another
        {"maintenance_every": 0, "individualised": True, "individualised_reason": ""},  # both at once
        {},  # the patient's plan is still active: the conditional unique constraint
        {"status": "ended", "maintenance_every": 0, "individualised_reason": "x" * 5000},  # a field and a check
        {"status": "ended", "patient_id": uuid.uuid4()},  # a patient that does not exist (not held: looked up)
    ],
    ids=["interval", "reason", "both", "one-active", "field-and-check", "missing-patient"],
)
def test_validate_record_refuses_what_full_clean_refuses_with_the_same_messages(clinician, changes):
    from tests.factories import make_plan

    plan = make_plan(clinician)
    copy = _unsaved_copy(plan, **changes)
    if "patient_id" in changes:
        copy.patient_id = changes["patient_id"]  # the held patient forgotten: only its id
    assert _errors(records.validate_record, copy) == _errors(lambda instance: instance.full_clean(), copy)


@pytest.mark.django_db
def test_validate_record_passes_a_good_plan_in_fewer_statements(clinician):
    from tests.factories import make_plan

    good = make_plan(clinician)  # saved: the unique checks leave the row itself out
    good.patient, good.assessment, good.created_by = good.patient, good.assessment, good.created_by
    with CaptureQueriesContext(connection) as django_way:
        good.full_clean()
    with CaptureQueriesContext(connection) as ours:
        records.validate_record(good)
    sql = [query["sql"] for query in ours.captured_queries]
    assert not [line for line in sql if 'FROM "recommender_patient"' in line or 'FROM "auth_user"' in line]
    assert len([line for line in sql if '"_check_' in line]) == 1  # every check constraint in one query
    assert len(sql) <= len(django_way.captured_queries) - 5  # three look-ups and two checks fewer


@pytest.mark.django_db
def test_insert_one_saves_a_model_with_receivers_through_save_so_none_is_skipped(clinician):
    """The compiled INSERT is for rows nothing listens to; a receiver added to the model (a cache to retire, a
    history) is called, because such a row goes through save()."""
    from django.db.models.signals import post_save

    from recommender.models import AccessRecord

    heard = []

    def receiver(sender, instance, created, **kwargs):
        heard.append((instance.pk, created))

    post_save.connect(receiver, sender=AccessRecord)
    try:
        record = AccessRecord(username="dr_smith", patient=make_patient(by=clinician), what="plan.view")
        records.insert_one(record)
    finally:
        post_save.disconnect(receiver, sender=AccessRecord)
    assert heard == [(record.pk, True)]


@pytest.mark.django_db
def test_validate_record_looks_up_a_held_related_row_that_was_never_saved(clinician):
    """Only a related row read from the database is taken as existing: an unsaved one is refused on its field, as
    full_clean refuses it, not left to fail at save()."""
    from recommender.models import Patient
    from tests.factories import make_plan

    plan = make_plan(clinician)
    copy = _unsaved_copy(plan, status="ended")
    copy.patient = Patient(hospital_number="X1", family_name="Unsaved", given_name="Not", date_of_birth=plan.start_date)
    refused = _errors(records.validate_record, copy)
    assert "patient" in refused and refused == _errors(lambda instance: instance.full_clean(), copy)
