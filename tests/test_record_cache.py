"""A plan's page and a patient's page come from the nodes' shared cache (here Django's memory cache stands in for
Redis) until something they show changes: each write below is on the very next page, and a write to one record
leaves the other records' entries alone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from recommender.clinic import services as clinic_services
from recommender.models import ClinicClosure
from recommender.roles import CLINICIAN
from tests import factories
from tests.conftest import make_user


@pytest.fixture
def clinic(settings, shared, clinician, nurse):
    settings.B12_CLINIC_DAYS = list(range(7))
    today = timezone.localdate()
    plan = factories.make_plan(clinician, start=today - timedelta(days=6), family_name="Cachedplan")
    other = factories.make_plan(clinician, start=today - timedelta(days=6), family_name="Otherplan")
    return plan, other


def view(client, url) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return response.content.decode(), len(queries)


def test_a_plan_page_is_read_once_then_every_change_to_what_it_shows_is_on_the_next_view(
    clinic, client, clinician, nurse
):
    plan, other = clinic
    url, other_url = reverse("plan-detail", args=[plan.pk]), reverse("plan-detail", args=[other.pk])
    client.force_login(nurse)
    first, read = view(client, url)
    again, read_again = view(client, url)
    assert again.count("CACHEDPLAN") == first.count("CACHEDPLAN") > 0
    assert read_again <= read - 3, "the plan, its doses and its schedule are not read again"
    view(client, other_url)

    factories.give(plan, nurse)  # a dose: on the plan's page at once
    shown, _ = view(client, url)
    assert "Mark entered in error" in shown and "Nurse_Patel" in shown
    assert view(client, other_url)[1] == read_again, "another plan's page is still the cached one"

    clinic_services.patient_update(
        patient=plan.patient,
        hospital_number=plan.patient.hospital_number,
        family_name="Renamedplan",
        given_name=plan.patient.given_name,
        date_of_birth=plan.patient.date_of_birth,
        reason="Spelling.",
        by=clinician,
    )
    assert "RENAMEDPLAN" in view(client, url)[0], "the patient renamed"

    nurse.first_name = "Priya"
    nurse.save()
    assert "Priya" in view(client, url)[0], "who recorded the dose, renamed: every record's pages are retired"

    ClinicClosure.objects.create(date=timezone.localdate() + timedelta(days=1), reason="Staff training")
    assert view(client, url)[1] >= read_again + 3, "a closure moves the schedule: read again"


def test_a_user_without_the_nurses_permission_never_gets_the_nurses_actions_from_the_cache(
    clinic, client, nurse, django_user_model
):
    plan, _ = clinic
    url = reverse("plan-detail", args=[plan.pk])
    factories.give(plan, nurse)
    client.force_login(nurse)
    as_nurse, _ = view(client, url)
    reader = make_user(django_user_model, "reader", None)
    reader.groups.add(Group.objects.get(name=CLINICIAN))
    client.force_login(reader)
    as_clinician, _ = view(client, url)
    assert "Mark entered in error" in as_nurse
    assert "Mark entered in error" not in as_clinician, "the dose rows' actions are the nurse's only"
