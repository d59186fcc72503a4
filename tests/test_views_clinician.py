"""The clinician's pages (who may see and do what is tests/test_roles.py): validation that saves nothing, one
engine behind form and API, what a save stores (with history), constant query counts, and the page furniture (UUID
URLs, search, recent patients, trend chart, CSP nonce, print stylesheet)."""

from __future__ import annotations

import html
import json
import re
import uuid
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.staticfiles import finders
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from recommender.clinic import forms as clinic_forms
from recommender.clinic import services as clinic_services
from recommender.clinic.forms import AssessmentForm
from recommender.models import Assessment, LabProfile, Patient, TreatmentPlan
from tests.factories import (
    DEFICIENT,
    DEFICIENT_NEURO,
    NO_LOADING,
    assessment_form,
    counts,
    give,
    htmx_headers,
    make_assessment,
    make_patient,
    make_plan,
    pending_decision,
    save_with_plan,
    shown_fingerprint,
    today,
)

API = "/api/v1/recommendation"
UUID_PATH = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


# b. Invalid input: field errors, nothing saved ------------------------------------------------------------------


def assert_field_error_shown(response, field: str, message: str) -> None:
    """The message is on the page, tied to its field: in an error summary linking to the field, or beside the
    field's own input, which is marked invalid."""
    page = response.content.decode()
    text = html.unescape(page)
    assert message in text, f"{message!r} not shown"
    summary = re.findall(rf'<a href="#id_{field}">([^<]*)</a>', page)
    if any(message in html.unescape(item) for item in summary):
        return
    inputs = re.findall(rf'<(?:input|select|textarea)\b[^>]*\bname="{field}"[^>]*>', page)
    assert inputs, f"no input named {field}"
    assert any("is-invalid" in tag or 'aria-invalid="true"' in tag for tag in inputs), inputs


INVALID_ASSESSMENT = [
    pytest.param({"b12_unit": ""}, "b12_value", "Choose the unit of the total B12", id="b12-without-unit"),
    pytest.param({"b12_value": "-5"}, "b12_value", "The total B12 cannot be negative", id="negative-b12"),
    pytest.param({"b12_unit": "mg/dL"}, "b12_value", "'mg/dL' is not a unit of total B12", id="unknown-unit"),
    pytest.param({"b12_value": "abc"}, "b12_value", "The total B12 must be a number", id="b12-not-a-number"),
    pytest.param({"b12_value": "", "b12_unit": ""}, "b12_value", "Enter a total B12 result", id="no-b12-at-all"),
    pytest.param({"mma_upper_limit": "0.3"}, "mma_value", "Enter the MMA value", id="mma-limit-alone"),
    pytest.param({"mma_value": "0.5"}, "mma_value", "Choose the unit of the MMA", id="mma-no-unit"),
    pytest.param(
        {"sample_date": (timezone.localdate() + timedelta(days=2)).isoformat()},
        "sample_date",
        "The sample date cannot be in the future",
        id="future-sample-date",
    ),
]


@pytest.mark.parametrize(("overrides", "field", "message"), INVALID_ASSESSMENT)
def test_invalid_assessment_rerenders_with_the_fields_error_and_saves_nothing(
    clinician_client, world, overrides, field, message
):
    before = counts()
    response = clinician_client.post(reverse("assessment-create", args=[world.patient.pk]), save_with_plan(**overrides))
    assert response.status_code == 200
    form = response.context["form"]
    assert field in form.errors
    assert any(message in error for error in form.errors[field])
    assert_field_error_shown(response, field, message)
    assert counts() == before


@pytest.mark.parametrize(("overrides", "field", "message"), INVALID_ASSESSMENT[:3])
def test_invalid_preview_lists_the_error_and_saves_nothing(clinician_client, world, overrides, field, message):
    before = counts()
    response = clinician_client.post(
        reverse("assessment-preview", args=[world.patient.pk]),
        assessment_form(**overrides),
        headers=htmx_headers(reverse("assessment-create", args=[world.patient.pk])),
    )
    assert response.status_code == 200
    assert_field_error_shown(response, field, message)
    assert counts() == before


INVALID_PLAN = [
    pytest.param(
        DEFICIENT,
        {"maintenance_choice": "individualised", "individualised_every": "2", "individualised_unit": "weeks"},
        "individualised_reason",
        "Give the clinical reason",
        id="individualised-without-reason",
    ),
    pytest.param(
        DEFICIENT,
        {"maintenance_choice": "individualised", "individualised_every": "4", "individualised_unit": "months"},
        "individualised_every",
        "every 4 months is less often",
        id="individualised-4-months",
    ),
    pytest.param(
        DEFICIENT,
        {"maintenance_choice": "individualised", "individualised_every": "14", "individualised_unit": "weeks"},
        "individualised_every",
        "every 14 weeks is less often",
        id="individualised-14-weeks",
    ),
    pytest.param(
        DEFICIENT,
        {"maintenance_choice": "individualised", "individualised_every": "91", "individualised_unit": "days"},
        "individualised_every",
        "every 91 days is less often",
        id="individualised-91-days",
    ),
    pytest.param(
        DEFICIENT,
        {"maintenance_choice": "individualised", "individualised_every": "2"},
        "individualised_unit",
        "Choose days, weeks or months",
        id="individualised-without-unit",
    ),
    pytest.param(
        DEFICIENT_NEURO,
        {"maintenance_choice": "3"},
        "maintenance_choice",
        "Every 3 months is outside this decision's range (every 2 months)",
        id="3-when-only-2",
    ),
    pytest.param(DEFICIENT, {"maintenance_choice": "4"}, "maintenance_choice", "Select a valid choice", id="4-of-2-3"),
    pytest.param(
        DEFICIENT, {"start_date": ""}, "start_date", "Enter the date of the first injection", id="no-start-date"
    ),
]


@pytest.mark.parametrize(("payload", "overrides", "field", "message"), INVALID_PLAN)
def test_invalid_plan_saves_neither_plan_nor_assessment(clinician_client, world, payload, overrides, field, message):
    data = save_with_plan(payload, individualised_reason="", **overrides)
    before = counts()
    response = clinician_client.post(reverse("assessment-create", args=[world.patient.pk]), data)
    assert response.status_code == 200
    assert not response.context["form"].errors
    plan_form = response.context["plan_form"]
    assert field in plan_form.errors
    assert any(message in error for error in plan_form.errors[field]), plan_form.errors
    assert_field_error_shown(response, field, message)
    assert counts() == before


def test_individualised_plan_with_reason_within_three_months_is_saved(clinician_client, world):
    data = save_with_plan(
        maintenance_choice="individualised",
        individualised_every="12",
        individualised_unit="weeks",
        individualised_reason="  Symptoms return after 4 weeks.  ",
    )
    response = clinician_client.post(reverse("assessment-create", args=[world.patient.pk]), data)
    assert response.status_code == 302
    plan = TreatmentPlan.objects.get(patient=world.patient, status=TreatmentPlan.Status.ACTIVE)
    # 12 weeks (84 days) is never longer than 3 calendar months; 13 weeks (91 days) can be.
    assert (plan.maintenance_every, plan.maintenance_unit, plan.individualised) == (12, "weeks", True)
    assert plan.individualised_reason == "Symptoms return after 4 weeks."


