"""How a clinical record is written (recommender/records.py): validated first, with who and why in its history."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

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
