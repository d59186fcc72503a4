"""Each role's home page: what it lists, and each list a constant number of queries however big the clinic."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from axes.models import AccessAttempt
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from recommender.clinic import services
from recommender.guideline import schedule
from recommender.home import selectors
from recommender.models import ClinicClosure, TreatmentPlan
from recommender.templatetags.clinic import quantity
from tests import factories

INDETERMINATE = {"b12": {"value": 250, "unit": "pg/mL"}}


def grow_clinic(clinician, nurse, n: int) -> None:
    """``n`` patients of each kind the home lists show: awaiting MMA, pending MMA, neurological loading, monitoring
    overdue, a dose overdue, a dose missed."""
    today = timezone.localdate()
    for _ in range(n):
        factories.make_assessment(factories.make_patient(by=clinician), clinician, payload=INDETERMINATE)
        factories.make_plan(clinician, start=today - timedelta(days=20), neuro=True)
        old = factories.make_plan(clinician, start=today - timedelta(days=150), every=2)
        factories.finish_loading(old, nurse)
        missed = factories.make_plan(clinician, start=today - timedelta(days=5))
        factories.miss(missed, nurse)
        patient = factories.make_patient(by=clinician)
        assessment = services.assessment_create(
            patient=patient,
            sample_date=today,
            payload={**INDETERMINATE, "neurological_involvement": True},
            by=clinician,
        )
        services.plan_create(
            assessment=assessment,
            start_date=today,
            maintenance_every=2,
            pending_mma_reason="Unsteady gait.",
            by=clinician,
        )
    ClinicClosure.objects.create(date=today + timedelta(days=10 + n), reason=f"Training {n}")


def count_queries(call) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        rows = call()
        rows = list(rows.values() if isinstance(rows, dict) else rows)
    return len(queries), len(rows)


LISTS = {
    "mma_awaited": lambda today, user: selectors.mma_awaited(),
    "treatment_pending_mma": lambda today, user: selectors.treatment_pending_mma(),
    "neuro_loading_reviews_due": lambda today, user: selectors.neuro_loading_reviews_due(today=today),
    "monitoring_due": lambda today, user: selectors.monitoring_due(today=today),
    "injections_due": lambda today, user: selectors.injections_due(on=today),
    "injections_overdue": lambda today, user: selectors.injections_overdue(today=today),
    "dnas_to_follow_up": lambda today, user: selectors.dnas_to_follow_up(),
    "patients_recent_for": lambda today, user: selectors.patients_recent_for(user=user),
    "users_locked_out": lambda today, user: selectors.users_locked_out(),
    "lab_profiles": lambda today, user: selectors.lab_profiles(),
    "closures_coming": lambda today, user: selectors.closures_coming(today=today),
    "exports_recent": lambda today, user: selectors.exports_recent(),
    "caseload": lambda today, user: selectors.caseload(today=today),
}
# Two for the reviews computed from the schedule (the plans, then the clinic's closures); one for the rest (the
# monitoring visits are stored with each plan).
EXPECTED_QUERIES = {"patients_recent_for": 3, "neuro_loading_reviews_due": 2}


def test_each_home_list_is_a_constant_number_of_queries(clinician, nurse, settings):
    settings.B12_CLINIC_DAYS = list(range(7))
    today = timezone.localdate()
    grow_clinic(clinician, nurse, 1)
    small = {name: count_queries(lambda call=call: call(today, clinician)) for name, call in LISTS.items()}
    grow_clinic(clinician, nurse, 3)
    big = {name: count_queries(lambda call=call: call(today, clinician)) for name, call in LISTS.items()}
    for name in LISTS:
        (small_queries, small_rows), (big_queries, big_rows) = small[name], big[name]
        assert small_queries == big_queries == EXPECTED_QUERIES.get(name, 1), name
        if name not in {"users_locked_out", "lab_profiles", "exports_recent", "caseload", "injections_due"}:
            assert big_rows > small_rows > 0, f"{name} grows with the clinic"


def test_clinician_home_lists_decisions_waiting(clinician_client, clinician, nurse, settings):
    settings.B12_CLINIC_DAYS = list(range(7))
    today = timezone.localdate()
    waiting = factories.make_patient(by=clinician, family_name="Awaitmma")
    factories.make_assessment(waiting, clinician, payload=INDETERMINATE)
    neuro = factories.make_plan(clinician, start=today - timedelta(days=20), neuro=True, family_name="Neuroreview")
    body = clinician_client.get(reverse("home")).content.decode()
    assert "Waiting for a decision from you" in body
    mma_section = body.split('id="home-mma-result-awaited"')[1].split("</section>")[0]
    assert "AWAITMMA" in mma_section
    review_section = body.split('id="home-neurological-loading-review-due"')[1].split("</section>")[0]
    assert "NEUROREVIEW" in review_section and "Overdue" in review_section
    assert reverse("plan-detail", args=[neuro.pk]) in review_section
    assert "Due today" not in body, "the nurse's lists are not the clinician's"


def test_nurse_home_lists_today_overdue_and_dnas(nurse_client, clinician, nurse, settings):
    settings.B12_CLINIC_DAYS = list(range(7))
    today = timezone.localdate()
    factories.make_plan(clinician, start=today, family_name="Duetoday")
    late = factories.make_plan(clinician, start=today - timedelta(days=3), family_name="Latecomer")
    factories.make_plan(clinician, start=today - timedelta(days=2), family_name="Noshow")
    factories.miss(TreatmentPlan.objects.get(patient__family_name="Noshow"), nurse)
    body = nurse_client.get(reverse("home")).content.decode()
    today_section = body.split('id="home-due-today"')[1].split("</section>")[0]
    overdue_section = body.split('id="home-overdue"')[1].split("</section>")[0]
    dna_section = body.split('id="home-did-not-attend-follow-up"')[1].split("</section>")[0]
    assert "DUETODAY" in today_section and "Loading 1 of 6" in today_section
    assert "LATECOMER" in overdue_section and reverse("plan-detail", args=[late.pk]) in overdue_section
    assert "NOSHOW" in dna_section and "Did not attend" in dna_section
    assert "Waiting for a decision from you" not in body


def test_admin_home_shows_the_state_of_the_service(admin_client_, admin_user):
    today = timezone.localdate()
    ClinicClosure.objects.create(date=today + timedelta(days=9), reason="Fire drill")
    body = admin_client_.get(reverse("home")).content.decode()
    assert "The service" in body
    assert "Fire drill" in body
    assert "Nobody is locked out." in body
    assert "Injections" not in body.split('id="main"')[1]


def test_admin_home_lists_a_locked_out_user(admin_client_, client):
    AccessAttempt.objects.create(
        username="dr_locked", failures_since_start=5, user_agent="x", ip_address="127.0.0.1", get_data="", post_data=""
    )
    body = admin_client_.get(reverse("home")).content.decode()
    assert "dr_locked" in body and "5 failed sign-ins" in body


def test_an_export_from_the_admin_appears_on_the_admin_home(admin_client_, clinician):
    patient = factories.make_patient(by=clinician, family_name="Exportee")
    response = admin_client_.post(
        "/admin/recommender/patient/", {"action": "export_record", "_selected_action": [str(patient.pk)]}
    )
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = admin_client_.get(reverse("home")).content.decode()
    exports = body.split("Recent exports")[1].split("</div>")[0]
    assert "EXPORTEE" in exports and "Admin_Lee" in exports


def test_dates_and_times_are_en_gb_with_a_24_hour_clock():
    rendered = Template(
        '{{ when|date:"DATETIME_FORMAT" }} · {{ when|date }} · {{ when|date:"SHORT_DATE_FORMAT" }}'
    ).render(Context({"when": datetime(2026, 3, 4, 14, 5)}))
    assert rendered == "4 Mar 2026, 14:05 · 4 Mar 2026 · 04/03/2026"


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        ("150.00", "pg/mL", "150 pg/mL"),
        ("0.450", "µmol/L", "0.45 µmol/L"),
        ("180", "pg/mL", "180 pg/mL"),
        ("1E+2", "pg/mL", "100 pg/mL"),
        ("36.5000", "pmol/L", "36.5 pmol/L"),
    ],
)
def test_values_keep_their_unit_and_lose_spurious_decimals(value, unit, shown):
    assert quantity(Decimal(value), unit) == shown


def test_a_monitoring_visit_is_due_until_results_come_then_the_next_one(clinician, nurse, settings):
    settings.B12_CLINIC_DAYS = list(range(7))
    today = timezone.localdate()
    plan = factories.make_plan(clinician, start=today - timedelta(days=150), every=2, family_name="Reviewdue")
    factories.finish_loading(plan, nurse)
    plan.refresh_from_db()
    first_visit = schedule.add_months(plan.start_date, 3)
    assert plan.next_visit_on == first_visit
    assert list(selectors.monitoring_due(today=today)) == [plan]
    factories.make_assessment(plan.patient, clinician, sample_date=today - timedelta(days=1))
    plan.refresh_from_db()
    assert plan.next_visit_on == schedule.add_months(plan.start_date, 6), "the results done count for that visit"
    assert list(selectors.monitoring_due(today=today)) == []
    services.plan_mark_stable(plan=plan, on=today, reason="Symptoms resolved.", by=clinician)
    plan.refresh_from_db()
    assert plan.next_visit_on == schedule.add_months(today, 12), "once stable, the next visit is a year on"


def test_a_long_home_list_shows_its_first_rows_and_says_how_many_more(nurse_client, clinician, settings, monkeypatch):
    settings.B12_CLINIC_DAYS = list(range(7))
    monkeypatch.setattr(selectors, "HOME_LIST_LIMIT", 2)
    today = timezone.localdate()
    for days in (3, 4, 5):
        factories.make_plan(clinician, start=today - timedelta(days=days), family_name=f"Late{days}")
    body = nurse_client.get(reverse("home")).content.decode()
    overdue_section = body.split('id="home-overdue"')[1].split("</section>")[0]
    assert overdue_section.count('<li class="list-group-item">') == 2
    assert "LATE5" in overdue_section and "LATE3" not in overdue_section, "the longest overdue first"
    assert "The first 2 of 3" in overdue_section and reverse("worklist") in overdue_section
