"""The Django admin as the admin group uses it (staff, not superuser): every model's pages, search and filters,
history with the acting user, clinical records read-only, nothing clinical deleted, user management, the JSON
export (admin action and management command) and the lab profile "make default" action."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from recommender.access import services as access_services
from recommender.access.audit import access_record
from recommender.clinic import services as clinic_services
from recommender.injections import services as injections_services
from recommender.models import (
    AccessRecord,
    AccessToken,
    Appointment,
    Assessment,
    CdsCard,
    CdsFeedback,
    ClinicClosure,
    DoseRecord,
    FhirCodeMapping,
    LabProfile,
    Location,
    Patient,
    Session,
    SessionChange,
    TreatmentPlan,
)
from recommender.roles import CLINICIAN, NURSE
from tests.conftest import make_user
from tests.factories import DEFICIENT

CLINICAL = (Assessment, TreatmentPlan, DoseRecord)


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def make_record(*, by, nurse, hospital_number="A0000001", family_name="Okafor", given_name="Chidi"):
    """A patient with an assessment, a plan, a dose given and a dose entered in error (corrected)."""
    today = timezone.localdate()
    patient = clinic_services.patient_create(
        hospital_number=hospital_number,
        family_name=family_name,
        given_name=given_name,
        date_of_birth=date(1958, 3, 14),
        by=by,
    )
    assessment, plan = clinic_services.assessment_record(
        patient=patient,
        sample_date=today,
        payload=dict(DEFICIENT),
        plan_options={"start_date": today - timedelta(days=3), "maintenance_every": 2, "maintenance_unit": "months"},
        by=by,
    )
    dose = injections_services.dose_record(
        plan=plan,
        phase=plan.next_phase,
        number=plan.next_number,
        outcome="given",
        allergy_checked=True,  # the first-dose checks (asked, sample taken)
        baseline_sample_taken=True,
        given_at=timezone.now() - timedelta(minutes=5),
        dose_mg=Decimal(1),
        route="IM",
        site="left_deltoid",
        batch="BATCH-42",
        expiry=today + timedelta(days=200),
        by=nurse,
    )
    plan.refresh_from_db()
    wrong = injections_services.dose_record(
        plan=plan, phase=plan.next_phase, number=plan.next_number, outcome="declined", reason="Declined", by=nurse
    )
    injections_services.dose_mark_entered_in_error(dose=wrong, reason="Patient did not decline: wrong record", by=nurse)
    plan.refresh_from_db()
    return patient, assessment, plan, dose


@pytest.fixture
def staff(django_user_model):
    return make_user(django_user_model, "dr_author", CLINICIAN), make_user(django_user_model, "nurse_author", NURSE)


@pytest.fixture
def record(staff):
    clinician, nurse = staff
    return make_record(by=clinician, nurse=nurse)


@pytest.fixture
def profile(admin_user):
    profile = LabProfile(name="North Lab", total_b12_deficient_below=200)
    profile._history_user = admin_user
    profile.save()
    return profile


# Every model the admin shows, with one instance of it.


def _instances(record, profile, admin_user, nurse_user):
    patient, assessment, plan, dose = record
    token, _ = access_services.access_token_issue(
        user=nurse_user, purpose=AccessToken.Purpose.CALENDAR, name="worklist"
    )
    base = {"user_agent": "pytest", "ip_address": "127.0.0.1", "username": "someone", "http_accept": "*/*"}
    return {
        "auth.User": admin_user,
        "auth.Group": Group.objects.get(name=NURSE),
        "axes.AccessAttempt": AccessAttempt.objects.create(
            **base, path_info="/login/", get_data="", post_data="", failures_since_start=2
        ),
        "axes.AccessLog": AccessLog.objects.create(**base, path_info="/login/"),
        "axes.AccessFailureLog": AccessFailureLog.objects.create(**base, path_info="/login/"),
        "recommender.Patient": patient,
        "recommender.Assessment": assessment,
        "recommender.TreatmentPlan": plan,
        "recommender.DoseRecord": dose,
        "recommender.LabProfile": profile,
        "recommender.AccessToken": token,
        "recommender.AccessRecord": access_record(
            patient_id=patient.pk, what=AccessRecord.What.PATIENT, username="someone"
        ),
        "recommender.ClinicClosure": injections_services.clinic_closure_save(
            closure=ClinicClosure(date=date(2026, 12, 24), reason="Christmas Eve: clinic closed"), by=admin_user
        ),
        **_booking_instances(plan, admin_user),
        "recommender.FhirCodeMapping": FhirCodeMapping.objects.get(code="2132-9", unit="ng/L"),  # seeded
        **_reminder_instances(),
        **_recall_instances(patient, admin_user),
        **_cds_instances(),
    }


def _reminder_instances() -> dict:
    """The reminder settings and a queued background task (issue 16)."""
    from django_tasks_db.models import DBTaskResult, get_date_max

    from recommender.models import ReminderSettings

    return {
        "recommender.ReminderSettings": ReminderSettings.objects.create(pk=1),
        "django_tasks_database.DBTaskResult": DBTaskResult.objects.create(
            args_kwargs={"args": [[]], "kwargs": {}},
            task_path="recommender.reminders.tasks.send_reminders_batch",
            backend_name="default",
            run_after=get_date_max(),
        ),
    }


def _recall_instances(patient, by) -> dict:
    """The recall list's settings row and a contact attempt (issue 16)."""
    from recommender.models import ContactAttempt, RecallSettings

    return {
        "recommender.RecallSettings": RecallSettings.objects.create(),
        "recommender.ContactAttempt": ContactAttempt.objects.create(
            patient=patient, at=timezone.now(), method="phone", outcome="no_answer", recorded_by=by
        ),
    }


