"""The access audit (issue 13, item 4): every look at a patient's record is recorded as who, when, which patient,
what and from where; admins search, filter and export it as CSV and can never change it; log lines name no patient
and, by a setting, are one JSON object each with the request id."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import subprocess
import sys
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from recommender.models import AccessRecord, Patient
from recommender.web.logs import JsonFormatter, RequestIdFilter
from tests.factories import make_plan
from tests.test_admin import admin_url

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def plan(clinician):
    return make_plan(clinician, family_name="Okonkwo", given_name="Adaeze", hospital_number="Q7654321")


def _pages(plan) -> dict[str, str]:
    return {
        AccessRecord.What.PATIENT: reverse("patient-detail", args=[plan.patient_id]),
        AccessRecord.What.ASSESSMENT: reverse("assessment-detail", args=[plan.assessment_id]),
        AccessRecord.What.PLAN: reverse("plan-detail", args=[plan.pk]),
        AccessRecord.What.MONTH: reverse("plan-month", args=[plan.pk]),
        AccessRecord.What.ICS: reverse("plan-ics", args=[plan.pk]),
    }


WHATS = [
    AccessRecord.What.PATIENT,
    AccessRecord.What.ASSESSMENT,
    AccessRecord.What.PLAN,
    AccessRecord.What.MONTH,
    AccessRecord.What.ICS,
]


@pytest.mark.parametrize("what", WHATS, ids=str)
def test_each_page_of_a_patients_record_is_recorded(clinician_client, clinician, plan, what):
    url = _pages(plan)[what]
    response = clinician_client.get(url, REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 200
    record = AccessRecord.objects.get()
    assert record.what == what
    assert record.patient_id == plan.patient_id
    assert record.user == clinician
    assert record.username == clinician.username
    assert record.ip == "10.1.2.3"
    assert record.request_id == response["X-Request-ID"]
    assert abs(record.at - timezone.now()) < timedelta(minutes=1)


def test_a_refused_or_missing_page_is_not_recorded(client, django_user_model, plan):
    nobody = django_user_model.objects.create_user("no_role", password="a-long-enough-passphrase-42")
    client.force_login(nobody)
    assert client.get(reverse("plan-detail", args=[plan.pk])).status_code == 403
    assert not AccessRecord.objects.exists()


def test_the_client_address_behind_the_proxy_is_the_one_the_proxy_saw(clinician_client, plan, settings):
    settings.B12_BEHIND_PROXY = True
    clinician_client.get(
        reverse("patient-detail", args=[plan.patient_id]),
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR="1.1.1.1, 192.0.2.44",  # the first was claimed by the client, the last the proxy added
    )
    assert AccessRecord.objects.get().ip == "192.0.2.44"


def test_without_the_proxy_setting_a_forwarded_address_is_ignored(clinician_client, plan, settings):
    settings.B12_BEHIND_PROXY = False
    clinician_client.get(
        reverse("patient-detail", args=[plan.patient_id]), REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="1.1.1.1"
    )
    assert AccessRecord.objects.get().ip == "10.0.0.9"


def test_the_admin_export_action_and_opening_a_record_in_the_admin_are_recorded(admin_client_, admin_user, plan):
    admin_client_.post(
        admin_url(Patient, "changelist"), {"action": "export_record", "_selected_action": [str(plan.patient_id)]}
    )
    admin_client_.get(admin_url(type(plan), "change", plan.pk))
    records = list(AccessRecord.objects.order_by("at").values_list("what", "patient_id", "user_id"))
    assert records == [
        (AccessRecord.What.EXPORT_ADMIN, plan.patient_id, admin_user.pk),
        (AccessRecord.What.ADMIN, plan.patient_id, admin_user.pk),
    ]


def test_the_export_command_is_recorded_with_who_asked(plan):
    call_command("export_patient", plan.patient.hospital_number, "--by", "dr_smith", stdout=io.StringIO())
    record = AccessRecord.objects.get()
    assert (record.what, record.patient_id, record.username) == (
        AccessRecord.What.EXPORT_COMMAND,
        plan.patient_id,
        "dr_smith",
    )


# The audit in the admin: searched, filtered, exported; never changed, by anyone.


@pytest.fixture
def superuser_client(client, django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.org", "a-long-enough-passphrase-42")
    client.force_login(root)
    return client


def test_who_opened_this_patients_record_last_month(admin_client_, clinician, plan):
    """The README's recipe: search by hospital number, filter by date, export the rows as CSV."""
    ward = Client()
    ward.force_login(clinician)
    ward.get(reverse("patient-detail", args=[plan.patient_id]))
    ward.get(reverse("plan-ics", args=[plan.pk]))
    last_month = timezone.localdate().replace(day=1) - timedelta(days=1)
    AccessRecord.objects.filter(what=AccessRecord.What.ICS).update(
        at=timezone.make_aware(datetime.combine(last_month, time(11, 30)))
    )
    changelist = admin_url(AccessRecord, "changelist")
    found = admin_client_.get(
        changelist,
        {
            "q": plan.patient.hospital_number,
            "at__year": str(last_month.year),  # the date drill-down above the list: year, then month
            "at__month": str(last_month.month),
        },
    )
    assert found.status_code == 200
    assert [record.what for record in found.context["cl"].result_list] == [AccessRecord.What.ICS]
    by_what = admin_client_.get(changelist, {"q": plan.patient.hospital_number, "what": "patient.view"})
    assert by_what.context["cl"].result_count == 1
    export = admin_client_.post(
        changelist,
        {"action": "export_access_csv", "_selected_action": list(AccessRecord.objects.values_list("pk", flat=True))},
    )
    assert export.status_code == 200
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert [(row["user"], row["what"], row["hospital number"]) for row in rows] == [
        ("dr_jones", "plan.ics", "Q7654321"),
        ("dr_jones", "patient.view", "Q7654321"),
    ]


