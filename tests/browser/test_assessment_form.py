"""The assessment form in a browser: the live panel, the MMA prompt, saving, and the same form without JavaScript."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from recommender.models import TreatmentPlan

from .conftest import csp_violations, log_in


def assess_url(live_server, patient) -> str:
    return f"{live_server.url}/patients/{patient.pk}/assess/"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_indeterminate_b12_asks_for_mma_and_mma_decides(page: Page, live_server, clinician, patient, console_messages):
    log_in(page, live_server, clinician)
    page.goto(assess_url(live_server, patient))
    status = page.locator("#results .status-band")
    prompt = page.locator("#mma-group #mma-prompt")

    page.fill("#id_b12_value", "150")
    page.select_option("#id_b12_unit", "pmol/L")
    expect(status).to_contain_text("Indeterminate")
    expect(page.locator("#results")).to_contain_text("measure MMA first")
    expect(prompt).to_contain_text("MMA needed")
    expect(prompt).to_be_visible()

    page.fill("#id_mma_value", "0.5")
    page.select_option("#id_mma_unit", "umol/L")
    expect(status).to_contain_text("B12 deficient")
    expect(page.locator("#results")).to_contain_text("decided by MMA")
    expect(prompt).not_to_contain_text("MMA needed")
    expect(page.get_by_text("MMA needed")).to_have_count(0)
    assert not csp_violations(console_messages), "\n".join(csp_violations(console_messages))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_form_works_without_javascript(browser, live_server, clinician, patient):
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        log_in(page, live_server, clinician)
        page.goto(assess_url(live_server, patient))
        page.fill("#id_b12_value", "150")
        page.select_option("#id_b12_unit", "pg/mL")
        page.check("#id_neurological_involvement")
        expect(page.locator("#results .status-band")).to_have_count(0)

        page.get_by_role("button", name="Update decision").click()
        page.wait_for_load_state()
        assert page.url == assess_url(live_server, patient)
        results = page.locator("#results")
        expect(results.locator(".status-band")).to_contain_text("B12 deficient")
        expect(results.locator("#loading-text")).to_contain_text("alternate days")
        expect(results.locator(".red-flag[data-code='neuro_urgent_advice']")).to_be_visible()
        # What was entered is still there, and nothing was saved.
        expect(page.locator("#id_b12_value")).to_have_value("150")
        expect(page.locator("#id_neurological_involvement")).to_be_checked()
        assert not patient.assessments.exists()

        # Saving works without JavaScript too.
        results.get_by_label("every 2 months").check()
        results.get_by_role("button", name="Save assessment and start plan").click()
        page.wait_for_url(re.compile(r"/plans/[0-9a-f-]{36}/$"))
        plan = TreatmentPlan.objects.get(patient=patient)
        assert page.url == f"{live_server.url}/plans/{plan.pk}/"
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_saving_from_the_live_panel_lands_on_the_whole_plan_page(page: Page, live_server, clinician, patient):
    """The save button posts through htmx; the plan page it lands on must still have the site's header."""
    log_in(page, live_server, clinician)
    page.goto(assess_url(live_server, patient))
    page.fill("#id_b12_value", "150")
    page.select_option("#id_b12_unit", "pg/mL")
    save = page.get_by_role("button", name="Save assessment and start plan")
    save.click()
    page.wait_for_url(re.compile(r"/plans/[0-9a-f-]{36}/$"))
    expect(page.get_by_role("heading", name="Treatment plan")).to_be_visible()

    body = page.evaluate("[...document.body.children].map(e => e.tagName.toLowerCase())")
    assert "header" in body, f"the site header (navigation, who is signed in, Sign out) is gone; <body> holds {body}"
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_role("link", name="Skip to content")).to_have_count(1)