def test_no_plan_for_a_result_that_needs_no_injections(clinician_client, world):
    data = save_with_plan({"b12": {"value": 500, "unit": "pg/mL"}})
    response = clinician_client.post(reverse("assessment-create", args=[world.patient.pk]), data)
    assessment = Assessment.objects.exclude(pk=world.assessment.pk).get()
    assert response.status_code == 302
    assert response["Location"] == reverse("assessment-detail", args=[assessment.pk])
    assert not TreatmentPlan.objects.filter(assessment=assessment).exists()
    world.plan.refresh_from_db()
    assert world.plan.status == TreatmentPlan.Status.ACTIVE


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        pytest.param({"hospital_number": " rx5000 "}, "hospital_number", "already exists", id="duplicate-number"),
        pytest.param({"hospital_number": ""}, "hospital_number", "This field is required", id="no-number"),
        pytest.param({"family_name": ""}, "family_name", "This field is required", id="no-family-name"),
        pytest.param(
            {"date_of_birth": (timezone.localdate() + timedelta(days=1)).isoformat()},
            "date_of_birth",
            "cannot be in the future",
            id="born-tomorrow",
        ),
        pytest.param({"date_of_birth": "31/02/1970"}, "date_of_birth", "Enter a date as day/month/year", id="bad-date"),
    ],
)
def test_invalid_patient_rerenders_with_the_fields_error_and_saves_nothing(
    clinician_client, clinician, overrides, field, message
):
    make_patient(by=clinician, hospital_number="RX5000")
    data = {"hospital_number": "RX5001", "family_name": "New", "given_name": "Pat", "date_of_birth": "1970-05-01"}
    before = counts()
    response = clinician_client.post(reverse("patient-create"), {**data, **overrides})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert any(message in error for error in errors.get(field, [])), errors
    assert_field_error_shown(response, field, message)
    assert counts() == before


# c. One engine, two front doors ---------------------------------------------------------------------------------

SAME_DECISION = [
    pytest.param({"b12": {"value": 150, "unit": "pg/mL"}}, id="deficient"),
    pytest.param({"b12": {"value": 179.6, "unit": "pg/mL"}}, id="just-below-180"),
    pytest.param({"b12": {"value": 180, "unit": "ng/L"}}, id="180-indeterminate"),
    pytest.param({"b12": {"value": 150, "unit": "pmol/L"}}, id="150-pmol-is-203-pg"),
    pytest.param({"b12": {"value": 351, "unit": "pg/mL"}}, id="not-deficient"),
    pytest.param({"b12": {"value": 250, "unit": "pg/mL"}, "mma": {"value": 0.5, "unit": "umol/L"}}, id="mma-decides"),
    pytest.param(
        {"b12": {"value": 250, "unit": "pg/mL"}, "mma": {"value": 300, "unit": "nmol/L", "upper_limit": 280}},
        id="mma-lab-limit-nmol",
    ),
    pytest.param(
        {"b12": {"value": 250, "unit": "pg/mL"}, "mma": {"value": 0.5, "unit": "umol/L"}, "egfr": 45},
        id="mma-renal",
    ),
    pytest.param({"active_b12": {"value": 20, "unit": "pmol/L"}}, id="active-b12-only"),
    pytest.param(
        {"b12": {"value": 150, "unit": "pg/mL"}, "neurological_involvement": True, "severe": True},
        id="neuro-severe",
    ),
    pytest.param({"b12": {"value": 400, "unit": "pg/mL"}, "bariatric_surgery": True}, id="bariatric-prophylaxis"),
    pytest.param({"b12": {"value": 400, "unit": "pg/mL"}, "ileal_resection_cm": 25}, id="ileal-25cm"),
    pytest.param({"b12": {"value": 400, "unit": "pg/mL"}, "ileal_resection_cm": 20}, id="ileal-20cm-not"),
    pytest.param(
        {
            "b12": {"value": 170, "unit": "pg/mL"},
            "homocysteine": {"value": 15, "unit": "umol/L"},
            "pregnant": True,
            "folic_acid": True,
            "malabsorption": True,
            "bariatric_surgery": True,
        },
        id="many-flags",
    ),
]
STATUS_SHOWN = {"deficient": "B12 deficient", "indeterminate": "Indeterminate", "not_deficient": "Not deficient"}


@pytest.mark.parametrize("payload", SAME_DECISION)
def test_form_and_api_give_the_same_decision(clinician_client, world, payload):
    api = clinician_client.post(API, json.dumps(payload), content_type="application/json")
    assert api.status_code == 200
    expected = api.json()

    assess = reverse("assessment-create", args=[world.patient.pk])
    preview = clinician_client.post(
        reverse("assessment-preview", args=[world.patient.pk]), assessment_form(payload), headers=htmx_headers(assess)
    )
    assert preview.status_code == 200
    assert "<html" not in preview.content.decode()  # a fragment for the results panel
    shown = json.loads(json.dumps(preview.context["recommendation"].as_dict(), cls=DjangoJSONEncoder))
    for key in ("status", "basis", "next_test", "im_recommended", "indications", "loading", "maintenance"):
        assert shown[key] == expected[key], key
    for key in ("oral_option", "warnings", "monitoring", "ruleset", "thresholds", "rationale", "citations"):
        assert shown[key] == expected[key], key

    page = html.unescape(preview.content.decode())
    assert STATUS_SHOWN[expected["status"]] in page
    for part in ("loading", "maintenance"):
        if expected[part]:
            assert expected[part]["text"] in page
    if not expected["im_recommended"]:
        assert "Intramuscular hydroxocobalamin is not indicated" in page
    assert f"Ruleset {expected['ruleset']['id']} version {expected['ruleset']['version']}" in page
    for code in expected["warnings"]:
        assert f'data-code="{code}"' in page, code


@pytest.fixture
def lab_200(db):
    return LabProfile.objects.create(
        name="Assay 200",
        total_b12_deficient_below=Decimal(200),
        total_b12_not_deficient_above=Decimal(400),
        is_default=True,
    )


def test_form_and_api_agree_with_a_default_lab_profile(clinician_client, world, lab_200):
    """A lab's own thresholds: the form pre-selects the default profile, and the API applies it too."""
    assess = reverse("assessment-create", args=[world.patient.pk])
    form_page = clinician_client.get(assess)
    assert form_page.context["form"]["lab_profile"].value() == lab_200.pk
    payload = {"b12": {"value": 190, "unit": "pg/mL"}}  # seed bands: indeterminate; this lab's: deficient
    api = clinician_client.post(API, json.dumps(payload), content_type="application/json").json()
    named = clinician_client.post(API, json.dumps({**payload, "profile": "Assay 200"}), content_type="application/json")
    preview = clinician_client.post(
        reverse("assessment-preview", args=[world.patient.pk]),
        assessment_form(payload, lab_profile=str(lab_200.pk)),
        headers=htmx_headers(assess),
    )
    shown = json.loads(json.dumps(preview.context["recommendation"].as_dict(), cls=DjangoJSONEncoder))
    assert api["status"] == named.json()["status"] == shown["status"] == "deficient"
    assert api["thresholds"] == named.json()["thresholds"] == shown["thresholds"]
    assert shown["thresholds"]["profile"] == "Assay 200"
    assert "Assay 200" in preview.content.decode()


