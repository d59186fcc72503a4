"""Accounts in the admin (issue 13, items 2 and 3): the admin group manages users within the three roles and grants
nothing more; people named in the clinical record are deactivated, never deleted; "sign out everywhere"."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import ProtectedError
from django.test import Client
from django.urls import reverse

from recommender.clinic import services as clinic_services
from recommender.injections import services as injections_services
from recommender.models import DoseRecord, Patient
from recommender.roles import ADMIN, CLINICIAN, NURSE
from tests.conftest import make_user
from tests.factories import give, make_patient, make_plan
from tests.test_admin import admin_url
from tests.test_admin_integrity import form_data


@pytest.fixture
def superuser(db, django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.org", "a-long-enough-passphrase-42")


@pytest.fixture
def super_client(client, superuser):
    client.force_login(superuser)
    return client


def _user_url(user, view="change"):
    return admin_url(type(user), view, user.pk)


def _post_own_form(client, user, **changes):
    page = client.get(_user_url(user))
    assert page.status_code == 200
    data = {**form_data(page), **changes, "_save": "Save"}
    return client.post(_user_url(user), data)


# Item 2: privileges.


def test_admin_group_user_cannot_make_themselves_superuser_or_grant_privileges(admin_client_, admin_user):
    other = Group.objects.create(name="auditors")
    perm = Permission.objects.get(codename="delete_patient")
    response = _post_own_form(
        admin_client_,
        admin_user,
        is_superuser="on",
        is_staff="on",
        user_permissions=[str(perm.pk)],
        groups=[str(Group.objects.get(name=ADMIN).pk), str(other.pk)],
    )
    admin_user.refresh_from_db()
    assert not admin_user.is_superuser
    assert not admin_user.user_permissions.exists()
    assert not admin_user.groups.filter(name="auditors").exists()
    assert response.status_code == 200  # the form refuses the group beyond the roles, naming the field
    assert "groups" in response.context["adminform"].form.errors


def test_admin_group_user_cannot_grant_staff_to_a_nurse(admin_client_, django_user_model):
    nurse = make_user(django_user_model, "nurse_new", NURSE)
    response = _post_own_form(admin_client_, nurse, is_staff="on", is_superuser="on")
    assert response.status_code == 302
    nurse.refresh_from_db()
    assert not nurse.is_staff
    assert not nurse.is_superuser


def test_admin_group_user_manages_users_within_the_roles(admin_client_, django_user_model):
    nurse = make_user(django_user_model, "nurse_moving", NURSE)
    clinician_group = Group.objects.get(name=CLINICIAN)
    response = _post_own_form(admin_client_, nurse, groups=[str(clinician_group.pk)], first_name="Asha")
    assert response.status_code == 302
    nurse.refresh_from_db()
    assert list(nurse.groups.values_list("name", flat=True)) == [CLINICIAN]
    assert nurse.first_name == "Asha"
    page = admin_client_.get(_user_url(nurse))
    offered = {group.name for group in page.context["adminform"].form.fields["groups"].queryset}
    assert offered == {ADMIN, CLINICIAN, NURSE}


def test_admin_group_user_cannot_change_a_superuser_or_their_password(admin_client_, superuser):
    assert admin_client_.get(_user_url(superuser)).status_code == 200  # may look
    response = admin_client_.post(_user_url(superuser), {"username": "taken_over", "is_active": "", "_save": "Save"})
    assert response.status_code == 403
    password_url = reverse("admin:auth_user_password_change", args=[superuser.pk])
    response = admin_client_.post(
        password_url, {"password1": "a-long-enough-passphrase-99", "password2": "a-long-enough-passphrase-99"}
    )
    assert response.status_code == 403
    superuser.refresh_from_db()
    assert superuser.username == "root"
    assert superuser.is_active
    assert superuser.check_password("a-long-enough-passphrase-42")


def test_admin_group_user_cannot_change_an_account_with_privileges_beyond_the_roles(admin_client_, django_user_model):
    special = make_user(django_user_model, "special", NURSE)
    special.user_permissions.add(Permission.objects.get(codename="delete_patient"))
    assert admin_client_.post(_user_url(special), {"username": "x", "_save": "Save"}).status_code == 403
    assert django_user_model.objects.filter(username="special").exists()


def test_admin_group_user_cannot_change_what_a_role_may_do(admin_client_):
    group = Group.objects.get(name=NURSE)
    before = set(group.permissions.values_list("pk", flat=True))
    every = [str(pk) for pk in Permission.objects.values_list("pk", flat=True)]
    response = admin_client_.post(admin_url(Group, "change", group.pk), {"name": NURSE, "permissions": every})
    assert response.status_code == 403
    assert set(group.permissions.values_list("pk", flat=True)) == before
    assert admin_client_.post(admin_url(Group, "add"), {"name": "power", "permissions": every}).status_code == 403
    assert not Group.objects.filter(name="power").exists()


def test_superuser_grants_what_admins_cannot(super_client, django_user_model):
    nurse = make_user(django_user_model, "nurse_promoted", NURSE)
    response = _post_own_form(super_client, nurse, is_staff="on", is_superuser="on")
    assert response.status_code == 302
    nurse.refresh_from_db()
    assert nurse.is_staff and nurse.is_superuser


# Item 3: people outlive their accounts.


@pytest.fixture
def nurse_who_corrected(db, django_user_model, clinician):
    """A nurse whose only trace is having marked someone else's dose entered in error."""
    nurse = make_user(django_user_model, "nurse_corrector", NURSE)
    other = make_user(django_user_model, "nurse_recorder", NURSE)
    plan = make_plan(clinician)
    dose = give(plan, other)
    injections_services.dose_mark_entered_in_error(dose=dose, reason="Recorded against the wrong patient.", by=nurse)
    return nurse, dose


