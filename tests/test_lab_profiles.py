"""Lab threshold profiles: an admin-defined profile changes the decision on the form and in the API, an unknown
profile is refused, the default profile is pre-selected and applies to the API, and editing a profile later never
rewrites an assessment already made."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from recommender.clinic import services as clinic_services
from recommender.clinic.forms import AssessmentForm
from recommender.clinic.presenters import decision_fingerprint
from recommender.models import Assessment, LabProfile

API = "/api/v1/recommendation"
B12_190 = {"b12": {"value": 190, "unit": "pg/mL"}}  # indeterminate on the seed bands (180–350), deficient below 200


def logged_in(user) -> Client:
    """A client of its own (the conftest clients share one), logged in as ``user``."""
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def north(admin_user) -> LabProfile:
    """An admin-defined profile: total B12 deficient below 200 pg/mL."""
    profile = LabProfile(name="North Lab", total_b12_deficient_below=Decimal(200))
    profile.full_clean()
    profile._history_user = admin_user
    profile.save()
    return profile


@pytest.fixture
def patient(clinician):
    return clinic_services.patient_create(
        hospital_number="L0000001", family_name="Bands", given_name="Lab", date_of_birth=date(1966, 6, 6), by=clinician
    )


def form_data(profile: LabProfile | None, **extra) -> dict:
    data = {
        "sample_date": timezone.localdate().isoformat(),
        "lab_profile": str(profile.pk) if profile else "",
        "b12_value": "190",
        "b12_unit": "pg/mL",
        "active_b12_unit": "pmol/L",
        "homocysteine_unit": "umol/L",
        **extra,
    }
    if data.get("action") == "save":  # saved after the decision was shown, as the page carries it
        form = AssessmentForm(data)
        data["decision_fingerprint"] = decision_fingerprint(form.recommendation.as_dict()) if form.is_valid() else ""
    return data


def selected_profiles(response) -> list[str]:
    """The values of the selected options of the page's lab profile select."""
    [select] = re.findall(r'<select name="lab_profile".*?</select>', response.content.decode(), flags=re.S)
    return re.findall(r'<option value="([^"]*)"[^>]*\bselected\b', select)


def preview(client, patient, profile):
    """The decision the live preview panel shows for B12 190 pg/mL with ``profile``."""
    url = reverse("assessment-preview", kwargs={"patient_id": patient.pk})
    return client.post(url, form_data(profile)).context["recommendation"]


def api_post(client, body: dict):
    return client.post(API, data=json.dumps(body), content_type="application/json")


# The assessment form.


def test_picking_the_profile_on_the_form_changes_the_preview(clinician, patient, north):
    client = logged_in(clinician)
    seed = preview(client, patient, None)
    with_profile = preview(client, patient, north)
    assert (seed.status, seed.im_recommended) == ("indeterminate", False)
    assert (with_profile.status, with_profile.im_recommended) == ("deficient", True)


def test_saving_with_the_profile_stores_its_decision_and_thresholds(clinician, patient, north):
    client = logged_in(clinician)
    response = client.post(
        reverse("assessment-create", kwargs={"patient_id": patient.pk}), form_data(north, action="save")
    )
    assessment = Assessment.objects.get(patient=patient)
    assert response.status_code == 302
    assert response["Location"] == reverse("assessment-detail", kwargs={"assessment_id": assessment.pk})
    assert assessment.lab_profile == north
    assert assessment.status == "deficient"
    assert assessment.im_recommended is True
    assert assessment.thresholds["profile"] == "North Lab"
    assert assessment.thresholds["total_b12_pg_per_ml"]["deficient_below"] == 200
    assert assessment.decision["thresholds"] == assessment.thresholds


def test_saving_without_a_profile_uses_the_seed_bands(clinician, patient, north):
    client = logged_in(clinician)
    client.post(reverse("assessment-create", kwargs={"patient_id": patient.pk}), form_data(None, action="save"))
    assessment = Assessment.objects.get(patient=patient)
    assert assessment.lab_profile is None
    assert assessment.status == "indeterminate"
    assert assessment.thresholds["total_b12_pg_per_ml"]["deficient_below"] == 180


def test_an_unknown_profile_on_the_form_is_a_field_error(clinician, patient, north):
    client = logged_in(clinician)
    response = client.post(
        reverse("assessment-create", kwargs={"patient_id": patient.pk}),
        form_data(None, lab_profile=str(uuid.uuid4()), action="save"),
    )
    assert response.status_code == 200
    assert "lab_profile" in response.context["form"].errors
    assert not Assessment.objects.exists()


def test_the_default_profile_is_preselected_on_the_form(clinician, admin_user, patient, north):
    LabProfile(name="Other Lab").save()
    clinic_services.lab_profile_make_default(profile=north, by=admin_user)
    response = logged_in(clinician).get(reverse("assessment-create", kwargs={"patient_id": patient.pk}))
    field = response.context["form"]["lab_profile"]
    assert str(field.value()) == str(north.pk)
    assert selected_profiles(response) == [str(north.pk)]


def test_with_no_default_the_seed_bands_are_preselected(clinician, patient, north):
    response = logged_in(clinician).get(reverse("assessment-create", kwargs={"patient_id": patient.pk}))
    assert response.context["form"]["lab_profile"].value() in (None, "")
    assert selected_profiles(response) == [""]


# The JSON API.


