"""Clinical records change only through the services: every admin form a clinical record has (change, add, delete,
bulk delete, history revert, inline) is POSTed by each role that can reach the admin, and the clinical tables and
their history are the same afterwards, row for row (issue 13, item 1)."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from django.forms import SplitDateTimeWidget
from django.utils import timezone

from recommender.models import Assessment, DoseRecord, Patient, TreatmentPlan
from recommender.roles import ADMIN, CLINICIAN, NURSE
from tests.conftest import make_user
from tests.test_admin import admin_url, make_record

CLINICAL = (Patient, Assessment, TreatmentPlan, DoseRecord)


def snapshot() -> dict:
    """Every clinical row and every history row, as stored."""
    tables = {}
    for model in CLINICAL:
        for table in (model, model.history.model):
            tables[table._meta.label] = list(table.objects.order_by("pk").values())
    return tables


@pytest.fixture
def record(db, django_user_model):
    clinician = make_user(django_user_model, "dr_author", CLINICIAN)
    nurse = make_user(django_user_model, "nurse_author", NURSE)
    return make_record(by=clinician, nurse=nurse)


ROLES = ["admin_group", "superuser", "clinician_staff", "nurse_staff"]


@pytest.fixture(params=ROLES)
def role_client(request, client, django_user_model):
    role = request.param
    if role == "superuser":
        user = django_user_model.objects.create_superuser("root", "root@example.org", "a-long-enough-passphrase-42")
    else:
        group = {"admin_group": ADMIN, "clinician_staff": CLINICIAN, "nurse_staff": NURSE}[role]
        user = make_user(django_user_model, f"{role}_user", group)
        user.is_staff = True  # staff, so that the admin lets them in at all
        user.save()
    assert user.groups.filter(name__in=[ADMIN, CLINICIAN, NURSE]).exists() or user.is_superuser
    client.force_login(user)
    return client


def _value(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bool):
        return "on" if value else None
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return value


def _add_field(data: dict, field) -> None:
    value = field.value()
    if isinstance(field.field.widget, SplitDateTimeWidget) and isinstance(value, datetime):
        local = timezone.localtime(value)
        data[f"{field.html_name}_0"] = local.date().isoformat()
        data[f"{field.html_name}_1"] = local.time().isoformat()
        return
    value = _value(value)
    if value is not None:
        data[field.html_name] = value


def form_data(response) -> dict:
    """What the admin page's own form would send back, unchanged."""
    data = {}
    for field in response.context["adminform"].form:
        _add_field(data, field)
    for inline in response.context.get("inline_admin_formsets") or []:
        for inline_form in [inline.formset.management_form, *inline.formset.forms]:
            for field in inline_form:
                _add_field(data, field)
    return data


# A change each form would make, were it saved: the rewrites the security review saw.
REWRITES = {
    Patient: {"family_name": "Rewritten"},
    Assessment: {"status": "not_deficient", "ruleset_id": "rewritten"},
    TreatmentPlan: {"maintenance_every": "999", "maintenance_unit": "days"},
    DoseRecord: {"batch": "REWRITTEN", "entered_in_error": None, "outcome": "given"},
}


def _rewritten(data: dict, model) -> dict:
    changed = dict(data)
    for name, value in REWRITES[model].items():
        if value is None:
            changed.pop(name, None)
        else:
            changed[name] = value
    return changed


def _records(record) -> dict:
    patient, assessment, plan, _ = record
    wrong = DoseRecord.objects.filter(plan=plan, entered_in_error=True).get()
    return {Patient: patient, Assessment: assessment, TreatmentPlan: plan, DoseRecord: wrong}


@pytest.mark.parametrize("model", CLINICAL, ids=lambda m: m.__name__)
def test_history_revert_changes_nothing(role_client, record, model):
    instance = _records(record)[model]
    before = snapshot()
    for version in model.history.filter(id=instance.pk):
        url = admin_url(model, "simple_history", instance.pk, version.history_id)
        page = role_client.get(url)
        data = _rewritten(form_data(page), model) if page.status_code == 200 else dict(REWRITES[model])
        data = {key: value for key, value in data.items() if value is not None}
        response = role_client.post(url, {**data, "_save": "Save"})
        assert response.status_code in (302, 403), response.status_code  # refused, or the admin's login page
        assert snapshot() == before, f"reverting {model.__name__} to history row {version.history_id} wrote"


@pytest.mark.parametrize("model", CLINICAL, ids=lambda m: m.__name__)
def test_change_add_and_delete_forms_change_nothing(role_client, record, model):
    instance = _records(record)[model]
    before = snapshot()
    change_url = admin_url(model, "change", instance.pk)
    page = role_client.get(change_url)
    data = _rewritten(form_data(page), model) if page.status_code == 200 else dict(REWRITES[model])
    data = {key: value for key, value in data.items() if value is not None}
    posts = [
        (change_url, {**data, "_save": "Save"}),
        (change_url, {**data, "_continue": "Save and continue"}),
        (admin_url(model, "add"), {**data, "_save": "Save"}),
        (admin_url(model, "delete", instance.pk), {"post": "yes"}),
        (
            admin_url(model, "changelist"),
            {"action": "delete_selected", "_selected_action": [str(instance.pk)], "post": "yes"},
        ),
    ]
    for url, body in posts:
        response = role_client.post(url, body)
        assert response.status_code < 500, (url, response.status_code)
        assert snapshot() == before, f"POST {url} wrote"


def test_inline_forms_change_nothing(role_client, record):
    """The patient's page in the admin carries its plans and assessments inline, the plan's its doses."""
    patient, _, plan, _ = record
    before = snapshot()
    for model, instance in ((Patient, patient), (TreatmentPlan, plan)):
        url = admin_url(model, "change", instance.pk)
        page = role_client.get(url)
        if page.status_code != 200:
            continue
        data = form_data(page)
        for key in list(data):
            if key.endswith("-maintenance_every"):
                data[key] = "999"
            if key.endswith("-batch"):
                data[key] = "REWRITTEN"
            if key.endswith("-DELETE"):
                data[key] = "on"
        role_client.post(url, {**data, "_save": "Save"})
        assert snapshot() == before, f"the inlines of {model.__name__} wrote"


def test_history_pages_still_show_every_version(admin_client_, record):
    """Reading history stays: the version page opens (no Revert button) for the admin group."""
    dose = _records(record)[DoseRecord]
    version = dose.history.earliest()
    page = admin_client_.get(admin_url(DoseRecord, "simple_history", dose.pk, version.history_id))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Revert" not in body
    assert 'name="_save"' not in body
