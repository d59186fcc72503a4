"""The patient export is built from the models' own fields: a field added to a model appears in it unedited."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from uuid import UUID

import pytest
from django.core.serializers.json import DjangoJSONEncoder

from recommender.clinic import selectors as clinic_selectors
from recommender.models import Assessment, DoseRecord, Patient, TreatmentPlan
from recommender.serializers import json_value, record_fields
from tests.factories import give, make_plan


def _field_names(model) -> set[str]:
    return {f.name for f in model._meta.concrete_fields}


@pytest.mark.django_db
def test_every_field_of_every_clinical_model_is_exported(clinician, nurse):
    plan = make_plan(clinician)
    give(plan, nurse)
    data = clinic_selectors.patient_record_export(patient=plan.patient)
    json.dumps(data, cls=DjangoJSONEncoder)  # JSON-ready as a whole
    assert _field_names(Patient) <= set(data["patient"])
    assert _field_names(Assessment) <= set(data["assessments"][0])
    assert _field_names(TreatmentPlan) <= set(data["plans"][0])
    assert _field_names(DoseRecord) <= set(data["plans"][0]["doses"][0])


@pytest.mark.django_db
def test_a_record_names_users_by_username_and_records_by_id(clinician, nurse):
    plan = make_plan(clinician)
    dose = give(plan, nurse)
    fields = record_fields(dose)
    assert fields["recorded_by"] == nurse.get_username()
    assert fields["plan"] == str(plan.pk)
    assert fields["given_on"] == dose.given_on.isoformat()


def test_values_are_json_ready():
    assert json_value(date(2027, 2, 14)) == "2027-02-14"
    assert json_value(Decimal("0.40")) == "0.40"
    assert json_value(UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert json_value({"a": [1]}) == {"a": [1]}


@pytest.mark.django_db
def test_the_export_says_what_its_codes_mean(clinician, nurse):
    plan = make_plan(clinician)
    give(plan, nurse)
    words = clinic_selectors.patient_record_export(patient=plan.patient)["words"]
    assert words["doserecord"]["outcome"]["given"] == "Given"
    assert words["treatmentplan"]["loading_pattern"]["three_times_weekly"] == "Three times a week"
    assert words["treatmentplan"]["indications"]["ileal_resection"] == "ileal resection"
    assert words["assessment"]["status"]["not_deficient"] == "Not deficient"