@pytest.mark.parametrize("who", ["admin_group", "superuser"])
def test_nobody_changes_or_deletes_an_access_record(request, plan, clinician_client, who):
    clinician_client.get(reverse("patient-detail", args=[plan.patient_id]))
    record = AccessRecord.objects.get()
    before = AccessRecord.objects.values().get()
    client = request.getfixturevalue("admin_client_" if who == "admin_group" else "superuser_client")
    assert client.get(admin_url(AccessRecord, "change", record.pk)).status_code == 200  # to read
    body = {"username": "someone_else", "what": "api.read", "ip": "8.8.8.8", "_save": "Save"}
    assert client.post(admin_url(AccessRecord, "change", record.pk), body).status_code == 403
    assert client.post(admin_url(AccessRecord, "add"), body).status_code == 403
    assert client.post(admin_url(AccessRecord, "delete", record.pk), {"post": "yes"}).status_code == 403
    client.post(
        admin_url(AccessRecord, "changelist"),
        {"action": "delete_selected", "_selected_action": [str(record.pk)], "post": "yes"},
    )
    assert AccessRecord.objects.values().get() == before


# Logs: no patient data; one JSON object per line with the request id, by a setting.


@pytest.fixture
def json_log():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


def test_log_lines_are_json_with_the_request_id_and_name_no_patient(clinician_client, plan, json_log):
    response = clinician_client.get(reverse("plan-detail", args=[plan.pk]), HTTP_X_REQUEST_ID="ward7-req-000123")
    assert response["X-Request-ID"] == "ward7-req-000123"
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    audit = [line for line in lines if line["logger"] == "recommender.access"]
    assert len(audit) == 1
    assert audit[0]["request_id"] == "ward7-req-000123"
    assert str(AccessRecord.objects.get().pk) in audit[0]["message"]
    patient = plan.patient
    for secret in (patient.family_name, patient.given_name, patient.hospital_number, str(patient.pk)):
        assert secret not in json_log.getvalue()


def test_a_request_id_that_is_not_plainly_an_id_is_replaced(clinician_client, plan):
    response = clinician_client.get(reverse("patient-detail", args=[plan.patient_id]), HTTP_X_REQUEST_ID="<x>\n")
    assert response["X-Request-ID"] != "<x>\n"
    assert len(response["X-Request-ID"]) == 32


def test_b12_log_json_setting_switches_the_console_to_json():
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('recommender.auth').warning('login failed user=%s', 'x')"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "b12site.settings", "B12_LOG_JSON": "1"}
    run = subprocess.run(  # noqa: S603 (this interpreter, fixed arguments)
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    lines = [json.loads(line) for line in run.stderr.splitlines() if line.strip()]
    assert lines[-1]["message"] == "login failed user=x"
    assert lines[-1]["request_id"] == "-"
    assert lines[-1]["level"] == "WARNING"


@pytest.mark.parametrize("what", [AccessRecord.What.PLAN, AccessRecord.What.MONTH, AccessRecord.What.ICS])
def test_a_plan_page_records_the_patient_it_read_without_a_subquery(clinician_client, plan, what):
    """The page read the plan: its patient's id goes into the access record as a value, not as a subquery the ORM
    compiles on every view (which cost as much as the rest of the INSERT)."""
    with CaptureQueriesContext(connection) as queries:
        assert clinician_client.get(_pages(plan)[what]).status_code == 200
    audit = 'INSERT INTO "recommender_accessrecord"'
    [insert] = [query["sql"] for query in queries.captured_queries if query["sql"].startswith(audit)]
    assert "SELECT" not in insert
    assert AccessRecord.objects.get(what=what).patient_id == plan.patient_id
