"""The assessment form in a browser: the live panel, the MMA prompt, saving, and the same form without JavaScript."""

from __future__ import annotations

import contextlib
import re

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from recommender.models import TreatmentPlan
from tests.browser.conftest import assert_accessible, csp_violations, log_in


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
    expect(page.locator("#results")).to_contain_text("consider an MMA test if the patient has symptoms")
    expect(prompt).to_contain_text("Consider MMA")
    expect(prompt).to_be_visible()

    page.fill("#id_mma_value", "0.5")
    page.select_option("#id_mma_unit", "umol/L")
    expect(status).to_contain_text("B12 deficient")
    expect(page.locator("#results")).to_contain_text("decided by MMA")
    expect(prompt).not_to_contain_text("Consider MMA")
    expect(page.get_by_text("Consider MMA")).to_have_count(0)
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
        page.get_by_label("every 2 months", exact=True).check()
        page.get_by_role("button", name="Save assessment and start plan").click()
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
    page.get_by_label("every 2 months", exact=True).check()
    save = page.get_by_role("button", name="Save assessment and start plan")
    save.click()
    page.wait_for_url(re.compile(r"/plans/[0-9a-f-]{36}/$"))
    expect(page.get_by_role("heading", name="Treatment plan")).to_be_visible()

    body = page.evaluate("[...document.body.children].map(e => e.tagName.toLowerCase())")
    assert "header" in body, f"the site header (navigation, who is signed in, Sign out) is gone; <body> holds {body}"
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_role("link", name="Skip to content")).to_have_count(1)


class HeldPreviews:
    """Holds the live panel's requests until released: a preview as slow as the network allows."""

    def __init__(self, page: Page):
        self.page, self.routes = page, []
        page.route("**/assess/preview/", lambda route: self.routes.append(route))

    def wait_for_one(self) -> None:
        for _ in range(50):
            if self.routes:
                return
            self.page.wait_for_timeout(100)
        raise AssertionError("no preview request was sent")

    def release(self) -> None:
        routes, self.routes = self.routes, []
        for route in routes:
            with contextlib.suppress(PlaywrightError):  # a request the page itself aborted
                route.continue_()
        self.page.unroute("**/assess/preview/")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_choices_made_while_the_decision_updates_are_what_is_saved(page: Page, live_server, clinician, patient):
    log_in(page, live_server, clinician)
    page.goto(assess_url(live_server, patient))
    page.fill("#id_b12_value", "150")
    page.select_option("#id_b12_unit", "pg/mL")
    expect(page.locator("#results .status-band")).to_contain_text("B12 deficient")

    held = HeldPreviews(page)
    page.check("#id_neurological_involvement")
    held.wait_for_one()
    # While the decision is on its way, the clinician chooses an individualised regimen.
    page.get_by_role("radio", name=re.compile("^individualised")).check()
    page.fill("#id_individualised_every", "4")
    page.select_option("#id_individualised_unit", "weeks")
    page.fill("#id_individualised_reason", "Symptoms return after 4 weeks.")
    held.release()
    expect(page.locator("#results #loading-text")).to_contain_text("alternate days")
    expect(page.locator("#status-strip")).to_contain_text("B12 deficient")

    # The update changed the decision and nothing the clinician chose.
    expect(page.get_by_role("radio", name=re.compile("^individualised"))).to_be_checked()
    expect(page.locator("#id_individualised_every")).to_have_value("4")
    expect(page.locator("#id_individualised_reason")).to_have_value("Symptoms return after 4 weeks.")
    expect(page.locator("#individualised-max")).to_have_text("every 2 months")
    page.get_by_role("button", name="Save assessment and start plan").click()
    page.wait_for_url(re.compile(r"/plans/[0-9a-f-]{36}/$"))
    plan = TreatmentPlan.objects.get(patient=patient)
    assert (plan.maintenance_every, plan.maintenance_unit, plan.individualised) == (4, "weeks", True)
    assert plan.individualised_reason == "Symptoms return after 4 weeks."
    expect(page.locator("#plan-maintenance")).to_contain_text("the guideline's range here is every 2 months")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_radio_chosen_during_a_slow_update_stays_chosen(page: Page, live_server, clinician, patient):
    log_in(page, live_server, clinician)
    page.goto(assess_url(live_server, patient))
    page.fill("#id_b12_value", "150")
    page.select_option("#id_b12_unit", "pg/mL")
    expect(page.locator("#results .status-band")).to_contain_text("B12 deficient")
    held = HeldPreviews(page)
    page.fill("#id_egfr", "75")
    held.wait_for_one()
    page.get_by_label("every 3 months", exact=True).check()
    held.release()
    expect(page.locator("#results .status-band")).to_contain_text("B12 deficient")
    page.wait_for_load_state("networkidle")
    expect(page.get_by_label("every 3 months", exact=True)).to_be_checked()
    expect(page.get_by_label("every 2 months", exact=True)).not_to_be_checked()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_stale_decision_is_not_saved(page: Page, live_server, clinician, patient):
    log_in(page, live_server, clinician)
    page.goto(assess_url(live_server, patient))
    page.fill("#id_b12_value", "150")
    page.select_option("#id_b12_unit", "pg/mL")
    expect(page.locator("#results .status-band")).to_contain_text("B12 deficient")

    held = HeldPreviews(page)
    page.select_option("#id_b12_unit", "pmol/L")  # 150 pmol/L is indeterminate: the decision shown is now stale
    held.wait_for_one()
    page.get_by_role("button", name="Save assessment and start plan").click()
    expect(page.locator("#decision-changed")).to_contain_text("Nothing was saved")
    expect(page.locator("#decision-changed")).to_be_focused()
    expect(page.locator("#results .status-band")).to_contain_text("Indeterminate")
    assert not patient.assessments.exists()
    held.release()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("width", [390, 1280])
