"""Error pages: styled, in plain words, linking home; JSON under /api/; control characters kept from the database."""

from __future__ import annotations

import json
import uuid

import pytest
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from recommender.clinic import selectors as clinic_selectors
from recommender.models import LabProfile, Patient
from recommender.web import errors
from tests.factories import make_plan

HOME_LINK = 'href="/"'


def assert_error_page(response, status: int, template: str) -> str:
    assert response.status_code == status
    assert template in [t.name for t in response.templates]
    body = response.content.decode()
    assert "base.html" in [t.name for t in response.templates]
    assert HOME_LINK in body and "Go to the home page" in body
    assert 'class="navbar-brand"' in body  # the site's own header, not a bare page
    return body


# 404


def test_unknown_page_is_a_styled_404(clinician_client):
    body = assert_error_page(clinician_client.get("/no-such-page/"), 404, "404.html")
    assert "There is no page at this address" in body
    assert "Sign out" in body  # the navigation of a signed-in user


def test_unknown_record_is_a_styled_404(clinician_client):
    response = clinician_client.get(reverse("patient-detail", args=[uuid.uuid4()]))
    assert_error_page(response, 404, "404.html")


def test_api_404_is_json(clinician_client):
    response = clinician_client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert list(response.json()["errors"]) == ["path"]


# 403


def test_forbidden_action_is_a_styled_403_naming_the_user(nurse_client, nurse):
    body = assert_error_page(nurse_client.get(reverse("patient-create")), 403, "403.html")
    assert "You do not have permission to do that" in body
    assert nurse.username in body


def test_api_403_is_json():
    request = RequestFactory().get("/api/v1/recommendation")
    response = errors.permission_denied(request, PermissionError())
    assert response.status_code == 403
    assert "permission" in json.loads(response.content)["errors"]


def test_csrf_failure_is_a_styled_403(clinician):
    client = Client(enforce_csrf_checks=True)
    client.force_login(clinician)
    response = client.post(reverse("patient-create"), {"hospital_number": "X1"})
    body = assert_error_page(response, 403, "403.html")
    assert "security token" in body
    assert not Patient.objects.exists()


# 405


@pytest.mark.django_db
def test_get_on_a_post_only_url_is_a_styled_405_keeping_allow(clinician, client):
    plan = make_plan(by=clinician)
    client.force_login(clinician)
    for name in ("plan-end", "plan-end-loading", "plan-stable", "plan-interval"):
        response = client.get(reverse(name, args=[plan.pk]))
        body = assert_error_page(response, 405, "405.html")
        assert response["Allow"] == "POST"
        assert "cannot be opened like that" in body
        assert "POST" in body
    assert "Content-Security-Policy" in response  # the page went through the CSP like any other


def test_api_405_is_json_with_allow(clinician_client):
    for method in ("get", "put", "delete"):
        response = getattr(clinician_client, method)(reverse("api-recommendation"))
        assert response.status_code == 405
        assert response["Allow"] == "POST"
        assert "method" in response.json()["errors"]


# 500


@pytest.fixture
def failing_client(clinician, monkeypatch):
    client = Client(raise_request_exception=False)
    client.force_login(clinician)

    def broken(**kwargs):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(clinic_selectors, "patients_recent_for", broken)
    monkeypatch.setattr(clinic_selectors, "lab_profile_default", broken)
    return client


def test_server_error_is_a_styled_500(failing_client):
    body = assert_error_page(failing_client.get(reverse("home")), 500, "500.html")
    assert "Something went wrong on our side" in body
    assert "simulated failure" not in body


def test_api_server_error_is_json(failing_client):
    response = failing_client.post(
        reverse("api-recommendation"), {"b12": {"value": 150, "unit": "pg/mL"}}, content_type="application/json"
    )
    assert response.status_code == 500
    assert list(response.json()["errors"]) == ["server"]


class _DatabaseDown:
    @property
    def user(self):
        raise AssertionError("the 500 page must not load the user: the database may be down")

    @property
    def session(self):
        raise AssertionError("the 500 page must not load the session")


@pytest.mark.django_db
def test_500_page_renders_without_database_or_session():
    request = RequestFactory().get("/")
    request.__class__ = type("BrokenRequest", (_DatabaseDown, type(request)), {})
    with CaptureQueriesContext(connection) as queries:
        response = errors.server_error(request)
    assert response.status_code == 500
    assert len(queries) == 0
    assert HOME_LINK in response.content.decode()
    assert "/static/css/app." in response.content.decode(), "styled, without the context processors"


@pytest.mark.django_db
def test_the_503_page_of_an_outage_is_styled_and_links_home():
    from recommender.ops import outages

    body = outages.service_unavailable(RequestFactory().get("/")).content.decode()
    assert "/static/css/app." in body and "/static/vendor/bootstrap/bootstrap.min." in body and HOME_LINK in body


# 400: control characters never reach the database


def test_nul_in_search_is_refused_with_a_page_naming_the_field(clinician_client):
    body = assert_error_page(clinician_client.get("/patients/?q=%00"), 400, "400.html")
    assert "“q” contains a control character" in body


@pytest.mark.django_db
def test_nul_search_matches_no_one_even_past_the_guard():
    assert list(clinic_selectors.patient_search(query="ab\x00c")) == []