def test_deleting_a_user_named_in_the_history_is_refused_with_what_ties_them(super_client, nurse_who_corrected):
    nurse, dose = nurse_who_corrected
    page = super_client.get(_user_url(nurse, "delete"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "nurse_corrector is named in the clinical record" in body
    assert "dose record history" in body
    assert "deactivate the account instead" in body
    response = super_client.post(_user_url(nurse, "delete"), {"post": "yes"})
    assert response.status_code in (200, 403)
    assert type(nurse).objects.filter(pk=nurse.pk).exists()
    latest = dose.history.latest()
    assert latest.history_user_id == nurse.pk
    assert latest.entered_in_error


def test_bulk_delete_of_users_named_in_the_record_is_refused(super_client, nurse_who_corrected, clinician):
    nurse, dose = nurse_who_corrected
    super_client.post(
        admin_url(type(nurse), "changelist"),
        {"action": "delete_selected", "_selected_action": [str(nurse.pk), str(clinician.pk)], "post": "yes"},
    )
    assert type(nurse).objects.filter(pk__in=[nurse.pk, clinician.pk]).count() == 2
    assert dose.history.filter(history_user=nurse).exists()


def test_deleting_such_a_user_anywhere_else_is_refused_too(nurse_who_corrected):
    nurse, dose = nurse_who_corrected
    # (each inside its own atomic block, as a request or a shell command runs it)
    with pytest.raises(ProtectedError, match="nurse_corrector cannot be deleted"), transaction.atomic():
        nurse.delete()
    with pytest.raises(ProtectedError), transaction.atomic():
        type(nurse).objects.filter(pk=nurse.pk).delete()
    assert dose.history.filter(history_user=nurse).count() >= 1


def test_a_clinician_who_only_changed_an_interval_is_kept(clinician, django_user_model):
    changer = make_user(django_user_model, "dr_changer", CLINICIAN)
    plan = make_plan(clinician)
    clinic_services.plan_change_interval(plan=plan, every=3, unit="months", reason="Symptoms settled.", by=changer)
    with pytest.raises(ProtectedError, match="treatment plan history"), transaction.atomic():
        changer.delete()
    assert plan.history.filter(history_user=changer).exists()


def test_a_user_with_no_part_in_the_record_can_be_deleted(super_client, django_user_model):
    spare = make_user(django_user_model, "spare", NURSE)
    response = super_client.post(_user_url(spare, "delete"), {"post": "yes"})
    assert response.status_code == 302
    assert not django_user_model.objects.filter(pk=spare.pk).exists()


def test_deactivate_action_keeps_the_person_and_ends_their_sessions(admin_client_, nurse_who_corrected):
    nurse, _ = nurse_who_corrected
    theirs = Client()
    theirs.force_login(nurse)
    assert theirs.get(reverse("worklist")).status_code == 200
    response = admin_client_.post(
        admin_url(type(nurse), "changelist"), {"action": "deactivate_users", "_selected_action": [str(nurse.pk)]}
    )
    assert response.status_code == 302
    nurse.refresh_from_db()
    assert not nurse.is_active
    assert theirs.get(reverse("worklist")).status_code == 302  # back to the login page
    assert DoseRecord.history.filter(history_user=nurse).exists()


def test_sign_out_everywhere_ends_every_session_of_that_user_only(admin_client_, nurse, clinician):
    phone, desk, colleague = Client(), Client(), Client()
    phone.force_login(nurse)
    desk.force_login(nurse)
    colleague.force_login(clinician)
    response = admin_client_.post(
        admin_url(type(nurse), "changelist"), {"action": "sign_out_everywhere", "_selected_action": [str(nurse.pk)]}
    )
    assert response.status_code == 302
    assert phone.get(reverse("worklist")).status_code == 302
    assert desk.get(reverse("worklist")).status_code == 302
    assert colleague.get(reverse("worklist")).status_code == 200
    nurse.refresh_from_db()
    assert nurse.is_active


def test_admin_group_cannot_deactivate_a_superuser(admin_client_, superuser):
    admin_client_.post(
        admin_url(type(superuser), "changelist"),
        {"action": "deactivate_users", "_selected_action": [str(superuser.pk)]},
    )
    superuser.refresh_from_db()
    assert superuser.is_active


def test_patients_keep_their_creator(clinician):
    patient = make_patient(by=clinician)
    with pytest.raises(ProtectedError), transaction.atomic():
        clinician.delete()
    assert Patient.objects.get(pk=patient.pk).created_by == clinician