def test_the_form_on_a_phone_and_a_desk(page: Page, live_server, clinician, patient, width, console_messages):
    page.set_viewport_size({"width": width, "height": 844})
    log_in(page, live_server, clinician)
    page.goto(assess_url(live_server, patient))
    page.fill("#id_b12_value", "150")
    page.select_option("#id_b12_unit", "pg/mL")
    page.check("#id_neurological_involvement")
    expect(page.locator("#results #loading-text")).to_contain_text("alternate days")
    assert_accessible(page, f"the assessment form at {width} px")
    scroll = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert scroll <= 0, f"the page scrolls sideways by {scroll} px at {width} px"

    # The status and the regimen are right below the B12 field; the save action comes before the reasons.
    strip = page.locator("#status-strip")
    expect(strip).to_contain_text("B12 deficient")
    expect(strip).to_contain_text("alternate days")
    # Scrolled down to the last of the inputs, the status is still in view (it sticks to the top).
    page.locator("#id_bariatric_surgery").scroll_into_view_if_needed()
    assert 0 <= strip.bounding_box()["y"] < 844
    page.evaluate("window.scrollTo(0, 0)")
    b12 = page.locator("#id_b12_value").bounding_box()
    assert strip.bounding_box()["y"] - (b12["y"] + b12["height"]) < 120
    save = page.locator("#save-button").bounding_box()
    assert save["y"] < page.locator("#decision-sources").bounding_box()["y"]
    expect(page.locator("#decision-sources details")).not_to_have_attribute("open", "")

    # A failed save: an error summary at the top, focused, linking to the field.
    page.fill("#id_start_date", "")
    page.get_by_role("button", name="Save assessment and start plan").click()
    summary = page.locator("#error-summary")
    expect(summary).to_contain_text("There is a problem")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link", name="First injection on")).to_have_attribute("href", "#id_start_date")
    assert_accessible(page, f"the assessment form with errors at {width} px")
    assert not csp_violations(console_messages), "\n".join(csp_violations(console_messages))
