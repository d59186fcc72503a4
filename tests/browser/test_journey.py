"""The clinician's journey, clicked through end to end: register, assess with the live decision, start a plan."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from recommender.models import Patient, TreatmentPlan
from tests.browser.conftest import csp_violations, log_in

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_clinician_registers_assesses_and_starts_a_plan(page: Page, live_server, clinician, console_messages):
    log_in(page, live_server, clinician)

    # Register a patient.
    page.goto(f"{live_server.url}/patients/new/")
    page.fill("#id_hospital_number", "rx2002")
    page.fill("#id_family_name", "Lindqvist")
    page.fill("#id_given_name", "Maja")
    page.fill("#id_date_of_birth", "1951-02-03")
    page.get_by_role("button", name="Register patient").click()
    page.wait_for_url(re.compile(rf"/patients/{UUID}/$"))
    patient = Patient.objects.get(hospital_number="RX2002")
    patient_url = f"{live_server.url}/patients/{patient.pk}/"
    assert page.url == patient_url
    expect(page.locator(".patient-banner")).to_contain_text("RX2002")

    # The live decision appears before anything is saved.
    page.get_by_role("link", name="New assessment").click()
    page.wait_for_url(f"{patient_url}assess/")
    page.fill("#id_b12_value", "150")
    page.select_option("#id_b12_unit", "pg/mL")
    page.check("#id_neurological_involvement")
    results = page.locator("#results")
    expect(results.locator("#loading-text")).to_contain_text("alternate days")
    expect(results.locator(".status-band")).to_contain_text("B12 deficient")
    expect(results.locator(".red-flag[data-code='neuro_urgent_advice']")).to_be_visible()
    assert not patient.assessments.exists(), "the live panel must not save anything"

    # Start the plan: every 2 months.
    every_two_months = page.get_by_label("every 2 months", exact=True)
    every_two_months.check()
    expect(every_two_months).to_be_checked()
    page.get_by_role("button", name="Save assessment and start plan").click()
    page.wait_for_url(re.compile(rf"/plans/{UUID}/$"))
    plan = TreatmentPlan.objects.get(patient=patient)
    assert page.url == f"{live_server.url}/plans/{plan.pk}/"
    assert (plan.maintenance_every, plan.maintenance_unit) == (2, "months")
    expect(page.get_by_role("heading", name="Treatment plan")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="treatment plan started")).to_be_visible()

    # Back on the patient page, the plan is there.
    page.locator(".patient-banner a").click()
    page.wait_for_url(patient_url)
    expect(page.locator(f"a[href='/plans/{plan.pk}/']").first).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Active plan"))).to_be_visible()

    # No Content Security Policy violation anywhere on the way.
    assert not csp_violations(console_messages), "\n".join(csp_violations(console_messages))
