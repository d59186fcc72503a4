"""FHIR R4 (issue 15, items 1, 2, 4): the export ($everything, read by id, metadata) validates against the official
R4 schema, the R4B models and the status value sets and says what the record says; results come in as a Bundle and
open a pre-filled assessment; tokens and roles as for the pages; every read audited, no patient data in log lines."""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from recommender.access import services as access_services
from recommender.injections import services as injections_services
from recommender.models import AccessRecord, AccessToken, Assessment, DoseRecord, FhirCodeMapping, ResultImport
from tests.factories import give, make_patient, make_plan, miss, shown_fingerprint, today
from tests.fhir_schema import assert_valid, parse_r4b, schema_errors, status_errors

FHIR_JSON = "application/fhir+json"
START = date(2025, 1, 6)  # a Monday
LOINC = "http://loinc.org"
NHS = "https://fhir.nhs.uk/Id/nhs-number"
HOSPITAL = "urn:b12:hospital-number"


def _everything(client, patient_id, **headers):
    return client.get(f"/fhir/r4/Patient/{patient_id}/$everything", **headers)


def _json(response) -> dict:
    assert response["Content-Type"] == FHIR_JSON
    return json.loads(response.content)


def _by_type(bundle: dict) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for entry in bundle["entry"]:
        found.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    return found


@pytest.fixture
def treated(clinician, nurse):
    """A patient with an NHS number, a plan from START, two doses given, one missed and one entered in error."""
    plan = make_plan(clinician, start=START, nhs_number="9434765919")
    give(plan, nurse)
    wrong = give(plan, nurse)
    injections_services.dose_mark_entered_in_error(dose=wrong, reason="Recorded against the wrong patient.", by=nurse)
    give(plan, nurse)
    miss(plan, nurse)
    plan.refresh_from_db()
    return plan


# The export


def test_everything_validates_and_says_what_the_record_says(clinician_client, treated):
    bundle = _json(_everything(clinician_client, treated.patient_id))
    assert_valid(bundle)
    assert bundle["type"] == "searchset"
    for entry in bundle["entry"]:
        assert_valid(entry["resource"])
    found = _by_type(bundle)

    (patient,) = found["Patient"]
    assert {(i["system"], i["value"]) for i in patient["identifier"]} == {
        (HOSPITAL, treated.patient.hospital_number),
        (NHS, "9434765919"),
    }
    (b12,) = found["Observation"]
    assert b12["code"]["coding"][0]["code"] == "2132-9"
    assert b12["valueQuantity"] == {
        "value": 150,
        "unit": "pg/mL",
        "system": "http://unitsofmeasure.org",
        "code": "pg/mL",
    }
    assert b12["interpretation"][0]["coding"][0]["code"] == "L"
    assert b12["effectiveDateTime"] == START.isoformat()

    (care_plan,) = found["CarePlan"]
    assert care_plan["status"] == "active" and care_plan["period"]["start"] == START.isoformat()
    assert care_plan["instantiatesCanonical"] == ["urn:b12:ruleset:seed-2025|1.0.0"]
    activities = care_plan["activity"]
    assert [a["reference"]["reference"] for a in activities[:2]] == [
        f"MedicationRequest/{treated.pk}-loading",
        f"MedicationRequest/{treated.pk}-maintenance",
    ]
    assert activities[2]["detail"]["kind"] == "ServiceRequest"

    loading, maintenance = found["MedicationRequest"]
    assert loading["dosageInstruction"][0]["timing"]["repeat"]["boundsDuration"]["value"] == 2
    assert maintenance["dosageInstruction"][0]["timing"]["repeat"] == {"frequency": 1, "period": 2, "periodUnit": "mo"}

    statuses = [m["status"] for m in found["MedicationAdministration"]]
    assert sorted(statuses) == ["completed", "completed", "entered-in-error", "not-done"]
    given = next(m for m in found["MedicationAdministration"] if m["status"] == "completed")
    assert given["contained"][0]["batch"] == {"lotNumber": "HX2025-118", "expirationDate": "2026-01-06"}
    assert given["dosage"]["route"]["coding"][0]["code"] == "78421000"
    assert given["dosage"]["site"]["coding"][0]["code"] == "368208006"
    assert given["dosage"]["dose"]["value"] == 1
    not_done = next(m for m in found["MedicationAdministration"] if m["status"] == "not-done")
    assert not_done["statusReason"][0]["text"] == "Did not attend"


