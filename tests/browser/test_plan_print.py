"""The plan as printed for the notes: one A4 page, with its own regimen and where it departs from the guideline."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from recommender.clinic import services as clinic_services
from tests.browser.conftest import log_in

# A page object in a PDF: "/Type /Page" (not "/Type /Pages", the page tree).
PDF_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


@pytest.fixture
def individualised_plan(patient, clinician):
    today = timezone.localdate()
    _assessment, plan = clinic_services.assessment_record(
        patient=patient,
        sample_date=today,
        payload={
            "b12": {"value": 150, "unit": "pg/mL"},
            "neurological_involvement": True,
            "severe": True,
            "folic_acid": True,
            "homocysteine": {"value": 18, "unit": "umol/L"},
        },
        plan_options={
            "start_date": today,
            "maintenance_every": 4,
            "maintenance_unit": "weeks",
            "individualised": True,
            "individualised_reason": "Paraesthesia returns in the fifth week after each injection; " * 3,
        },
        by=clinician,
    )
    return plan


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_individualised_plan_prints_on_one_a4_page(page: Page, live_server, clinician, individualised_plan):
    log_in(page, live_server, clinician)
    page.goto(f"{live_server.url}/plans/{individualised_plan.pk}/")
    expect(page.locator("#plan-maintenance")).to_contain_text("the guideline's range here is every 2 months")
    pdf = page.pdf(format="A4")
    pages = len(PDF_PAGE.findall(pdf))
    assert pages == 1, f"the plan prints on {pages} A4 pages"
    page.emulate_media(media="print")
    expect(page.locator("#plan-maintenance")).to_be_visible()
    expect(page.locator(".print-decision .status-band")).to_be_visible()
