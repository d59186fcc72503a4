"""What a nurse sees: patients and plans, never the assessment form."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import log_in


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_nurse_cannot_open_the_assessment_form(page: Page, live_server, nurse, patient):
    log_in(page, live_server, nurse)

    response = page.goto(f"{live_server.url}/patients/{patient.pk}/assess/")
    assert response is not None
    assert response.status == 403

    response = page.goto(f"{live_server.url}/patients/{patient.pk}/")
    assert response is not None
    assert response.status == 200
    expect(page.locator(".patient-banner")).to_contain_text(patient.hospital_number)
    expect(page.get_by_role("link", name="New assessment")).to_have_count(0)
    expect(page.get_by_text("New assessment")).to_have_count(0)