@pytest.mark.parametrize(
    ("b12", "loinc"),
    [({"value": 150, "unit": "ng/L"}, "2132-9"), ({"value": 110, "unit": "pmol/L"}, "14685-2")],
)
def test_total_b12_is_coded_by_its_unit(clinician_client, clinician, b12, loinc):
    payload = {
        "b12": b12,
        "active_b12": {"value": 20, "unit": "pmol/L"},
        "mma": {"value": 0.5, "unit": "umol/L", "upper_limit": 0.35},
        "homocysteine": {"value": 18, "unit": "umol/L"},
        "egfr": 75,
    }
    plan = make_plan(clinician, payload)
    bundle = _json(_everything(clinician_client, plan.patient_id))
    assert_valid(bundle)
    codes = {o["code"]["coding"][0]["code"]: o for o in _by_type(bundle)["Observation"]}
    assert set(codes) == {loinc, "72160-5", "13964-2", "13965-9", "98979-8"}
    assert codes["13964-2"]["interpretation"][0]["coding"][0]["code"] == "H"
    assert codes["13964-2"]["referenceRange"][0]["high"]["value"] == 0.35
    assert codes["98979-8"]["valueQuantity"]["code"] == "mL/min/{1.73_m2}"


def test_alternate_day_loading_and_an_ended_plan(clinician_client, clinician):
    from recommender.clinic import services as clinic_services

    plan = make_plan(clinician, start=START, neuro=True)
    clinic_services.plan_end(plan=plan, reason="Moved away.", by=clinician)
    found = _by_type(_json(_everything(clinician_client, plan.patient_id)))
    (care_plan,) = found["CarePlan"]
    assert care_plan["status"] == "completed"
    loading, maintenance = found["MedicationRequest"]
    assert loading["dosageInstruction"][0]["timing"]["repeat"] == {"frequency": 1, "period": 2, "periodUnit": "d"}
    assert {loading["status"], maintenance["status"]} == {"stopped"}
    for resource in (care_plan, loading, maintenance):
        assert_valid(resource)


def test_every_entry_reads_by_its_id(clinician_client, treated):
    bundle = _json(_everything(clinician_client, treated.patient_id))
    assert len(bundle["entry"]) == 1 + 1 + 1 + 2 + 4
    for entry in bundle["entry"]:
        response = clinician_client.get(entry["fullUrl"].removeprefix("http://testserver"))
        assert response.status_code == 200, entry["fullUrl"]
        assert _json(response) == entry["resource"]


@pytest.mark.parametrize(
    "path",
    [
        "Patient/00000000-0000-0000-0000-000000000000",
        "Patient/not-a-uuid",
        "Observation/00000000-0000-0000-0000-000000000000-b12",
        "Observation/{assessment}-mma",  # an assessment without an MMA result
        "Observation/{assessment}-folate",
        "CarePlan/{assessment}",
        "MedicationRequest/{plan}-weekly",
        "MedicationAdministration/{plan}",
        "Encounter/{plan}",
        "Patient/00000000-0000-0000-0000-000000000000/$everything",
    ],
)
def test_no_such_resource_is_a_404_operation_outcome(clinician_client, recent_plan, path):
    path = path.format(assessment=recent_plan.assessment_id, plan=recent_plan.pk)
    response = clinician_client.get(f"/fhir/r4/{path}")
    assert response.status_code == 404
    outcome = _json(response)
    assert outcome["resourceType"] == "OperationOutcome" and outcome["issue"][0]["code"] in (
        "not-found",
        "not-supported",
    )
    assert schema_errors(outcome) == []
    assert not AccessRecord.objects.exists()