def _cds_instances() -> dict:
    """A registered EHR, a card it was given and the clinician's override of it (CDS Hooks, issue 15)."""
    from tests.cds_client import register

    client = register()
    card = CdsCard.objects.create(
        client=client, service="b12-review", summary="B12 150 ng/L: deficient", indicator="warning", ruleset="seed"
    )
    feedback = CdsFeedback.objects.create(
        card=card, outcome="overridden", override_code="already-treated", outcome_at=timezone.now()
    )
    return {"recommender.CdsClient": client, "recommender.CdsCard": card, "recommender.CdsFeedback": feedback}


def _booking_instances(plan, by) -> dict:
    """A location, a Monday session, its cancellation one Monday, and an appointment (issue 17)."""
    location = Location.objects.create(name="Riverside Surgery", address="1 River Road")
    session = Session.objects.create(location=location, weekday=0, start=time(9), end=time(12))
    monday = date(2027, 1, 4)
    return {
        "recommender.Location": location,
        "recommender.Session": session,
        "recommender.SessionChange": SessionChange.objects.create(
            kind="cancel", date=monday, session=session, reason="Nurse off sick"
        ),
        "recommender.Appointment": Appointment.objects.create(
            plan=plan,
            phase="loading",
            number=1,
            due_on=monday,
            location=location,
            starts_at=timezone.make_aware(datetime.combine(monday + timedelta(days=7), time(9))),
            slot_minutes=10,
            seat=1,
            capacity=1,
            booked_by=by,
        ),
    }


REGISTERED = sorted(model._meta.label for model in admin.site._registry)


def test_the_instance_table_covers_every_registered_model():
    expected = {
        "auth.User",
        "auth.Group",
        "axes.AccessAttempt",
        "axes.AccessLog",
        "axes.AccessFailureLog",
        "recommender.Patient",
        "recommender.Assessment",
        "recommender.TreatmentPlan",
        "recommender.DoseRecord",
        "recommender.LabProfile",
        "recommender.AccessToken",
        "recommender.ClinicClosure",
        "recommender.AccessRecord",
        "recommender.Location",
        "recommender.Session",
        "recommender.SessionChange",
        "recommender.Appointment",
        "recommender.FhirCodeMapping",
        "recommender.ReminderSettings",
        "django_tasks_database.DBTaskResult",
        "recommender.RecallSettings",
        "recommender.ContactAttempt",
        "recommender.CdsClient",
        "recommender.CdsCard",
        "recommender.CdsFeedback",
    }
    assert set(REGISTERED) == expected, "a model was added to or removed from the admin: update _instances"