def test_nul_in_a_form_saves_nothing(clinician_client):
    response = clinician_client.post(
        reverse("patient-create"),
        {"hospital_number": "N1", "family_name": "Ab\x00c", "given_name": "D", "date_of_birth": "1960-01-01"},
    )
    # The form itself refuses it, next to the field and naming it, keeping the rest of what was typed.
    assert response.status_code == 200
    assert "“Family name” contains a control character" in response.content.decode()
    assert response.context["form"].data["given_name"] == "D"
    assert not Patient.objects.exists()


@pytest.mark.django_db
def test_tab_and_line_breaks_in_typed_text_are_accepted(clinician, client):
    plan = make_plan(by=clinician)
    client.force_login(clinician)
    response = client.post(
        reverse("plan-end", args=[plan.pk]), {"reason": "Moved away.\r\n\tCare transferred.", "confirm": "on"}
    )
    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.end_reason.startswith("Moved away.")


def test_control_characters_in_a_query_key_or_path_are_refused(clinician_client):
    assert clinician_client.get("/patients/?%01=x").status_code == 400
    assert clinician_client.get("/patients/%00/").status_code == 400


def test_api_profile_with_nul_is_a_field_error(clinician_client):
    response = clinician_client.post(
        reverse("api-recommendation"),
        {"b12": {"value": 150, "unit": "pg/mL"}, "profile": "a\u0000b"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "profile" in response.json()["errors"]


def test_api_query_with_nul_is_json_400(clinician_client):
    response = clinician_client.post(
        reverse("api-recommendation") + "?x=%00",
        {"b12": {"value": 150, "unit": "pg/mL"}},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "x" in response.json()["errors"]


def test_admin_list_filter_and_search_with_nul_are_refused(admin_client_):
    for url in (
        "/admin/recommender/assessment/?ruleset_id=%00",
        "/admin/recommender/patient/?q=%00",
        "/admin/recommender/doserecord/?site__exact=a%00b",
    ):
        assert admin_client_.get(url).status_code == 400, url


# Malformed ids in the admin


def _uuid_admins():
    return [m for m in admin.site._registry if m._meta.app_label == "recommender"]


def _admin_views():
    """Every admin page of a record by id, for each model of the app (a version page only where history is kept)."""
    views = ["change", "delete", "history"]
    return [
        pytest.param(model, view, id=f"{view}-{model._meta.model_name}")
        for model in _uuid_admins()
        for view in (*views, "history/1")
        if hasattr(model, "history") or view != "history/1"
    ]


@pytest.mark.parametrize(("model", "view"), _admin_views())
def test_admin_malformed_id_is_404(admin_client_, model, view):
    response = admin_client_.get(f"/admin/recommender/{model._meta.model_name}/not-a-uuid/{view}/")
    assert response.status_code == 404


@pytest.mark.django_db
def test_admin_malformed_history_version_is_404(admin_client_):
    profile = LabProfile.objects.first() or LabProfile.objects.create(name="Lab A")
    response = admin_client_.get(f"/admin/recommender/labprofile/{profile.pk}/history/not-a-number/")
    assert response.status_code == 404


def test_api_still_reads_a_form_encoded_body_after_the_guard(clinician_client):
    response = clinician_client.post(reverse("api-recommendation"), {"b12": "150"})
    assert response.status_code == 400
    assert "body" in response.json()["errors"]


def test_a_session_cookie_with_nul_is_ignored_not_a_500(db):
    client = Client()
    client.cookies["sessionid"] = "abc\x00defghijklmnop"
    response = client.get(reverse("login"))
    assert response.status_code == 200


def test_a_login_name_longer_than_the_lockout_table_holds_is_a_failed_login(db):
    response = Client().post(reverse("login"), {"username": "x" * 300, "password": "not-the-password"})
    assert response.status_code == 200
    assert response.context["form"].errors


def test_a_header_with_nul_is_refused_before_the_login_records_it(db):
    response = Client().post(
        reverse("login"), {"username": "someone", "password": "not-the-password"}, HTTP_USER_AGENT="Browser\x00"
    )
    assert response.status_code == 400
    assert "User-Agent" in response.content.decode()


@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda m: m._meta.label)
@pytest.mark.parametrize("selected", ["not-a-uuid", "1", str(uuid.UUID(int=0))])
def test_admin_action_on_a_malformed_selection_is_refused_not_500(admin_client_, model, selected):
    url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    response = admin_client_.post(url, {"action": "delete_selected", "_selected_action": selected, "index": "0"})
    assert response.status_code < 500
    try:
        model._meta.pk.to_python(selected)
    except ValidationError:
        assert response.status_code == 400
        assert "selection names records that do not exist" in response.content.decode()


@pytest.mark.django_db
def test_a_huge_search_matches_no_one_rather_than_overwhelming_the_database(clinician_client):
    response = clinician_client.get(reverse("patient-list"), {"q": "ab " * 70_000})
    assert response.status_code == 200
    assert list(response.context["patients"]) == []
    many_words = clinician_client.get(reverse("patient-list"), {"q": "a " * (clinic_selectors.SEARCH_QUERY_MAX // 2)})
    assert many_words.status_code == 200