def test_metadata_lists_what_is_served(client):
    statement = _json(client.get("/fhir/r4/metadata"))
    assert_valid(statement)
    assert statement["fhirVersion"] == "4.0.1"
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert set(resources) == {
        "Patient",
        "Observation",
        "CarePlan",
        "MedicationRequest",
        "MedicationAdministration",
        "Bundle",
    }
    assert resources["Patient"]["operation"][0]["name"] == "everything"


def test_everything_takes_a_constant_number_of_queries(clinician_client, clinician, nurse):
    def queries_for(doses: int) -> int:
        plan = make_plan(clinician, start=START)
        for _ in range(doses):
            give(plan, nurse)
        with CaptureQueriesContext(connection) as captured:
            assert _everything(clinician_client, plan.patient_id).status_code == 200
        return len(captured)

    assert queries_for(1) == queries_for(12)


def test_the_selector_reads_a_record_in_four_queries(clinician, nurse, django_assert_num_queries):
    from recommender.interop.fhir import selectors

    plan = make_plan(clinician, start=START)
    for _ in range(8):
        give(plan, nurse)
    with django_assert_num_queries(4):
        record = selectors.patient_record(patient_id=str(plan.patient_id))
        assert len(record.doses) == 8 and record.doses[0].recorded_by.username


# Tokens, roles, the audit, the log


def _bearer(user, purpose=AccessToken.Purpose.API) -> dict:
    _, raw = access_services.access_token_issue(user=user, purpose=purpose, name="ehr")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def test_an_api_token_reads_and_the_read_is_audited_without_patient_data_in_the_log(nurse, recent_plan, caplog):
    patient = recent_plan.patient
    with caplog.at_level(logging.INFO):
        response = _everything(Client(), patient.pk, **_bearer(nurse))
    assert response.status_code == 200
    (record,) = AccessRecord.objects.all()
    assert (record.user, record.patient_id, record.what) == (nurse, patient.pk, "fhir.read")
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "fhir Patient/$everything status=200 user=nurse_patel" in logged
    for secret in (str(patient.pk), patient.hospital_number, patient.family_name, patient.given_name):
        assert secret not in logged