def test_admin_user_is_staff_in_the_admin_group_and_not_superuser(admin_user):
    assert admin_user.is_staff
    assert not admin_user.is_superuser
    assert list(admin_user.groups.values_list("name", flat=True)) == ["admin"]


@pytest.mark.parametrize("label", REGISTERED)
def test_every_model_has_a_changelist_and_change_page_for_the_admin(
    admin_client_, admin_user, record, profile, staff, label
):
    instance = _instances(record, profile, admin_user, staff[1])[label]
    model = type(instance)
    changelist = admin_client_.get(admin_url(model, "changelist"))
    assert changelist.status_code == 200, f"{label} changelist: {changelist.status_code}"
    assert changelist.context["cl"].result_count >= 1
    change = admin_client_.get(admin_url(model, "change", instance.pk))
    assert change.status_code == 200, f"{label} change page: {change.status_code}"


# Search and filters.


@pytest.fixture
def two_patients(record, staff):
    clinician, nurse = staff
    other = make_record(
        by=clinician, nurse=nurse, hospital_number="B0000002", family_name="Lindqvist", given_name="Ebba"
    )
    return record, other


SEARCHABLE = [Patient, Assessment, TreatmentPlan, DoseRecord]


@pytest.mark.parametrize("model", SEARCHABLE, ids=lambda m: m.__name__)
@pytest.mark.parametrize("query", ["a0000001", "okafor", "OKAF"])
def test_search_by_hospital_number_and_name(admin_client_, two_patients, model, query):
    (patient, *_), _ = two_patients
    response = admin_client_.get(admin_url(model, "changelist"), {"q": query})
    assert response.status_code == 200
    results = list(response.context["cl"].result_list)
    assert results, f"{model.__name__}: nothing found for {query!r}"
    patients = {_patient_of(obj) for obj in results}
    assert patients == {patient.pk}, f"{model.__name__}: {query!r} found other patients' records"
    assert response.context["cl"].full_result_count > len(results), "the search narrowed nothing"


@pytest.mark.parametrize("model", [Patient, Assessment, TreatmentPlan], ids=lambda m: m.__name__)
def test_search_by_given_name(admin_client_, two_patients, model):
    (patient, *_), _ = two_patients
    response = admin_client_.get(admin_url(model, "changelist"), {"q": "chidi"})
    assert {_patient_of(obj) for obj in response.context["cl"].result_list} == {patient.pk}


def _patient_of(obj):
    if isinstance(obj, Patient):
        return obj.pk
    if isinstance(obj, DoseRecord):
        return obj.plan.patient_id
    return obj.patient_id


