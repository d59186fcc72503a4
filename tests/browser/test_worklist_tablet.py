"""Positive identification on a tablet (issue 10, item 9): at 768×1024 every worklist row shows, on screen, the
patient's name and date of birth, not only a hospital number."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from recommender.clinic import services as clinic_services
from recommender.guideline.plan_options import MONTHS
from tests.browser.conftest import assert_accessible, log_in

TABLET = {"width": 768, "height": 1024}
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PATIENTS = [
    # hospital number, family name, given name, date of birth, NHS number
    ("RX2001", "Okafor", "Ada", date(1948, 5, 17), "9434765919"),
    ("RX2002", "Montgomery-Fitzwilliam", "Alexandrina Josephine", date(1931, 12, 30), "4010232137"),
    ("RX2003", "Ng", "Bo", date(2001, 2, 28), ""),
    ("RX2004", "Papadopoulou-Hernández", "Maximiliana", date(1966, 7, 4), ""),
]


@pytest.fixture
def worklist_plans(clinician):
    """One plan per patient, each with a dose due within the worklist's week."""
    today = timezone.localdate()
    plans = []
    for offset, (number, family, given, born, nhs) in enumerate(PATIENTS):
        patient = clinic_services.patient_create(
            hospital_number=number,
            family_name=family,
            given_name=given,
            date_of_birth=born,
            nhs_number=nhs,
            by=clinician,
        )
        _, plan = clinic_services.assessment_record(
            patient=patient,
            sample_date=today,
            payload={"b12": {"value": 150, "unit": "pg/mL"}, "neurological_involvement": True},
            plan_options={
                "start_date": today - timedelta(days=offset),
                "maintenance_every": 2,
                "maintenance_unit": MONTHS,
            },
            by=clinician,
        )
        plans.append(plan)
    return plans


def test_every_worklist_row_shows_name_and_date_of_birth_on_a_tablet(page: Page, live_server, nurse, worklist_plans):
    page.set_viewport_size(TABLET)
    log_in(page, live_server, nurse)
    page.goto(f"{live_server.url}/worklist/")
    rows = page.locator("tr[data-plan]")
    expect(rows).to_have_count(len(PATIENTS))
    for plan, (number, family, given, born, _nhs) in zip(worklist_plans, PATIENTS, strict=True):
        row = page.locator(f'tr[data-plan="{plan.pk}"]')
        row.scroll_into_view_if_needed()
        name = row.locator(".patient-name")
        dob = row.locator(".patient-born")
        expect(name).to_have_text(f"{family.upper()}, {given}")
        expect(dob).to_contain_text(f"Born {born:%d %b %Y}")
        expect(row).to_contain_text(number)
        for part in (name, dob):
            expect(part).to_be_visible()
            box = part.bounding_box()
            assert box is not None and box["width"] > 0
            assert box["x"] >= 0 and box["x"] + box["width"] <= TABLET["width"], (
                f"{number}: {part} is off the side of the screen ({box})"
            )
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the worklist scrolls sideways"
    expect(page.locator(f'tr[data-plan="{worklist_plans[0].pk}"]')).to_contain_text("NHS no. 943 476 5919")
    assert_accessible(page, "the worklist on a tablet")