def test_without_a_valid_api_token_it_is_401(nurse, recent_plan):
    calendar = _bearer(nurse, AccessToken.Purpose.CALENDAR)
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer b12_nope"}, calendar):
        response = _everything(Client(), recent_plan.patient_id, **headers)
        assert response.status_code == 401
        assert _json(response)["issue"][0]["code"] == "login"
        assert response["WWW-Authenticate"].startswith("Bearer")
    token, raw = access_services.access_token_issue(user=nurse, purpose=AccessToken.Purpose.API)
    access_services.access_token_revoke(token=token)
    assert _everything(Client(), recent_plan.patient_id, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    assert not AccessRecord.objects.exists()


def test_an_account_without_a_clinical_role_is_403(django_user_model, recent_plan):
    staff_only = django_user_model.objects.create_user(username="helpdesk", is_staff=True)
    response = _everything(Client(), recent_plan.patient_id, **_bearer(staff_only))
    assert response.status_code == 403
    assert _json(response)["issue"][0]["code"] == "forbidden"


# Results in


def _observation(code="2132-9", value=150, unit="ng/L", *, subject=None, on=None, system=LOINC) -> dict:
    return {
        "resource": {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": system, "code": code}]},
            "subject": subject or {"identifier": {"system": NHS, "value": "943 476 5919"}},
            "effectiveDateTime": (on or today()).isoformat(),
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
        }
    }


def _bundle(*entries, kind="collection") -> dict:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def _post(client, bundle, **headers):
    return client.post("/fhir/r4/Bundle", data=json.dumps(bundle), content_type=FHIR_JSON, **headers)


@pytest.fixture
def registered(clinician):
    return make_patient(by=clinician, hospital_number="H123456", nhs_number="9434765919")


def test_a_bundle_of_results_opens_the_assessment_pre_filled(clinician, registered):
    bundle = _bundle(
        _observation(),
        _observation("13964-2", 0.45, "umol/L"),
        _observation("2284-8", 3.1, "ug/L"),  # folate: recognised, not an input of the assessment
        kind="transaction",
    )
    client = Client()
    response = _post(client, bundle, **_bearer(clinician))
    assert response.status_code == 201, response.content
    assert _json(response)["issue"][0]["severity"] == "information"
    (imported,) = ResultImport.objects.all()
    assert imported.patient == registered and imported.created_by == clinician
    assert imported.results == {"b12_value": "150", "b12_unit": "ng/L", "mma_value": "0.45", "mma_unit": "umol/L"}
    link = response["Location"]
    assert link == f"http://testserver/patients/{registered.pk}/assess/?import={imported.pk}"

    client.force_login(clinician)
    page = client.get(link.removeprefix("http://testserver"))
    assert page.status_code == 200
    form = page.context["form"]
    assert (form["b12_value"].value(), form["b12_unit"].value(), form["mma_value"].value()) == ("150", "ng/L", "0.45")
    assert form["sample_date"].value() == today()
    assert "Results received from the lab system" in page.content.decode()
    assert not Assessment.objects.exists(), "imported results never decide alone"


def test_the_hospital_number_or_a_patient_entry_names_the_patient(clinician, registered):
    patient_entry = {
        "fullUrl": "urn:uuid:0b1c2d3e-0000-4000-8000-000000000001",
        "resource": {"resourceType": "Patient", "identifier": [{"system": HOSPITAL, "value": "h123456"}]},
    }
    by_entry = _observation(subject={"reference": "urn:uuid:0b1c2d3e-0000-4000-8000-000000000001"})
    by_number = _observation("13965-9", 14, "umol/L", subject={"identifier": {"system": HOSPITAL, "value": "H123456"}})
    response = _post(Client(), _bundle(patient_entry, by_entry, by_number), **_bearer(clinician))
    assert response.status_code == 201, response.content
    assert ResultImport.objects.get().patient == registered


def test_a_local_code_added_in_the_admin_is_understood(clinician, registered):
    FhirCodeMapping.objects.create(
        system="http://snomed.info/sct", code="1031421000000106", unit="ng/L", input="b12", input_unit="ng/L"
    )
    local = _observation("1031421000000106", 160, system="http://snomed.info/sct")
    assert _post(Client(), _bundle(local), **_bearer(clinician)).status_code == 201
    assert ResultImport.objects.get().results["b12_value"] == "160"


def _refused(response, status: int) -> list[dict]:
    assert response.status_code == status, response.content
    outcome = _json(response)
    assert schema_errors(outcome) == [] and status_errors(outcome) == []
    parse_r4b(outcome)
    assert not ResultImport.objects.exists(), "nothing is half-imported"
    return outcome["issue"]


@pytest.mark.parametrize(
    ("second", "named", "words"),
    [
        (_observation("9999-9"), "Bundle.entry[1].resource.code", "unknown code (http://loinc.org|9999-9)"),
        (_observation("13964-2", 0.45, "mg/dL"), "Bundle.entry[1].resource.valueQuantity.code", "unknown unit 'mg/dL'"),
        (
            _observation("13964-2", 0.45, "umol/L", subject={"identifier": {"system": NHS, "value": "4010232137"}}),
            "Bundle.entry[1].resource.subject",
            "unknown patient",
        ),
        (
            _observation("13964-2", 0.45, "umol/L", on=today() - timedelta(days=3)),
            "Bundle.entry[1].resource.effective",
            "one sample",
        ),
        (_observation("13964-2", 450, "umol/L"), "Bundle.entry[1].resource.valueQuantity", "did you mean 450 nmol/L"),
        (_observation("14685-2", 120, "pmol/L"), "Bundle.entry[1].resource.code", "a second Total B12 result"),
        (
            {"resource": {"resourceType": "Condition", "subject": {"reference": "Patient/x"}}},
            "Bundle.entry[1]",
            "only Observations",
        ),
        (
            {"resource": {**_observation("13964-2")["resource"], "valueQuantity": None, "valueString": "pending"}},
            "Bundle.entry[1].resource.valueQuantity",
            "no value with its unit",
        ),
    ],
)
def test_an_entry_not_understood_is_named_and_nothing_is_kept(clinician, registered, second, named, words):
    response = _post(Client(), _bundle(_observation(), second), **_bearer(clinician))
    issues = _refused(response, 422)
    assert [issue["expression"] for issue in issues] == [[named]]
    assert words in issues[0]["diagnostics"] and issues[0]["diagnostics"].startswith("Bundle.entry[1]")


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"resourceType": "Observation"}, "Bundle"),
        (_bundle(_observation(), kind="searchset"), "Bundle.type"),
        (
            {**_bundle(_observation()), "entry": [{"resource": {"resourceType": "Observation", "status": 7}}]},
            "Bundle.entry",
        ),
    ],
)
def test_a_body_that_is_not_a_bundle_of_results_is_400(clinician, registered, body, where):
    issues = _refused(_post(Client(), body, **_bearer(clinician)), 400)
    assert issues[0]["expression"][0].startswith(where)