# d. What a save stores, supersession, ending, history ------------------------------------------------------------


def test_saving_stores_inputs_decision_ruleset_thresholds_and_author(clinician_client, clinician, world):
    payload = {"b12": {"value": 179.6, "unit": "pg/mL"}, "mma": {"value": 0.5, "unit": "umol/L"}, "egfr": 45}
    data = save_with_plan(payload, sample_date=(today() - timedelta(days=3)).isoformat(), maintenance_choice="3")
    response = clinician_client.post(reverse("assessment-create", args=[world.patient.pk]), data)
    assert response.status_code == 302
    assessment = Assessment.objects.exclude(pk=world.assessment.pk).get()
    plan = assessment.plan
    assert response["Location"] == reverse("plan-detail", args=[plan.pk])

    expected = clinician_client.post(API, json.dumps(payload), content_type="application/json").json()
    assert assessment.patient == world.patient
    assert assessment.sample_date == today() - timedelta(days=3)
    assert assessment.inputs["b12"] == {"value": 179.6, "unit": "pg/mL"}
    assert assessment.inputs["mma"] == {"value": 0.5, "unit": "umol/L"}
    assert assessment.inputs["egfr"] == 45
    assert assessment.inputs["neurological_involvement"] is False
    for key in ("status", "basis", "indications", "loading", "maintenance", "warnings", "ruleset"):
        assert assessment.decision[key] == expected[key], key
    assert (assessment.status, assessment.im_recommended) == ("deficient", True)
    assert (assessment.ruleset_id, assessment.ruleset_version) == (
        expected["ruleset"]["id"],
        expected["ruleset"]["version"],
    )
    assert assessment.ruleset_id == "seed-2025"
    assert assessment.thresholds == expected["thresholds"]
    assert assessment.thresholds["total_b12_pg_per_ml"] == {"deficient_below": 180, "not_deficient_above": 350}
    assert str(assessment.b12_pg_per_ml) == "179.6000"
    assert assessment.created_by == clinician
    assert (plan.created_by, plan.maintenance_every, plan.maintenance_unit) == (clinician, 3, "months")
    assert plan.indications == ["deficiency"]
    assert (plan.loading_pattern, plan.loading_doses, plan.start_date) == ("three_times_weekly", 6, today())


def test_saving_keeps_the_lab_thresholds_it_used(clinician_client, world, lab_200):
    data = save_with_plan({"b12": {"value": 190, "unit": "pg/mL"}}, lab_profile=str(lab_200.pk))
    assert clinician_client.post(reverse("assessment-create", args=[world.patient.pk]), data).status_code == 302
    assessment = Assessment.objects.exclude(pk=world.assessment.pk).get()
    assert (assessment.lab_profile, assessment.status) == (lab_200, "deficient")
    assert assessment.thresholds["profile"] == "Assay 200"
    assert assessment.thresholds["total_b12_pg_per_ml"] == {"deficient_below": 200, "not_deficient_above": 400}
    lab_200.total_b12_deficient_below = Decimal(150)  # the lab changes its assay later
    lab_200.save()
    assessment.refresh_from_db()
    assert assessment.thresholds["total_b12_pg_per_ml"]["deficient_below"] == 200
    page = clinician_client.get(reverse("patient-detail", args=[world.patient.pk])).content.decode()
    assert ">deficient below 200</text>" in page  # the chart draws the latest assessment's own bands


def test_a_new_plan_supersedes_the_active_one(clinician_client, clinician, world):
    first = world.plan
    url = reverse("assessment-create", args=[world.patient.pk])
    assert clinician_client.post(url, save_with_plan()).status_code == 302
    second = TreatmentPlan.objects.get(patient=world.patient, status=TreatmentPlan.Status.ACTIVE)
    first.refresh_from_db()
    assert second != first
    assert (first.status, first.superseded_by, first.ended_on) == ("superseded", second, today())
    assert first.end_reason

    assert clinician_client.post(url, save_with_plan(DEFICIENT_NEURO)).status_code == 302
    third = TreatmentPlan.objects.get(patient=world.patient, status=TreatmentPlan.Status.ACTIVE)
    second.refresh_from_db()
    first.refresh_from_db()
    assert (second.status, second.superseded_by) == ("superseded", third)
    assert first.superseded_by == second
    assert TreatmentPlan.objects.filter(patient=world.patient).count() == 3

    page = clinician_client.get(reverse("patient-detail", args=[world.patient.pk])).content.decode()
    assert page.count("(Superseded)") == 2
    assert reverse("plan-detail", args=[third.pk]) in page


def test_ending_a_plan_needs_a_reason(clinician_client, world):
    url = reverse("plan-end", args=[world.plan.pk])
    for blank in ("", "   "):
        response = clinician_client.post(url, {"reason": blank}, follow=True)
        assert response.status_code == 200
        assert "Give the reason the plan ends." in response.content.decode()
        world.plan.refresh_from_db()
        assert world.plan.status == TreatmentPlan.Status.ACTIVE
    response = clinician_client.post(url, {"reason": "  Moved to another area.  ", "confirm": "on"}, follow=True)
    world.plan.refresh_from_db()
    assert (world.plan.status, world.plan.end_reason, world.plan.ended_on) == (
        "ended",
        "Moved to another area.",
        today(),
    )
    assert "The plan has ended." in response.content.decode()
    assert f'action="{url}"' not in response.content.decode()  # no end form on an ended plan

    response = clinician_client.post(url, {"reason": "Again.", "confirm": "on"}, follow=True)
    assert "Only an active plan can be ended." in response.content.decode()
    world.plan.refresh_from_db()
    assert world.plan.end_reason == "Moved to another area."


def test_every_change_has_a_history_row_with_its_user(clinician_client, clinician):
    response = clinician_client.post(
        reverse("patient-create"),
        {"hospital_number": " h777 ", "family_name": "Brown", "given_name": "Ben", "date_of_birth": "1950-02-03"},
    )
    patient = Patient.objects.get(hospital_number="H777")
    assert response["Location"] == reverse("patient-detail", args=[patient.pk])
    url = reverse("assessment-create", args=[patient.pk])
    clinician_client.post(url, save_with_plan())
    clinician_client.post(url, save_with_plan(DEFICIENT_NEURO))
    first, second = TreatmentPlan.objects.filter(patient=patient).order_by("created_at")
    clinician_client.post(reverse("plan-end", args=[second.pk]), {"reason": "Stopped by patient.", "confirm": "on"})

    assert [(h.history_type, h.history_user) for h in patient.history.all()] == [("+", clinician)]
    for assessment in Assessment.objects.filter(patient=patient):
        assert [(h.history_type, h.history_user) for h in assessment.history.all()] == [("+", clinician)]
    first_history = list(first.history.order_by("history_date", "history_id"))
    assert first_history[0].history_type == "+"
    assert {h.status for h in first_history} == {"active", "superseded"}
    assert first_history[-1].superseded_by_id == second.pk
    second_history = list(second.history.order_by("history_date", "history_id"))
    assert [h.history_type for h in second_history] == ["+", "~"]
    assert [h.status for h in second_history] == ["active", "ended"]
    for record in [*first_history, *second_history]:
        assert record.history_user == clinician


