"""The clinic selectors (recommender/clinic/selectors.py): reads of patients, assessments and plans, and the
thresholds a lab profile gives the engine. Reads only: nothing here writes."""

from __future__ import annotations

from datetime import date

import pytest

from recommender.clinic import selectors, services
from recommender.guideline import DEFAULT_RULESET
from recommender.models import LabProfile
from tests.factories import make_patient, make_plan

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("word", "day"),
    [
        ("14/02/1961", date(1961, 2, 14)),
        ("14-02-1961", date(1961, 2, 14)),
        ("14.02.1961", date(1961, 2, 14)),
        ("1961-02-14", date(1961, 2, 14)),
        ("31/02/1961", None),
        ("Okafor", None),
        ("", None),
    ],
)
def test_a_typed_date_is_read_as_people_type_it(word, day):
    assert selectors.typed_date(word) == day


def test_patient_search_by_number_prefix_name_words_and_date_of_birth(clinician):
    ada = make_patient(by=clinician, hospital_number="Q1234567", family_name="Okafor", given_name="Ada")
    make_patient(by=clinician, hospital_number="Q7654321", family_name="Okafor", given_name="Ben")
    make_patient(by=clinician, family_name="Smith", given_name="Ada", date_of_birth=date(1970, 5, 1))
    assert list(selectors.patient_search(query="q1234")) == [ada]
    assert list(selectors.patient_search(query="okafor ada")) == [ada]
    assert list(selectors.patient_search(query="Ada 01/01/1960")) == [ada]
    assert selectors.patient_search(query="okafor").count() == 2


@pytest.mark.parametrize("query", ["", "   ", "a\x00b", "x" * 10_000])
def test_patient_search_finds_no_one_for_an_empty_or_impossible_query(clinician, query):
    make_patient(by=clinician)
    assert list(selectors.patient_search(query=query)) == []


def test_patient_detail_is_a_fresh_copy(clinician):
    patient = make_patient(by=clinician, family_name="Okafor")
    patient.family_name = "Changed in memory"
    fresh = selectors.patient_detail(patient_id=patient.pk)
    assert fresh == patient and fresh is not patient
    assert fresh.family_name == "Okafor"


def test_the_active_plan_and_the_plan_of_an_assessment(clinician):
    plan = make_plan(clinician)
    assert selectors.patient_active_plan(patient=plan.patient) == plan
    assert selectors.assessment_plan(assessment=plan.assessment) == plan
    assert list(selectors.patient_plans(patient=plan.patient)) == [plan]
    assert list(selectors.patient_assessments(patient=plan.patient)) == [plan.assessment]


def test_no_active_plan_for_a_new_patient(clinician):
    assert selectors.patient_active_plan(patient=make_patient(by=clinician)) is None


def test_without_a_lab_profile_the_thresholds_are_the_rulesets():
    assert selectors.thresholds_for(None) == DEFAULT_RULESET.thresholds


def test_the_patient_with_their_active_plan_in_one_query(clinician, django_assert_num_queries):
    plan = make_plan(clinician)
    with django_assert_num_queries(1):
        patient = selectors.patient_with_active_plan(patient_id=plan.patient.pk)
        assert patient == plan.patient
        assert patient.active_plan_row == plan
        assert patient.active_plan_row.start_date == plan.start_date


def test_the_patient_without_an_active_plan_has_none(clinician):
    assert selectors.patient_with_active_plan(patient_id=make_patient(by=clinician).pk).active_plan_row is None
    plan = make_plan(clinician)
    services.plan_end(plan=plan, reason="Moved away.", by=clinician)
    assert selectors.patient_with_active_plan(patient_id=plan.patient.pk).active_plan_row is None


def test_the_lab_profiles_offered_default_first_with_their_labels(db):
    LabProfile.objects.create(name="Lab B")
    LabProfile.objects.create(name="Lab A", is_default=True)
    choices = selectors.lab_profile_choices()
    assert [(label, is_default) for _, label, is_default in choices] == [("Lab A (default)", True), ("Lab B", False)]