def test_a_body_that_is_not_json_is_400(clinician):
    response = Client().post("/fhir/r4/Bundle", data="{", content_type=FHIR_JSON, **_bearer(clinician))
    _refused(response, 400)


def test_a_nurse_may_not_import_and_a_session_needs_its_csrf_token(nurse, clinician, registered):
    assert _post(Client(), _bundle(_observation()), **_bearer(nurse)).status_code == 403
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(clinician)
    assert _post(browser, _bundle(_observation())).status_code == 403
    assert not ResultImport.objects.exists()


def test_an_import_link_of_another_patient_pre_fills_nothing(clinician_client, clinician, registered):
    _post(Client(), _bundle(_observation()), **_bearer(clinician))
    other = make_patient(by=clinician)
    page = clinician_client.get(f"/patients/{other.pk}/assess/?import={ResultImport.objects.get().pk}")
    assert page.context["form"]["b12_value"].value() is None
    assert clinician_client.get(f"/patients/{other.pk}/assess/?import=nonsense").status_code == 200


# The round trip the issue asks for


def test_round_trip_import_assess_plan_dose_then_everything(clinician, nurse, registered):
    sampled = today() - timedelta(days=2)
    bundle = _bundle(_observation(on=sampled), _observation("13965-9", 19, "umol/L", on=sampled))
    created = _post(Client(), bundle, **_bearer(clinician))
    assert created.status_code == 201

    # The clinician opens the link, completes the clinical picture and saves with a plan.
    browser = Client()
    browser.force_login(clinician)
    form = browser.get(created["Location"].removeprefix("http://testserver")).context["form"]
    data = {name: form[name].value() for name in ("b12_value", "b12_unit", "homocysteine_value", "homocysteine_unit")}
    data |= {
        "sample_date": form["sample_date"].value().isoformat(),
        "folic_acid": "on",
        "action": "save",
        "create_plan": "1",
        "maintenance_choice": "3",
        "start_date": today().isoformat(),
    }
    data["decision_fingerprint"] = shown_fingerprint(data)
    saved = browser.post(reverse("assessment-create", args=[registered.pk]), data)
    assert saved.status_code == 302, saved.context and saved.context.get("error_summary")
    assessment = Assessment.objects.get(patient=registered)
    plan = assessment.plan

    # A nurse records the first dose.
    dose = give(plan, nurse, on=today())

    bundle = _json(_everything(Client(), registered.pk, **_bearer(nurse)))
    assert_valid(bundle)
    found = _by_type(bundle)
    assert {
        (o["code"]["coding"][0]["code"], o["valueQuantity"]["value"], o["valueQuantity"]["unit"])
        for o in found["Observation"]
    } == {
        ("2132-9", 150, "ng/L"),
        ("13965-9", 19, "umol/L"),
    }
    assert {o["effectiveDateTime"] for o in found["Observation"]} == {sampled.isoformat()}
    (care_plan,) = found["CarePlan"]
    assert care_plan["id"] == str(plan.pk) and care_plan["period"] == {"start": today().isoformat()}
    assert found["MedicationRequest"][1]["dosageInstruction"][0]["timing"]["repeat"]["period"] == 3
    (given,) = found["MedicationAdministration"]
    assert given["id"] == str(dose.pk) and given["status"] == "completed"
    assert given["request"]["reference"] == f"MedicationRequest/{plan.pk}-loading"
    assert DoseRecord.objects.count() == 1