@pytest.mark.parametrize(
    ("model", "filters"),
    [
        (Assessment, ["status", "im_recommended", "ruleset_id", "ruleset_version", "lab_profile"]),
        (TreatmentPlan, ["status", "loading_pattern", "maintenance_unit", "individualised", "assessment__ruleset_id"]),
        (DoseRecord, ["outcome", "phase", "entered_in_error", "site"]),
        (LabProfile, ["is_default"]),
        (AccessToken, ["purpose", "revoked_at"]),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_filters_are_present(admin_client_, record, profile, model, filters):
    response = admin_client_.get(admin_url(model, "changelist"))
    assert response.status_code == 200
    cl = response.context["cl"]
    assert cl.has_filters
    shown = [spec.field_path if hasattr(spec, "field_path") else spec.parameter_name for spec in cl.filter_specs]
    assert shown == filters


def test_filters_narrow_the_list(admin_client_, record):
    url = admin_url(DoseRecord, "changelist")
    in_error = admin_client_.get(url, {"entered_in_error__exact": "1"}).context["cl"]
    assert [d.entered_in_error for d in in_error.result_list] == [True]
    given = admin_client_.get(url, {"outcome__exact": "given"}).context["cl"]
    assert [d.outcome for d in given.result_list] == ["given"]
    plans = admin_client_.get(admin_url(TreatmentPlan, "changelist"), {"status__exact": "ended"}).context["cl"]
    assert plans.result_count == 0


# History.


@pytest.mark.parametrize("index", range(4), ids=["patient", "assessment", "plan", "dose"])
def test_history_pages_load_and_show_the_acting_user(admin_client_, record, staff, index):
    clinician, nurse = staff
    instance = record[index]
    response = admin_client_.get(admin_url(type(instance), "history", instance.pk))
    assert response.status_code == 200
    body = response.content.decode()
    acting = nurse if isinstance(instance, (DoseRecord, TreatmentPlan)) else clinician
    assert acting.username in body, f"{type(instance).__name__} history does not show {acting.username}"
    rows = list(instance.history.all())
    assert rows and all(h.history_user_id is not None for h in rows)


def test_lab_profile_history_shows_the_admin(admin_client_, admin_user, profile):
    response = admin_client_.get(admin_url(LabProfile, "history", profile.pk))
    assert response.status_code == 200
    assert admin_user.username in response.content.decode()


def test_a_patient_cannot_be_changed_in_the_admin(admin_client_, admin_user, record):
    """Demographics are corrected on the patient's page, with a reason, through the service; not here."""
    patient = record[0]
    before = Patient.objects.filter(pk=patient.pk).values().get()
    history_before = patient.history.count()
    page = admin_client_.get(admin_url(Patient, "change", patient.pk))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    response = admin_client_.post(
        admin_url(Patient, "change", patient.pk),
        {
            "hospital_number": patient.hospital_number,
            "family_name": "Okafor-Smith",
            "given_name": patient.given_name,
            "date_of_birth": patient.date_of_birth.isoformat(),
            "_save": "Save",
        },
    )
    assert response.status_code == 403
    assert Patient.objects.filter(pk=patient.pk).values().get() == before
    assert patient.history.count() == history_before


# Clinical records are read-only; nothing clinical can be deleted.


@pytest.mark.parametrize("model", CLINICAL, ids=lambda m: m.__name__)
def test_clinical_records_cannot_be_added_in_the_admin(admin_client_, record, model):
    assert admin_client_.get(admin_url(model, "add")).status_code == 403
    assert admin_client_.post(admin_url(model, "add"), {}).status_code == 403


@pytest.mark.parametrize("index", [1, 2, 3], ids=["assessment", "plan", "dose"])
def test_clinical_records_cannot_be_changed_in_the_admin(admin_client_, record, index):
    instance = record[index]
    model = type(instance)
    url = admin_url(model, "change", instance.pk)
    response = admin_client_.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="_save"' not in body
    assert 'name="_continue"' not in body
    assert 'name="_addanother"' not in body
    assert response.context["has_change_permission"] is False
    before = model.objects.filter(pk=instance.pk).values().get()
    assert admin_client_.post(url, {"status": "ended", "outcome": "held", "_save": "Save"}).status_code == 403
    assert model.objects.filter(pk=instance.pk).values().get() == before


@pytest.mark.parametrize("index", [0, 1, 2, 3], ids=["patient", "assessment", "plan", "dose"])
def test_clinical_records_and_patients_cannot_be_deleted_in_the_admin(admin_client_, record, index):
    instance = record[index]
    model = type(instance)
    url = admin_url(model, "delete", instance.pk)
    assert admin_client_.get(url).status_code == 403
    assert admin_client_.post(url, {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=instance.pk).exists()
    changelist = admin_client_.get(admin_url(model, "changelist"))
    action_form = changelist.context["action_form"]  # None when the changelist offers no action at all
    actions = [name for name, _ in action_form.fields["action"].choices] if action_form else []
    assert "delete_selected" not in actions
    bulk = admin_client_.post(
        admin_url(model, "changelist"), {"action": "delete_selected", "_selected_action": [instance.pk], "post": "yes"}
    )
    assert bulk.status_code in (200, 302)
    assert model.objects.filter(pk=instance.pk).exists()


@pytest.mark.parametrize("model", [Patient, *CLINICAL], ids=lambda m: m.__name__)
def test_model_admins_refuse_delete(rf, admin_user, record, model):
    request = rf.get("/admin/")
    request.user = admin_user
    model_admin = admin.site._registry[model]
    assert model_admin.has_delete_permission(request) is False
    if model in CLINICAL:
        assert model_admin.has_add_permission(request) is False
        assert model_admin.has_change_permission(request) is False


# Users and groups.


def test_admin_group_manages_users_and_reads_groups(admin_client_, django_user_model):
    from django.contrib.auth.models import User

    nurse = make_user(django_user_model, "nurse_new", NURSE)
    assert admin_client_.get(admin_url(User, "changelist")).status_code == 200
    assert admin_client_.get(admin_url(User, "change", nurse.pk)).status_code == 200
    assert admin_client_.get(admin_url(User, "add")).status_code == 200
    assert admin_client_.get(admin_url(Group, "changelist")).status_code == 200
    group = Group.objects.get(name=NURSE)
    change = admin_client_.get(admin_url(Group, "change", group.pk))
    assert change.status_code == 200
    assert 'name="_save"' not in change.content.decode()  # a role's permissions are recommender/roles.py's
    created = admin_client_.post(
        admin_url(User, "add"),
        {
            "username": "nurse_added",
            "password1": "a-long-enough-passphrase-42",
            "password2": "a-long-enough-passphrase-42",
            "usable_password": "true",
        },
    )
    assert created.status_code == 302
    assert django_user_model.objects.filter(username="nurse_added").exists()


# The whole record as JSON: admin action and management command.


def _export_via_action(client, patient) -> dict:
    response = client.post(
        admin_url(Patient, "changelist"), {"action": "export_record", "_selected_action": [str(patient.pk)]}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "attachment" in response["Content-Disposition"]
    return json.loads(response.content)


def test_export_action_returns_the_whole_record(admin_client_, record, staff):
    patient, assessment, plan, dose = record
    clinician, nurse = staff
    data = _export_via_action(admin_client_, patient)
    assert data["patient"]["hospital_number"] == patient.hospital_number
    assert data["patient"]["family_name"] == "Okafor"
    assert [h["by"] for h in data["patient"]["history"]] == [clinician.username]
    assert [a["id"] for a in data["assessments"]] == [str(assessment.pk)]
    assert data["assessments"][0]["decision"] == assessment.decision
    assert data["assessments"][0]["thresholds"] == assessment.thresholds
    assert data["assessments"][0]["history"][0]["by"] == clinician.username
    [exported_plan] = data["plans"]
    assert exported_plan["id"] == str(plan.pk)
    assert exported_plan["assessment"] == str(assessment.pk)
    assert {h["by"] for h in exported_plan["history"]} == {clinician.username, nurse.username}
    doses = exported_plan["doses"]
    assert len(doses) == 2 == data["dose_count"]
    assert doses[0]["id"] == str(dose.pk)
    assert doses[0]["outcome"] == "given" and doses[0]["batch"] == "BATCH-42"
    assert doses[1]["entered_in_error"] is True
    assert doses[1]["error_reason"] == "Patient did not decline: wrong record"
    assert [h["type"] for h in doses[1]["history"]] == ["created", "changed"]
    assert all(h["by"] == nurse.username for d in doses for h in d["history"])
    assert exported_plan["visits"], "an active plan has follow-up visits"
    assert all({"on", "kind"} <= set(v) for v in exported_plan["visits"])


def test_export_action_of_several_patients_is_a_list(admin_client_, two_patients):
    (first, *_), (second, *_) = two_patients
    response = admin_client_.post(
        admin_url(Patient, "changelist"),
        {"action": "export_record", "_selected_action": [str(first.pk), str(second.pk)]},
    )
    data = json.loads(response.content)
    assert isinstance(data, list)
    assert {r["patient"]["hospital_number"] for r in data} == {"A0000001", "B0000002"}


def test_export_command_prints_the_same_json_as_the_action(admin_client_, record):
    patient = record[0]
    from_action = _export_via_action(admin_client_, patient)
    out = StringIO()
    call_command("export_patient", patient.hospital_number.lower(), stdout=out)
    from_command = json.loads(out.getvalue())
    from_action.pop("exported_at")
    from_command.pop("exported_at")
    assert from_command == from_action


def test_export_command_fails_clearly_for_an_unknown_number(db):
    out = StringIO()
    with pytest.raises(CommandError, match="No patient with hospital number 'Z9999999'"):
        call_command("export_patient", "Z9999999", stdout=out)
    assert out.getvalue() == ""


# Lab profiles: one default at a time.


def _make_default_via_admin(client, *profiles):
    return client.post(
        admin_url(LabProfile, "changelist"),
        {"action": "make_default", "_selected_action": [str(p.pk) for p in profiles]},
        follow=True,
    )


def test_make_default_action_leaves_exactly_one_default(admin_client_, admin_user):
    profiles = []
    for name, below in [("Alpha", 170), ("Beta", 200), ("Gamma", 190)]:
        p = LabProfile(name=name, total_b12_deficient_below=below)
        p._history_user = admin_user
        p.save()
        profiles.append(p)
    alpha, beta, gamma = profiles
    clinic_services.lab_profile_make_default(profile=alpha, by=admin_user)

    response = _make_default_via_admin(admin_client_, beta)
    assert response.status_code == 200
    assert list(LabProfile.objects.filter(is_default=True)) == [beta]
    assert "Beta is now the default lab profile." in [str(m) for m in response.context["messages"]]
    assert alpha.history.latest().history_user == admin_user
    assert beta.history.latest().history_user == admin_user

    response = _make_default_via_admin(admin_client_, alpha, gamma)
    assert "Choose exactly one profile to make the default." in [str(m) for m in response.context["messages"]]
    assert list(LabProfile.objects.filter(is_default=True)) == [beta]

    _make_default_via_admin(admin_client_, beta)
    assert list(LabProfile.objects.filter(is_default=True)) == [beta]


def test_is_default_cannot_be_set_on_the_change_form(admin_client_, admin_user, profile):
    other = LabProfile(name="South Lab")
    other._history_user = admin_user
    other.save()
    clinic_services.lab_profile_make_default(profile=other, by=admin_user)
    response = admin_client_.get(admin_url(LabProfile, "change", profile.pk))
    assert "is_default" not in response.context["adminform"].form.fields


@pytest.mark.django_db
def test_lab_profiles_list_values_with_units_and_no_spurious_decimals(admin_client_):
    """Issue 18: "150 pg/mL", not "150.00"."""
    LabProfile.objects.create(name="Northside lab", total_b12_deficient_below=Decimal("180.00"))
    page = admin_client_.get("/admin/recommender/labprofile/").content.decode()
    assert "180 pg/mL" in page
    assert "180.00" not in page


def test_only_admins_change_the_recall_settings_and_the_list_follows(admin_client_, admin_user, nurse):
    """Issue 16 item 4: the recall numbers are an admin's to change (a nurse is not let into the admin), kept with
    their history, and the recall list says the number in force."""
    from django.test import Client

    from recommender.models import RecallSettings

    nurse_client = Client()
    nurse_client.force_login(nurse)
    add = admin_client_.post(admin_url(RecallSettings, "add"), {"overdue_days": "21", "dnas_in_a_row": "3"})
    assert add.status_code == 302
    settings = RecallSettings.current()
    assert (settings.pk, settings.overdue_days, settings.dnas_in_a_row) == (1, 21, 3)
    assert settings.history.get().history_user == admin_user
    assert admin_client_.get(admin_url(RecallSettings, "add")).status_code == 403  # one row only
    assert nurse_client.get(admin_url(RecallSettings, "change", 1)).status_code == 302  # to the admin's login
    assert "more than 21 days" in nurse_client.get(reverse("recall-list")).content.decode()