@pytest.mark.parametrize("by", ["name", "id"])
def test_api_profile_by_name_or_id_changes_the_decision(clinician, north, by):
    ref = north.name if by == "name" else str(north.pk)
    response = api_post(logged_in(clinician), {**B12_190, "profile": ref})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "deficient"
    assert body["im_recommended"] is True
    assert body["thresholds"]["profile"] == "North Lab"
    assert body["thresholds"]["total_b12_pg_per_ml"]["deficient_below"] == 200


def test_api_without_a_profile_or_default_uses_the_seed_bands(clinician, north):
    body = api_post(logged_in(clinician), B12_190).json()
    assert body["status"] == "indeterminate"
    assert body["thresholds"]["total_b12_pg_per_ml"]["deficient_below"] == 180


@pytest.mark.parametrize("ref", ["Nowhere Lab", "", "00000000-0000-4000-8000-000000000000", 42])
def test_api_unknown_profile_is_400_naming_profile(clinician, north, ref):
    response = api_post(logged_in(clinician), {**B12_190, "profile": ref})
    assert response.status_code == 400
    body = response.json()
    assert "profile" in body["errors"]
    assert "status" not in body


def test_api_unknown_profile_is_reported_with_the_other_errors(clinician, north):
    response = api_post(logged_in(clinician), {"b12": {"value": -1, "unit": "pg/mL"}, "profile": "Nowhere Lab"})
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "profile" in errors
    assert "b12" in errors


def test_api_applies_the_default_profile_when_none_is_given(clinician, admin_user, north):
    clinic_services.lab_profile_make_default(profile=north, by=admin_user)
    body = api_post(logged_in(clinician), B12_190).json()
    assert body["status"] == "deficient"
    assert body["thresholds"]["profile"] == "North Lab"


def test_api_named_profile_wins_over_the_default(clinician, admin_user, north):
    strict = LabProfile(name="Strict Lab", total_b12_deficient_below=Decimal(150))
    strict.save()
    clinic_services.lab_profile_make_default(profile=north, by=admin_user)
    body = api_post(logged_in(clinician), {**B12_190, "profile": "Strict Lab"}).json()
    assert body["thresholds"]["profile"] == "Strict Lab"
    assert body["status"] == "indeterminate"


def test_form_and_api_agree_for_the_same_profile(clinician, patient, north):
    client = logged_in(clinician)
    shown = preview(client, patient, north).as_dict()
    api = api_post(client, {**B12_190, "profile": north.name}).json()
    assert shown["status"] == api["status"] == "deficient"
    assert shown["thresholds"] == api["thresholds"]


# Editing a profile never rewrites the past.


def _stored(assessment_pk) -> dict:
    return Assessment.objects.filter(pk=assessment_pk).values().get()


def test_changing_a_profile_leaves_old_assessments_untouched(clinician, admin_user, patient, north):
    clinician_browser = logged_in(clinician)
    clinician_browser.post(
        reverse("assessment-create", kwargs={"patient_id": patient.pk}), form_data(north, action="save")
    )
    old = Assessment.objects.get(patient=patient)
    before = _stored(old.pk)
    history_before = list(old.history.values_list("history_id", flat=True))
    assert before["status"] == "deficient"

    # The admin lowers the band through the admin's change form.
    admin_browser = logged_in(admin_user)
    response = admin_browser.post(
        reverse("admin:recommender_labprofile_change", args=[north.pk]),
        {
            "name": "North Lab",
            "total_b12_deficient_below": "150",
            "total_b12_not_deficient_above": "350",
            "active_b12_deficient_below": "25",
            "active_b12_not_deficient_above": "70",
            "mma_upper_limit_umol_l": "0.40",
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    north.refresh_from_db()
    assert north.total_b12_deficient_below == 150
    assert north.history.latest().history_user == admin_user

    after = _stored(old.pk)
    assert after == before
    assert after["decision"]["status"] == "deficient"
    assert after["thresholds"]["total_b12_pg_per_ml"]["deficient_below"] == 200
    assert list(old.history.values_list("history_id", flat=True)) == history_before

    # The assessment page shows the decision as it was made.
    page = clinician_browser.get(reverse("assessment-detail", kwargs={"assessment_id": old.pk}))
    assert page.context["decision"] == before["decision"]

    # A new assessment uses the new band: 190 is no longer below it.
    assert preview(clinician_browser, patient, north).status == "indeterminate"
    assert api_post(clinician_browser, {**B12_190, "profile": "North Lab"}).json()["status"] == "indeterminate"


def test_changing_a_profile_through_the_model_leaves_assessments_made_by_the_service_untouched(
    clinician, admin_user, patient, north
):
    assessment = clinic_services.assessment_create(
        patient=patient, sample_date=timezone.localdate(), payload=dict(B12_190), lab_profile=north, by=clinician
    )
    before = _stored(assessment.pk)
    north.total_b12_deficient_below = Decimal(100)
    north.total_b12_not_deficient_above = Decimal(150)
    north._history_user = admin_user
    north.save()
    clinic_services.lab_profile_make_default(profile=north, by=admin_user)
    assert _stored(assessment.pk) == before
    reloaded = Assessment.objects.get(pk=assessment.pk)
    assert reloaded.status == "deficient"
    assert reloaded.thresholds["total_b12_pg_per_ml"] == {"deficient_below": 200.0, "not_deficient_above": 350.0}
