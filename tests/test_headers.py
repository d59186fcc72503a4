"""Headers (issue 13, item 9, the header half): nothing with patient data stays in a cache (no-store on pages,
fragments, JSON, calendars and feeds), no powerful browser feature, and the CSP holds in the admin too."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from recommender.access import services as access_services
from recommender.models import AccessToken, Assessment, DoseRecord, LabProfile, Patient, TreatmentPlan
from tests.factories import give, make_plan
from tests.test_admin import admin_url


@pytest.fixture
def plan(clinician, nurse):
    plan = make_plan(clinician)
    give(plan, nurse)
    return plan


def _no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


def test_every_page_with_patient_data_is_no_store(clinician_client, plan):
    urls = [
        reverse("patient-list"),
        reverse("patient-detail", args=[plan.patient_id]),
        reverse("assessment-detail", args=[plan.assessment_id]),
        reverse("plan-detail", args=[plan.pk]),
        reverse("plan-month", args=[plan.pk]),
        reverse("plan-ics", args=[plan.pk]),
        reverse("worklist"),
    ]
    for url in urls:
        response = clinician_client.get(url)
        assert response.status_code == 200, url
        assert _no_store(response), f"{url}: {response.get('Cache-Control')!r}"


def test_htmx_fragments_are_no_store(clinician_client, plan):
    response = clinician_client.get(reverse("worklist"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert _no_store(response)


def test_the_worklist_feed_is_no_store(client, nurse, plan):
    _, raw = access_services.access_token_issue(user=nurse, purpose=AccessToken.Purpose.CALENDAR, name="worklist")
    response = client.get(reverse("worklist-feed", kwargs={"token": raw}))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert _no_store(response)


def test_the_api_and_its_errors_are_no_store(clinician_client, client):
    answered = clinician_client.post(
        reverse("api-recommendation"), {"b12": {"value": 150, "unit": "pg/mL"}}, content_type="application/json"
    )
    assert answered.status_code == 200
    assert _no_store(answered)
    clinician_client.logout()
    refused = client.post(reverse("api-recommendation"), {}, content_type="application/json")
    assert refused.status_code == 401
    assert _no_store(refused)


def test_static_files_keep_their_caching(client):
    response = client.get("/static/css/app.css")
    assert response.status_code == 200
    assert not _no_store(response)


def test_permissions_policy_switches_off_powerful_features(client, clinician_client, plan):
    for response in (client.get(reverse("login")), clinician_client.get(reverse("plan-detail", args=[plan.pk]))):
        policy = response["Permissions-Policy"]
        for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()"):
            assert feature in policy


# The CSP (style-src 'self', scripts only from the site or with the nonce) holds in the admin: no inline style
# attribute, no <style> block, no inline script without the nonce on any of its pages.

INLINE_STYLE = re.compile(r"<[^>]+\sstyle\s*=", re.IGNORECASE)
STYLE_BLOCK = re.compile(r"<style[\s>]", re.IGNORECASE)
SCRIPT = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)


def csp_breaks(body: str) -> list[str]:
    found = [match.group(0) for match in INLINE_STYLE.finditer(body)]
    found += [match.group(0) for match in STYLE_BLOCK.finditer(body)]
    found += [
        match.group(0)
        for match in SCRIPT.finditer(body)
        if "src=" not in match.group(1) and "nonce=" not in match.group(1) and "application/json" not in match.group(1)
    ]
    return found


def test_the_admin_history_pages_keep_the_csp(admin_client_, plan):
    dose = DoseRecord.objects.get(plan=plan)
    urls = []
    for model, instance in (
        (Patient, plan.patient),
        (Assessment, plan.assessment),
        (TreatmentPlan, plan),
        (DoseRecord, dose),
    ):
        urls.append(admin_url(model, "history", instance.pk))
        urls.append(admin_url(model, "simple_history", instance.pk, instance.history.earliest().history_id))
        urls.append(admin_url(model, "change", instance.pk))
        urls.append(admin_url(model, "changelist"))
    urls.append(admin_url(LabProfile, "changelist"))
    for url in urls:
        response = admin_client_.get(url)
        assert response.status_code == 200, url
        assert "style-src 'self'" in response["Content-Security-Policy"]
        assert csp_breaks(response.content.decode()) == [], url