# e. Constant number of queries ------------------------------------------------------------------------------------


def _patient_with(n: int, by) -> Patient:
    patient = make_patient(by=by)
    for i in range(n):
        make_plan(
            by=by,
            patient=patient,
            payload={"b12": {"value": 150 + i, "unit": "pg/mL"}, "homocysteine": {"value": 12, "unit": "umol/L"}},
            sample_date=today() - timedelta(days=30 * (n - i)),
        )
    return patient


PAGES = {
    "patient detail": lambda c, p: c.get(reverse("patient-detail", args=[p.pk])),
    "plan detail": lambda c, p: c.get(reverse("plan-detail", args=[p.plans.get(status="active").pk])),
    "assessment form": lambda c, p: c.get(reverse("assessment-create", args=[p.pk])),
    "preview fragment": lambda c, p: c.post(
        reverse("assessment-preview", args=[p.pk]),
        assessment_form(),
        headers=htmx_headers(reverse("assessment-create", args=[p.pk])),
    ),
}
# Measured: 6, 7, 6 and 3 (session, user, permissions, then the page's own reads); a little headroom.
MAX_QUERIES = {"patient detail": 9, "plan detail": 10, "assessment form": 9, "preview fragment": 5}


@pytest.mark.parametrize("page", PAGES)
def test_query_count_does_not_grow_with_the_record(clinician_client, clinician, page):
    small, large = _patient_with(1, clinician), _patient_with(5, clinician)
    assert large.assessments.count() == 5 and large.plans.count() == 5
    request = PAGES[page]
    request(clinician_client, small)  # warm per-process caches (content types) first
    measured = {}
    for label, patient in (("1", small), ("5", large)):
        with CaptureQueriesContext(connection) as queries:
            response = request(clinician_client, patient)
        assert response.status_code == 200
        measured[label] = len(queries)
    assert measured["1"] == measured["5"], measured
    assert measured["5"] <= MAX_QUERIES[page], measured


# f. UUID URLs, search, recent patients, trend chart, CSP, print stylesheet ---------------------------------------


def test_patient_assessment_and_plan_urls_use_uuids(clinician_client, world):
    for obj, name in ((world.patient, "patient-detail"), (world.assessment, "assessment-detail")):
        assert isinstance(obj.pk, uuid.UUID)
        assert re.fullmatch(rf"/[a-z]+/{UUID_PATH}/", reverse(name, args=[obj.pk]))
    assert re.fullmatch(rf"/plans/{UUID_PATH}/", reverse("plan-detail", args=[world.plan.pk]))
    for sequential in ("/patients/1/", "/plans/1/", "/assessments/1/", "/patients/1/assess/"):
        assert clinician_client.get(sequential).status_code == 404
    assert clinician_client.get(reverse("patient-detail", args=[uuid.uuid4()])).status_code == 404
    assert clinician_client.get(reverse("plan-detail", args=[uuid.uuid4()])).status_code == 404
    assert clinician_client.get(reverse("assessment-detail", args=[uuid.uuid4()])).status_code == 404
    page = clinician_client.get(reverse("patient-detail", args=[world.patient.pk])).content.decode()
    assert f'href="/plans/{world.plan.pk}/"' in page
    assert f'href="/assessments/{world.assessment.pk}/"' in page


@pytest.fixture
def registry(clinician):
    return {
        "smith": make_patient(by=clinician, hospital_number="RX1001", family_name="Smith", given_name="Anna"),
        "smithers": make_patient(by=clinician, hospital_number="RX1002", family_name="Smithers", given_name="Bob"),
        "jones": make_patient(by=clinician, hospital_number="QX2001", family_name="Jones", given_name="Anna"),
        "other": make_patient(by=clinician, hospital_number="ZZ9RX10", family_name="Other", given_name="Carl"),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("RX10", {"smith", "smithers"}),
        ("rx1001", {"smith"}),
        ("QX", {"jones"}),
        ("X10", set()),  # a prefix, not anywhere in the number
        ("smith", {"smith", "smithers"}),
        ("SMITHERS", {"smithers"}),
        ("anna", {"smith", "jones"}),
        ("anna jones", {"jones"}),
        ("Jones Anna", {"jones"}),
        ("nobody", set()),
        ("", set()),
    ],
)
def test_patient_search_by_hospital_number_prefix_and_name(clinician_client, registry, query, expected):
    response = clinician_client.get(reverse("patient-list"), {"q": query})
    assert response.status_code == 200
    found = {key for key, patient in registry.items() if patient in response.context["patients"]}
    assert found == expected
    page = response.content.decode()
    for key, patient in registry.items():
        assert (reverse("patient-detail", args=[patient.pk]) in page) == (key in expected)
    if query and not expected:
        assert "No patient matches" in page