def test_the_openapi_description_lists_the_fhir_endpoints_and_their_answers_fit_it(clinician_client, treated):
    from jsonschema import Draft202012Validator

    doc = clinician_client.get("/api/v1/openapi.json").json()
    assert {"/fhir/r4/metadata", "/fhir/r4/Patient/{id}/$everything", "/fhir/r4/{type}/{id}", "/fhir/r4/Bundle"} <= set(
        doc["paths"]
    )

    def fits(response, path, method="get"):
        documented = doc["paths"][path][method]["responses"][str(response.status_code)]
        schema = documented["content"][FHIR_JSON]["schema"]
        Draft202012Validator({**schema, "components": doc["components"]}).validate(_json(response))

    fits(clinician_client.get("/fhir/r4/metadata"), "/fhir/r4/metadata")
    fits(_everything(clinician_client, treated.patient_id), "/fhir/r4/Patient/{id}/$everything")
    fits(clinician_client.get(f"/fhir/r4/CarePlan/{treated.pk}"), "/fhir/r4/{type}/{id}")
    fits(clinician_client.get("/fhir/r4/CarePlan/nothing"), "/fhir/r4/{type}/{id}")
    fits(_post(clinician_client, _bundle(_observation())), "/fhir/r4/Bundle", "post")


def test_no_resource_leaves_unchecked_by_its_r4b_model(treated, monkeypatch):
    """$everything checks each distinct entry once per process: a changed (here: broken) entry is checked again."""
    from pydantic import ValidationError

    from recommender.interop.fhir import resources, selectors

    record = selectors.patient_record(patient_id=str(treated.patient_id))
    resources.everything_bundle(record, base="https://clinic.example/fhir/r4/")
    build = resources.medication_administration_resource

    def broken(dose, **kwargs):
        return {**build(dose, **kwargs), "status": None, "dosage": {"rate": "fast"}}

    monkeypatch.setattr(resources, "medication_administration_resource", broken)
    with pytest.raises(ValidationError):
        resources.everything_bundle(record, base="https://clinic.example/fhir/r4/")


def test_a_code_mapping_takes_one_of_its_inputs_units(db):
    from django.core.exceptions import ValidationError

    wrong = FhirCodeMapping(system=LOINC, code="X-1", unit="mg/dL", input="mma", input_unit="mg/dL")
    with pytest.raises(ValidationError) as raised:
        wrong.full_clean()
    assert raised.value.message_dict["input_unit"] == ["Methylmalonic acid (MMA) is taken in one of: umol/L, nmol/L."]
    FhirCodeMapping(system=LOINC, code="X-2", unit="mL/min", input="egfr").full_clean()
