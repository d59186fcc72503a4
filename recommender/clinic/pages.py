"""What a plan's page and a patient's page show of the record, read once and kept in the nodes' shared cache until
the record changes: a write to the plan, its doses, its bookings, the patient or their assessments retires that
record's entries only (``shared_cache.record``, retired by recommender/signals.py), a change to the clinic's calendar
or to people's names retires them all. Without a shared cache every view reads the database.

Only what is the same for every user is kept: the user's permissions, forms and CSRF tokens are the view's, each
time. The plan or patient that does not exist raises DoesNotExist, and nothing is kept."""

from __future__ import annotations

from datetime import date

from recommender import shared_cache
from recommender.injections import presenters as injections_presenters
from recommender.injections import selectors as injections_selectors
from recommender.models import Patient

from . import charts, presenters, selectors


def plan_page(*, plan_id, today: date, can_record: bool) -> dict:
    """The plan page's record: the plan with its patient and decision, the latest doses and their rows (with the
    nurse's actions when ``can_record``), and the schedule from ``today``."""
    return shared_cache.record_through(
        "plan",
        plan_id,
        f"page:{today.isoformat()}:{int(can_record)}",
        lambda: _plan_page(plan_id=plan_id, today=today, can_record=can_record),
    )


def _plan_page(*, plan_id, today: date, can_record: bool) -> dict:
    plan = selectors.plan_detail(plan_id=plan_id)
    doses, older_doses = injections_selectors.plan_recent_doses(plan=plan)
    latest_dose = injections_selectors.latest_live_of(doses)
    can_record = can_record and plan.status == plan.Status.ACTIVE
    return {
        "plan": plan,
        "patient": plan.patient,
        "decision": plan.assessment.decision,
        "panel": presenters.decision_panel(plan.assessment.decided),
        "regimen": presenters.plan_regimen(plan),
        "mma_follow_up": presenters.mma_follow_up(plan, selectors.assessments_after_pending_plan(plan=plan)),
        "doses": doses,
        "dose_rows": injections_presenters.dose_rows(doses, latest_dose=latest_dose, can_record=can_record),
        "can_record": can_record,
        "older_doses": older_doses,
        "latest_dose": latest_dose,
        **injections_selectors.plan_schedule(plan=plan, today=today),
    }


def patient_page(*, patient_id) -> dict:
    """The patient page's record: the patient, their assessments (with the charts of their results), their plans,
    the corrections of their details and the doses they did not attend."""
    return shared_cache.record_through("patient", patient_id, "page", lambda: _patient_page(patient_id=patient_id))


def _patient_page(*, patient_id) -> dict:
    patient = Patient.objects.get(pk=patient_id)
    assessments = list(selectors.patient_assessments(patient=patient))
    plans = list(selectors.patient_plans(patient=patient))
    return {
        "patient": patient,
        "assessments": assessments,
        "plans": plans,
        "active_plan": next((p for p in plans if p.status == p.Status.ACTIVE), None),
        "b12_chart": charts.b12_trend(assessments),
        "homocysteine_chart": charts.homocysteine_trend(assessments),
        "corrections": selectors.patient_corrections(patient=patient),
        "dnas": injections_selectors.patient_did_not_attend(patient=patient),
    }