def test_htmx_search_returns_only_the_results_fragment(clinician_client, registry):
    response = clinician_client.get(
        reverse("patient-list"), {"q": "RX10"}, headers=htmx_headers(reverse("patient-list"))
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert page.lstrip().startswith('<div id="results"')
    assert "<html" not in page and "RX1001" in page and "RX1002" in page
    assert "HX-Request" in response.get("Vary", "")


def test_home_lists_my_recent_patients(clinician_client, clinician, author):
    mine_old = make_patient(by=clinician, family_name="Older")
    mine_new = make_patient(by=clinician, family_name="Newer")
    assessed = make_patient(by=author, family_name="Assessed")
    not_mine = make_patient(by=author, family_name="Stranger")
    make_assessment(mine_old, clinician)
    make_assessment(assessed, clinician)
    make_assessment(not_mine, author)

    response = clinician_client.get("/")
    assert response.status_code == 200
    recent = list(response.context["recent"])
    assert set(recent) == {mine_old, mine_new, assessed}
    assert recent[:2] == [assessed, mine_old]  # the most recently assessed first
    page = response.content.decode()
    for patient in recent:
        assert reverse("patient-detail", args=[patient.pk]) in page
    assert reverse("patient-detail", args=[not_mine.pk]) not in page
    assert "STRANGER" not in page


def test_home_without_patients_says_so(clinician_client):
    page = clinician_client.get("/").content.decode()
    assert "No patients yet" in page


def test_trend_chart_with_threshold_lines_once_there_are_b12_results(clinician_client, clinician):
    patient = make_patient(by=clinician)
    url = reverse("patient-detail", args=[patient.pk])
    page = clinician_client.get(url).content.decode()
    assert "<svg" not in page
    assert "The chart appears once results are recorded." in page

    make_assessment(
        patient, clinician, payload={"b12": {"value": 150, "unit": "pg/mL"}}, sample_date=today() - timedelta(days=90)
    )
    make_assessment(patient, clinician, payload={"b12": {"value": 150, "unit": "pmol/L"}})
    page = clinician_client.get(url).content.decode()
    chart = re.search(r'<figure class="trend-chart" aria-labelledby="b12-trend-caption">.*?</figure>', page, re.S)
    assert chart, "no B12 trend chart"
    svg = chart.group(0)
    assert "<svg" in svg and 'class="chart-line"' in svg
    assert svg.count('class="chart-point"') == 2
    assert re.search(r'<path class="chart-threshold deficient"[^>]*/><text[^>]*>deficient below 180</text>', svg)
    assert re.search(
        r'<path class="chart-threshold indeterminate"[^>]*/><text[^>]*>not deficient above 350</text>', svg
    )
    assert "203.3" in svg  # 150 pmol/L drawn in pg/mL
    assert "hcy-trend" not in page  # no homocysteine results, no homocysteine chart

    make_assessment(patient, clinician, payload={**DEFICIENT, "homocysteine": {"value": 14, "unit": "umol/L"}})
    page = clinician_client.get(url).content.decode()
    assert re.search(r'<path class="chart-threshold target"[^>]*/><text[^>]*>target below 10</text>', page)


def test_home_shows_a_patient_just_registered_among_the_recent(clinician_client, clinician):
    """Recent = registered or assessed by me most recently: registering a patient makes them the most recent."""
    for _ in range(10):
        make_assessment(make_patient(by=clinician), clinician)
    response = clinician_client.post(
        reverse("patient-create"),
        {"hospital_number": "NEW0001", "family_name": "Newest", "given_name": "Nina", "date_of_birth": "1980-01-01"},
    )
    assert response.status_code == 302
    newest = Patient.objects.get(hospital_number="NEW0001")
    recent = list(clinician_client.get("/").context["recent"])
    assert len(recent) == 10
    assert newest in recent, "a patient registered a moment ago is missing from 'Your recent patients'"
    assert recent[0] == newest


def test_patient_page_shows_each_result_in_words(clinician_client, clinician):
    patient = make_patient(by=clinician)
    make_assessment(patient, clinician, payload={"b12": {"value": 500, "unit": "pg/mL"}})
    make_assessment(patient, clinician, payload={"b12": {"value": 250, "unit": "pg/mL"}})
    make_assessment(patient, clinician, payload={"b12": {"value": 150, "unit": "pg/mL"}})
    page = clinician_client.get(reverse("patient-detail", args=[patient.pk])).content.decode()
    badges = re.findall(r'<span class="badge status-([a-z_]+)">([^<]*)</span>', page)
    assert sorted(code for code, _ in badges) == ["deficient", "indeterminate", "not_deficient"]
    for code, text in badges:
        assert text.strip() == STATUS_SHOWN[code], (code, text)  # the same words as the panel


def test_the_patient_page_reads_the_same_whatever_the_history_and_not_the_decisions(clinician_client, clinician):
    """One assessment or five: the same queries; the assessments' inputs and decisions (their largest columns,
    shown on each assessment's page) are not read."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    patient = make_patient(by=clinician)
    url = reverse("patient-detail", args=[patient.pk])

    def page_queries() -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            assert clinician_client.get(url).status_code == 200
        return [query["sql"] for query in queries.captured_queries]

    make_assessment(patient, clinician, payload={"b12": {"value": 150, "unit": "pg/mL"}})
    one = page_queries()
    for value in (170, 190, 210, 230):
        make_assessment(patient, clinician, payload={"b12": {"value": value, "unit": "pg/mL"}})
    five = page_queries()
    assert len(five) == len(one)
    assessments = [sql for sql in five if 'FROM "recommender_assessment"' in sql]
    assert assessments and not any('"recommender_assessment"."decision"' in sql for sql in assessments)


def test_plan_page_names_the_indications_in_words(clinician_client, clinician):
    payload = {"b12": {"value": 400, "unit": "pg/mL"}, "ileal_resection_cm": 25, "bariatric_surgery": True}
    plan = make_plan(by=clinician, payload=payload, every=1)
    assert plan.indications == ["ileal_resection", "bariatric_surgery"]
    page = clinician_client.get(reverse("plan-detail", args=[plan.pk])).content.decode()
    shown = re.search(r"<dt[^>]*>Indications</dt>\s*<dd[^>]*>([^<]*)</dd>", page).group(1)
    assert shown.lower() == "ileal resection, bariatric surgery", shown


def test_a_nurse_is_not_offered_what_she_may_not_do(nurse_client, world):
    page = nurse_client.get(reverse("patient-detail", args=[world.patient.pk])).content.decode()
    assert reverse("assessment-create", args=[world.patient.pk]) not in page
    page = nurse_client.get(reverse("plan-detail", args=[world.plan.pk])).content.decode()
    assert reverse("plan-end", args=[world.plan.pk]) not in page
    page = nurse_client.get("/").content.decode()
    assert reverse("patient-create") not in page
    assert 'action="/search/"' in page  # but she can find a patient


def _csp_nonce(response) -> str:
    policy = response["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    return re.search(r"'nonce-([^']+)'", policy).group(1)


def test_pages_send_a_strict_csp_with_a_per_request_nonce(clinician_client, world):
    pages = [
        "/",
        reverse("patient-list") + "?q=smith",
        reverse("patient-create"),
        reverse("patient-detail", args=[world.patient.pk]),
        reverse("assessment-create", args=[world.patient.pk]),
        reverse("assessment-detail", args=[world.assessment.pk]),
        reverse("plan-detail", args=[world.plan.pk]),
    ]
    nonces = set()
    for path in pages:
        response = clinician_client.get(path)
        assert response.status_code == 200, path
        nonce = _csp_nonce(response)
        page = response.content.decode()
        scripts = re.findall(r"<script\b[^>]*>", page)
        assert any(f'nonce="{nonce}"' in tag for tag in scripts), (path, scripts)
        for tag in scripts:
            assert "src=" in tag, f"inline script on {path}: {tag}"
        nonces.add(nonce)
    assert len(nonces) == len(pages), "the nonce must differ per response"


def test_anonymous_login_page_sends_the_csp_too(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    _csp_nonce(response)


def test_plan_page_links_the_print_stylesheet(clinician_client, world):
    page = clinician_client.get(reverse("plan-detail", args=[world.plan.pk])).content.decode()
    link = re.search(r'<link rel="stylesheet" href="([^"]*print\.css)" media="print">', page)
    assert link, "no print stylesheet"
    assert finders.find("css/print.css")
    assert clinician_client.get(link.group(1)).status_code == 200
    assert "data-print" in page and 'class="print-decision"' in page


# g. Guard rails on clinician actions (issue 10, item 8) ------------------------------------------------------------


def stable_form(day, **overrides) -> dict:
    data = {"on": day.isoformat(), "reason": "Symptoms resolved; blood count normal.", "confirm": "on"}
    return data | overrides


def post_stable(client, plan, data) -> list[str]:
    response = client.post(reverse("plan-stable", args=[plan.pk]), data, follow=True)
    assert response.status_code == 200
    return [str(m) for m in response.context["messages"]]


def test_mark_stable_on_day_1_of_neurological_loading_is_refused(clinician_client, clinician):
    """The defect: accepted on day 1 of neurological loading, moving monitoring to yearly."""
    plan = make_plan(by=clinician, payload=DEFICIENT_NEURO)
    said = post_stable(clinician_client, plan, stable_form(today()))
    assert any("Alternate-day loading is still running" in m for m in said), said
    plan.refresh_from_db()
    assert plan.stable_on is None
    with pytest.raises(ValidationError) as refused:
        clinic_services.plan_mark_stable(plan=plan, on=today(), reason="Feels better.", by=clinician)
    assert "still running" in refused.value.message_dict["on"][0]


def test_after_neurological_loading_ends_stable_is_not_before_that_day(clinician_client, clinician, nurse):
    start = today() - timedelta(days=20)
    plan = make_plan(by=clinician, payload=DEFICIENT_NEURO, start=start)
    give(plan, nurse)  # on its due date: the start, or the next open day when the start is not one
    clinic_services.plan_end_loading(plan=plan, on=today() - timedelta(days=10), by=clinician)
    said = post_stable(clinician_client, plan, stable_form(today() - timedelta(days=11)))
    assert any("cannot be before" in m and "the day loading ended" in m for m in said), said
    plan.refresh_from_db()
    assert plan.stable_on is None
    said = post_stable(clinician_client, plan, stable_form(today() - timedelta(days=10)))
    assert any("recorded as stable" in m for m in said), said
    plan.refresh_from_db()
    assert (plan.stable_on, plan.stable_reason) == (
        today() - timedelta(days=10),
        "Symptoms resolved; blood count normal.",
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"reason": ""}, "Give the reason the patient is judged stable.", id="no-reason"),
        pytest.param({"reason": "   "}, "Give the reason the patient is judged stable.", id="blank-reason"),
        pytest.param({"confirm": ""}, "Tick the box to confirm that the patient is stable.", id="not-confirmed"),
        pytest.param({"on": ""}, "Enter the date the patient was judged stable.", id="no-date"),
        pytest.param({"reason": "x" * 501}, "at most 500 characters", id="reason-too-long"),
    ],
)
def test_stable_without_reason_confirmation_or_date_is_refused(clinician_client, clinician, overrides, message):
    plan = make_plan(by=clinician, payload=NO_LOADING, every=3)
    history = plan.history.count()
    said = post_stable(clinician_client, plan, stable_form(today(), **overrides))
    assert any(message in m for m in said), said
    if "at most" in message:
        assert not any("Give the reason" in m for m in said), said
    plan.refresh_from_db()
    assert plan.stable_on is None
    assert plan.history.count() == history


def test_the_stable_form_has_no_date_filled_in_and_asks_for_confirmation(clinician_client, clinician):
    plan = make_plan(by=clinician, payload=NO_LOADING, every=3)
    page = clinician_client.get(reverse("plan-detail", args=[plan.pk])).content.decode()
    form = re.search(rf'<form method="post" action="{reverse("plan-stable", args=[plan.pk])}".*?</form>', page, re.S)
    assert form, "no mark-stable form"
    date_input = re.search(r'<input type="text" name="on"[^>]*>', form.group(0)).group(0)
    assert 'placeholder="dd/mm/yyyy"' in date_input
    assert "value=" not in date_input
    assert re.search(r'<input type="checkbox" name="confirm"[^>]*required', form.group(0))
    assert 'maxlength="500"' in form.group(0) and "Up to 500 characters." in form.group(0)


def test_during_loading_the_plan_page_offers_no_stable_form(clinician_client, clinician):
    plan = make_plan(by=clinician, payload=DEFICIENT_NEURO)
    page = clinician_client.get(reverse("plan-detail", args=[plan.pk])).content.decode()
    assert reverse("plan-stable", args=[plan.pk]) not in page
    assert "once the loading course is complete" in page


def test_ending_a_plan_without_confirmation_is_refused(clinician_client, world):
    url = reverse("plan-end", args=[world.plan.pk])
    response = clinician_client.post(url, {"reason": "Moved to another area."}, follow=True)
    assert "Tick the box to confirm that the plan ends." in response.content.decode()
    world.plan.refresh_from_db()
    assert world.plan.status == TreatmentPlan.Status.ACTIVE
    page = clinician_client.get(reverse("plan-detail", args=[world.plan.pk])).content.decode()
    assert re.search(r'<input type="checkbox" name="confirm"[^>]*required', page)


def test_a_too_long_end_reason_is_reported_as_too_long_not_missing(clinician_client, world):
    response = clinician_client.post(
        reverse("plan-end", args=[world.plan.pk]), {"reason": "x" * 501, "confirm": "on"}, follow=True
    )
    page = html.unescape(response.content.decode())
    assert "at most 500 characters" in page
    assert "Give the reason" not in page
    world.plan.refresh_from_db()
    assert world.plan.status == TreatmentPlan.Status.ACTIVE
    with pytest.raises(ValidationError, match="500 characters"):
        clinic_services.plan_end(plan=world.plan, reason="x" * 501, by=world.plan.created_by)


# Issue 11: what is saved is what the clinician saw and chose ------------------------------------------------------


def assess(world) -> str:
    return reverse("assessment-create", args=[world.patient.pk])


def test_the_live_panel_never_redraws_the_plan_choices(clinician_client, world):
    """The preview replaces the decision only: the choices the clinician is making are not in what it sends back."""
    response = clinician_client.post(
        reverse("assessment-preview", args=[world.patient.pk]), assessment_form(), headers=htmx_headers(assess(world))
    )
    page = response.content.decode()
    assert "B12 deficient" in page
    for name in ("maintenance_choice", "individualised_every", "individualised_reason", "start_date", "create_plan"):
        assert f'name="{name}"' not in page, f"the live panel redraws {name}"
    fingerprint = re.search(r'name="decision_fingerprint" value="([0-9a-f]{64})"', page)
    assert fingerprint and fingerprint.group(1) == shown_fingerprint(assessment_form())


def test_a_decision_that_changed_after_it_was_shown_is_not_saved(clinician_client, world):
    """The clinician saw the decision on 150 pg/mL; the form now says 150 pmol/L (indeterminate): nothing saved."""
    shown = shown_fingerprint(assessment_form())
    before = counts()
    response = clinician_client.post(
        assess(world), save_with_plan(b12_unit="pmol/L", b12_value="150", decision_fingerprint=shown)
    )
    assert response.status_code == 200
    assert counts() == before
    page = html.unescape(response.content.decode())
    assert "Nothing was saved" in page and "Review the decision below" in page
    assert "Indeterminate" in page  # the new decision, shown for review
    new = re.search(r'name="decision_fingerprint" value="([0-9a-f]{64})"', response.content.decode()).group(1)
    assert new != shown
    # The choices made are shown again as they were.
    assert re.search(r'name="maintenance_choice" id="[^"]+" value="2" checked', response.content.decode())


def test_a_save_before_any_decision_was_shown_saves_nothing(clinician_client, world):
    before = counts()
    response = clinician_client.post(assess(world), save_with_plan(decision_fingerprint=""))
    assert response.status_code == 200 and counts() == before
    assert "B12 deficient" in response.content.decode()


def test_individualised_fields_are_ignored_unless_individualised_is_chosen(clinician_client, world):
    data = save_with_plan(individualised_every="4", individualised_unit="weeks", individualised_reason="typed first")
    assert clinician_client.post(assess(world), data).status_code == 302
    plan = TreatmentPlan.objects.exclude(pk=world.plan.pk).get()
    assert (plan.maintenance_every, plan.maintenance_unit, plan.individualised) == (2, "months", False)
    assert plan.individualised_reason == ""


def test_the_decision_is_computed_once_per_save(clinician_client, world, monkeypatch):
    from recommender.clinic import services as services_module

    calls = []
    for module in (clinic_forms, services_module):
        original = module.decide
        monkeypatch.setattr(module, "decide", lambda *a, _o=original, **k: calls.append(1) or _o(*a, **k))
    data = save_with_plan()
    calls.clear()
    assert clinician_client.post(assess(world), data).status_code == 302
    assert len(calls) == 1


def test_a_sample_date_before_birth_with_a_plan_is_a_field_error_not_a_500(clinician_client, world):
    born = world.patient.date_of_birth
    data = save_with_plan(sample_date=(born - timedelta(days=1)).isoformat())
    before = counts()
    response = clinician_client.post(assess(world), data)
    assert response.status_code == 200
    assert counts() == before
    assert "before the patient's date of birth" in " ".join(response.context["form"].errors["sample_date"])
    assert_field_error_shown(response, "sample_date", "before the patient's date of birth")


def test_a_failed_save_opens_with_an_error_summary_linking_to_each_field(clinician_client, world):
    response = clinician_client.post(assess(world), save_with_plan(b12_unit="", start_date="31/02/2026"))
    page = response.content.decode()
    summary = re.search(
        r'<div class="alert alert-danger error-summary" id="error-summary" role="alert".*?</div>', page, re.S
    )
    assert summary, "no error summary"
    assert "There is a problem" in summary.group(0)
    assert 'href="#id_b12_value"' in summary.group(0)


def test_a_fields_message_names_it_once(clinician_client, world):
    for url, headers in (
        (reverse("assessment-preview", args=[world.patient.pk]), htmx_headers(assess(world))),
        (assess(world), {}),
    ):
        response = clinician_client.post(url, save_with_plan(b12_unit=""), headers=headers)
        page = html.unescape(response.content.decode())
        assert "Total B12: Choose the unit of the total B12" in page
        assert "Total B12: Total B12" not in page


def test_dates_are_day_month_year_whatever_the_browser(clinician_client, world):
    page = clinician_client.get(assess(world)).content.decode()
    sample = re.search(r'<input[^>]*name="sample_date"[^>]*>', page).group(0)
    assert 'type="text"' in sample and 'placeholder="dd/mm/yyyy"' in sample and 'inputmode="numeric"' in sample
    assert f'value="{today():%d/%m/%Y}"' in sample
    start = re.search(r'<input[^>]*name="start_date"[^>]*>', page).group(0)
    assert 'placeholder="dd/mm/yyyy"' in start
    sampled = today() - timedelta(days=40)
    data = save_with_plan(sample_date=f"{sampled:%d/%m/%Y}", start_date=f"{today():%d/%m/%Y}")
    assert clinician_client.post(assess(world), data).status_code == 302
    assert Assessment.objects.exclude(pk=world.assessment.pk).get().sample_date == sampled


def test_replacing_an_active_plan_needs_confirmation(clinician_client, world, clinician):
    page = html.unescape(clinician_client.get(assess(world)).content.decode())
    assert f"I am replacing the active plan of {world.plan.start_date:%d/%m/%Y}" in page
    before = counts()
    response = clinician_client.post(assess(world), save_with_plan(confirm_supersede=""))
    assert response.status_code == 200 and counts() == before
    assert "confirm_supersede" in response.context["plan_form"].errors
    world.plan.refresh_from_db()
    assert world.plan.status == TreatmentPlan.Status.ACTIVE
    # Every front door: the service refuses too.
    with pytest.raises(ValidationError) as refused:
        clinic_services.assessment_record(
            patient=world.patient,
            sample_date=today(),
            payload=dict(DEFICIENT),
            plan_options={"start_date": today(), "maintenance_every": 2},
            by=clinician,
        )
    assert "confirm_supersede" in refused.value.message_dict
    assert counts() == before


def test_a_first_plan_needs_no_confirmation(clinician_client, clinician):
    patient = make_patient(by=clinician)
    page = clinician_client.get(reverse("assessment-create", args=[patient.pk])).content.decode()
    assert "I am replacing" not in page
    data = save_with_plan(confirm_supersede="")
    assert clinician_client.post(reverse("assessment-create", args=[patient.pk]), data).status_code == 302


def test_the_plan_page_says_where_it_departs_from_the_guideline(clinician_client, author):
    plan = make_plan(
        by=author,
        every=4,
        unit="weeks",
        individualised=True,
        individualised_reason="Symptoms return after 4 weeks.",
    )
    page = html.unescape(clinician_client.get(reverse("plan-detail", args=[plan.pk])).content.decode())
    text = re.sub(r"<[^>]+>", "", page)
    assert (
        "every 4 weeks, for life — individualised; the guideline's range here is every 2 to 3 months; "
        "reason: Symptoms return after 4 weeks." in text
    )
    assert "The guideline's decision on the assessment of" in text


@pytest.mark.parametrize(
    ("mma", "outcome"),
    [
        (0.6, "The MMA result confirms deficiency: it confirms the plan started pending MMA."),
        (0.2, "The MMA result does not confirm deficiency: review the plan"),
    ],
)
def test_a_plan_started_pending_mma_and_the_mma_result(clinician_client, clinician, mma, outcome):
    patient = make_patient(by=clinician)
    assessment = pending_decision(
        make_assessment(
            patient, clinician, payload={"b12": {"value": 250, "unit": "pg/mL"}, "neurological_involvement": True}
        )
    )
    options = {"assessment": assessment, "start_date": today(), "maintenance_every": 2, "by": clinician}
    with pytest.raises(ValidationError) as refused:
        clinic_services.plan_create(**options)
    assert "pending_mma_reason" in refused.value.message_dict
    plan = clinic_services.plan_create(**options, pending_mma_reason="Worsening paraesthesia.")
    assert plan.pending_mma and plan.pending_mma_reason == "Worsening paraesthesia."
    assert plan.loading_pattern == "alternate_days"
    page = html.unescape(clinician_client.get(reverse("plan-detail", args=[plan.pk])).content.decode())
    assert "Treatment started pending MMA; reason: Worsening paraesthesia." in page
    assert "The MMA result" not in page  # no follow-up before an MMA result

    later = make_assessment(
        patient,
        clinician,
        payload={
            "b12": {"value": 250, "unit": "pg/mL"},
            "mma": {"value": mma, "unit": "umol/L"},
            "neurological_involvement": True,
        },
    )
    for url in (reverse("plan-detail", args=[plan.pk]), reverse("assessment-detail", args=[later.pk])):
        assert outcome in html.unescape(clinician_client.get(url).content.decode())


def test_the_form_can_start_treatment_pending_mma(clinician_client, clinician):
    """Through the form: the engine gives treatment pending MMA (neurological signs, indeterminate B12)."""
    payload = {"b12": {"value": 250, "unit": "pg/mL"}, "neurological_involvement": True}
    form = AssessmentForm(assessment_form(payload))
    assert form.is_valid()
    assert form.recommendation.pending_mma is not None
    assert not form.recommendation.im_recommended
    patient = make_patient(by=clinician)
    url = reverse("assessment-create", args=[patient.pk])
    data = save_with_plan(payload, confirm_supersede="")
    response = clinician_client.post(url, data)
    assert response.status_code == 200 and "pending_mma_reason" in response.context["plan_form"].errors
    response = clinician_client.post(url, {**data, "pending_mma_reason": "Worsening ataxia."})
    assert response.status_code == 302
    plan = TreatmentPlan.objects.get(patient=patient)
    assert plan.pending_mma and plan.pending_mma_reason == "Worsening ataxia."


def test_each_point_of_the_chart_is_drawn_against_its_own_thresholds(clinician_client, clinician, lab_200):
    patient = make_patient(by=clinician)
    make_assessment(
        patient, clinician, payload={"b12": {"value": 150, "unit": "pg/mL"}}, sample_date=today() - timedelta(days=90)
    )
    make_assessment(patient, clinician, payload={"b12": {"value": 190, "unit": "pg/mL"}}, lab_profile=lab_200)
    page = clinician_client.get(reverse("patient-detail", args=[patient.pk])).content.decode()
    svg = re.search(r'<figure class="trend-chart" aria-labelledby="b12-trend-caption">.*?</figure>', page, re.S).group(
        0
    )
    deficient = re.search(r'<path class="chart-threshold deficient" d="([^"]+)"', svg).group(1)
    heights = {float(y) for y in re.findall(r"M[\d.]+,([\d.]+)", deficient)}
    assert len(heights) == 2, "the older point is drawn against 180, the newer against 200"
    ticks = re.findall(r'<text class="chart-tick axis"[^>]*>([\d.]+)</text>', svg)
    assert len(ticks) >= 3 and "0" in ticks, "the y-axis has values"


def test_the_live_panel_updates_the_plan_guidance_beside_the_choices_not_the_choices(clinician_client, world):
    preview = reverse("assessment-preview", args=[world.patient.pk])
    neuro = clinician_client.post(preview, assessment_form(DEFICIENT_NEURO), headers=htmx_headers(assess(world)))
    page = neuro.content.decode()
    assert re.search(r'<div id="plan-status" data-state="plan" hx-swap-oob="true">', page)
    assert re.search(r'<span id="choice-hint-3"[^>]*hx-swap-oob="true">outside this decision&#x27;s range</span>', page)
    assert re.search(r'<span id="individualised-max" hx-swap-oob="true">every 2 months</span>', page)
    assert re.search(r'<div id="status-strip"[^>]*hx-swap-oob="true">', page)

    normal = clinician_client.post(
        preview, assessment_form({"b12": {"value": 500, "unit": "pg/mL"}}), headers=htmx_headers(assess(world))
    )
    page = html.unescape(normal.content.decode())
    assert re.search(r'<div id="plan-status" data-state="no_injections" hx-swap-oob="true">', page)
    assert "recommends no injections: no plan will be started" in page


def test_a_result_needing_no_injections_saves_the_assessment_alone_whatever_the_plan_choices(clinician_client, world):
    data = save_with_plan({"b12": {"value": 500, "unit": "pg/mL"}}, maintenance_choice="3")
    response = clinician_client.post(assess(world), data)
    assessment = Assessment.objects.exclude(pk=world.assessment.pk).get()
    assert response["Location"] == reverse("assessment-detail", args=[assessment.pk])
    assert not TreatmentPlan.objects.filter(assessment=assessment).exists()
    world.plan.refresh_from_db()
    assert world.plan.status == TreatmentPlan.Status.ACTIVE


class _PendingMma:
    """A recommendation as the engine gives it for neurological signs with an indeterminate result: no IM yet, and
    treatment that may start now, pending MMA (the interface the engine exposes: ``pending_mma`` and its dict)."""

    def __init__(self, real):
        self._real = real
        self.im_recommended, self.loading, self.maintenance = False, None, None
        self.pending_mma = SimpleNamespace(
            loading=real.loading, maintenance=real.maintenance, reason="Do not wait for the MMA result."
        )

    def __getattr__(self, name):
        return getattr(self._real, name)

    def as_dict(self) -> dict:
        decision = self._real.as_dict()
        decision["treatment_pending_mma"] = {
            "loading": decision["loading"],
            "maintenance": decision["maintenance"],
            "reason": self.pending_mma.reason,
        }
        decision.update(im_recommended=False, loading=None, maintenance=None, headline="Take the MMA sample now.")
        return decision


def test_the_form_starts_treatment_pending_mma_with_a_reason(clinician_client, clinician, monkeypatch):

    real_decide = clinic_forms.decide
    monkeypatch.setattr(clinic_forms, "decide", lambda *a, **k: _PendingMma(real_decide(*a, **k)))
    patient = make_patient(by=clinician)
    url = reverse("assessment-create", args=[patient.pk])
    page = html.unescape(
        clinician_client.post(url, assessment_form(DEFICIENT_NEURO, action="preview")).content.decode()
    )
    assert '<div id="plan-status" data-state="pending">' in page
    assert "Take the MMA sample now" in page and "do not wait for its result" in page

    data = save_with_plan(DEFICIENT_NEURO, confirm_supersede="")
    response = clinician_client.post(url, data)
    assert response.status_code == 200
    assert "pending_mma_reason" in response.context["plan_form"].errors
    assert not patient.assessments.exists()

    response = clinician_client.post(url, {**data, "pending_mma_reason": "Worsening ataxia."})
    assert response.status_code == 302
    plan = TreatmentPlan.objects.get(patient=patient)
    assert plan.pending_mma and plan.pending_mma_reason == "Worsening ataxia."
    assert (plan.loading_pattern, plan.maintenance_every) == ("alternate_days", 2)
    page = html.unescape(clinician_client.get(reverse("plan-detail", args=[plan.pk])).content.decode())
    assert "Treatment started pending MMA; reason: Worsening ataxia." in page


def test_service_saves_no_assessment_when_the_plan_is_invalid(world, clinician):
    """The service behind the form: assessment and plan in one transaction, both or neither."""
    before = counts()
    with pytest.raises(ValidationError) as raised:
        clinic_services.assessment_record(
            patient=world.patient,
            sample_date=today(),
            payload=dict(DEFICIENT_NEURO),
            plan_options={"start_date": today(), "maintenance_every": 3},
            by=clinician,
        )
    assert "maintenance_choice" in raised.value.message_dict
    with pytest.raises(ValidationError) as raised:
        clinic_services.assessment_record(
            patient=world.patient,
            sample_date=today(),
            payload=dict(DEFICIENT),
            plan_options={
                "start_date": today(),
                "maintenance_every": 4,
                "maintenance_unit": "months",
                "individualised": True,
                "individualised_reason": "",
            },
            by=clinician,
        )
    assert {"individualised_every", "individualised_reason"} <= set(raised.value.message_dict)
    assert counts() == before
    world.plan.refresh_from_db()
    assert world.plan.status == TreatmentPlan.Status.ACTIVE


def test_the_plan_page_reads_its_assessments_decision_but_not_its_inputs_nor_a_second_time(clinician_client, clinician):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    plan = make_plan(by=clinician)
    with CaptureQueriesContext(connection) as queries:
        page = clinician_client.get(reverse("plan-detail", args=[plan.pk]))
    assert page.status_code == 200 and "print-decision" in page.content.decode()
    reads = [q["sql"] for q in queries.captured_queries if '"recommender_assessment"' in q["sql"]]
    assert len(reads) == 1 and '"recommender_assessment"."decision"' in reads[0]
    assert '"recommender_assessment"."inputs"' not in reads[0]
