"""The assessment page made cheap (issue 14, item 8): the crispy form is rendered once while nothing in it changes,
the patient comes with their active plan, the lab profiles in one read; what the page shows stays the same and any
change shows at once."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import caches
from django.template import Context, Template
from django.urls import reverse

from recommender.clinic import services
from recommender.clinic.forms import AssessmentForm
from recommender.models import LabProfile
from recommender.web import layouts

from .factories import assessment_form, make_patient, make_plan

pytestmark = pytest.mark.django_db

SHARED = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "page-test"}}


@pytest.fixture(autouse=True)
def fresh_forms():
    layouts._forms.clear()
    yield
    layouts._forms.clear()


def _form_html(page: bytes) -> str:
    """The crispy-rendered inputs of the page (from the first fieldset to the preview button)."""
    html = page.decode()
    return html[html.index("<fieldset") : html.index('value="preview"')]


def _selected_profile(page: bytes) -> str:
    found = re.search(r'<option value="([^"]+)" selected>', page.decode())
    return found.group(1) if found else ""


def test_the_form_is_the_html_crispy_renders(clinician):
    LabProfile.objects.create(name="Lab A", is_default=True)
    context = {"panel": None, "strip": ""}
    crispy = Template("{% load crispy_forms_tags %}{% crispy form %}")
    plain = crispy.render(Context({**context, "form": AssessmentForm()}))
    once = Template("{% load crispy_once %}{% crispy_once form %}")
    first = once.render(Context({**context, "form": AssessmentForm()}))
    again = once.render(Context({**context, "form": AssessmentForm()}))
    assert first == plain == again
    assert len(layouts._forms) == 1


def test_a_new_lab_profile_or_a_new_default_shows_at_once(clinician_client, clinician):
    url = reverse("assessment-create", args=[make_patient(by=clinician).pk])
    first = LabProfile.objects.create(name="Lab A", is_default=True)
    page = clinician_client.get(url).content
    assert _selected_profile(page) == str(first.pk)
    assert "Lab Z assay" not in page.decode()
    second = LabProfile.objects.create(name="Lab Z assay")
    assert "Lab Z assay" in clinician_client.get(url).content.decode()
    services.lab_profile_make_default(profile=second, by=clinician)
    assert _selected_profile(clinician_client.get(url).content) == str(second.pk)


def test_a_new_lab_profile_shows_at_once_with_the_shared_cache(settings, clinician_client, clinician):
    settings.CACHES = SHARED
    caches["default"].clear()
    try:
        url = reverse("assessment-create", args=[make_patient(by=clinician).pk])
        clinician_client.get(url)
        assert "Lab Z assay" not in clinician_client.get(url).content.decode()
        LabProfile.objects.create(name="Lab Z assay")
        assert "Lab Z assay" in clinician_client.get(url).content.decode()
    finally:
        caches["default"].clear()


def test_the_sample_date_is_today_the_next_day_too(clinician_client, clinician):
    url = reverse("assessment-create", args=[make_patient(by=clinician).pk])
    london = ZoneInfo("Europe/London")
    evening = datetime(2027, 3, 9, 23, 0, tzinfo=london)
    for moment, shown in ((evening, "09/03/2027"), (evening + timedelta(hours=2), "10/03/2027")):
        with time_machine.travel(moment, tick=False):
            clinician_client.force_login(clinician)
            assert f'value="{shown}"' in _form_html(clinician_client.get(url).content)


def test_results_in_a_link_or_typed_are_shown_and_never_kept(clinician_client, clinician):
    url = reverse("assessment-create", args=[make_patient(by=clinician).pk])
    clinician_client.get(url)
    kept = dict(layouts._forms)
    assert 'value="123.4"' in clinician_client.get(url, {"b12_value": "123.4"}).content.decode()
    typed = clinician_client.post(url, assessment_form(action="preview", b12_value="987.6")).content.decode()
    assert 'value="987.6"' in typed
    assert layouts._forms == kept
    assert "123.4" not in clinician_client.get(url).content.decode()


def test_the_active_plan_is_read_with_the_patient(clinician_client, clinician):
    plan = make_plan(clinician)
    page = clinician_client.get(reverse("assessment-create", args=[plan.patient.pk])).content.decode()
    assert f"This patient has an active plan, started {plan.start_date:%d/%m/%Y}" in page
    other = clinician_client.get(reverse("assessment-create", args=[make_patient(by=clinician).pk])).content.decode()
    assert "This patient has an active plan" not in other


def test_an_unknown_patient_is_not_found(clinician_client):
    assert clinician_client.get("/patients/00000000-0000-0000-0000-000000000000/assess/").status_code == 404


def test_the_page_reads_little_and_the_same_for_any_number_of_profiles(
    settings, clinician_client, clinician, django_assert_max_num_queries
):
    url = reverse("assessment-create", args=[make_plan(clinician).patient.pk])
    clinician_client.get(url)
    # The session, the user, the permissions, the patient with the active plan, the lab profiles.
    with django_assert_max_num_queries(5):
        clinician_client.get(url)
    for name in ("Lab A", "Lab B", "Lab C"):
        LabProfile.objects.create(name=name)
    with django_assert_max_num_queries(5):
        clinician_client.get(url)
    settings.CACHES = SHARED
    caches["default"].clear()
    try:
        clinician_client.get(url)
        with django_assert_max_num_queries(3):  # permissions and profiles from the shared cache
            clinician_client.get(url)
    finally:
        caches["default"].clear()
