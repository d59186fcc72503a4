"""axe-core on the pages clinicians use most: no serious or critical violation, and no CSP violation."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import assert_accessible, csp_violations, log_in


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_login_page_is_accessible(page: Page, live_server, console_messages):
    page.goto(f"{live_server.url}/login/")
    expect(page.locator("#id_username")).to_be_visible()
    assert_accessible(page, "the login page")
    assert not csp_violations(console_messages), "\n".join(csp_violations(console_messages))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_assessment_form_with_a_decision_is_accessible(page: Page, live_server, clinician, patient, console_messages):
    log_in(page, live_server, clinician)
    page.goto(f"{live_server.url}/patients/{patient.pk}/assess/")
    page.fill("#id_b12_value", "150")
    page.select_option("#id_b12_unit", "pg/mL")
    page.check("#id_neurological_involvement")
    expect(page.locator("#results #loading-text")).to_contain_text("alternate days")
    expect(page.locator("#results .red-flag").first).to_be_visible()
    assert_accessible(page, "the assessment form with a decision")
    assert not csp_violations(console_messages), "\n".join(csp_violations(console_messages))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_plan_page_is_accessible(page: Page, live_server, clinician, plan, console_messages):
    log_in(page, live_server, clinician)
    page.goto(f"{live_server.url}/plans/{plan.pk}/")
    expect(page.get_by_role("heading", name="Treatment plan")).to_be_visible()
    assert_accessible(page, "the plan page")
    assert not csp_violations(console_messages), "\n".join(csp_violations(console_messages))
