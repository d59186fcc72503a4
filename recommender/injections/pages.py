"""The plan's records page (every dose, a page at a time) and its month view, read once and kept in the nodes'
shared cache until the plan changes (see recommender/clinic/pages.py: what is kept, what retires it); and the
worklist's lines, the same for every nurse, kept until any patient, plan or dose changes."""

from __future__ import annotations

from datetime import date

from django.core.paginator import Paginator

from recommender import shared_cache
from recommender.models import TreatmentPlan
from recommender.web.http import CountedPaginator, kept_page

from . import presenters, selectors

DOSES_PAGE_SIZE = 50


def plan_doses_page(*, plan_id, page_number: int, can_record: bool) -> dict:
    """Page ``page_number`` of the plan's records, latest first (the last page for a number past it), with the
    nurse's actions on the rows when ``can_record``."""
    return shared_cache.record_through(
        "plan",
        plan_id,
        f"doses:{page_number}:{DOSES_PAGE_SIZE}:{int(can_record)}",
        lambda: _plan_doses_page(plan_id=plan_id, page_number=page_number, can_record=can_record),
    )


def _plan_doses_page(*, plan_id, page_number: int, can_record: bool) -> dict:
    plan = selectors.plans_with_patient_only().get(pk=plan_id)
    page = kept_page(Paginator(selectors.plan_doses(plan=plan), DOSES_PAGE_SIZE).get_page(page_number))
    latest_dose = selectors.dose_latest_record(plan=plan)
    can_record = can_record and plan.status == TreatmentPlan.Status.ACTIVE
    return {
        "plan": plan,
        "patient": plan.patient,
        "page": page,
        "doses": page.object_list,
        "dose_rows": presenters.dose_rows(page.object_list, latest_dose=latest_dose, can_record=can_record),
        "latest_dose": latest_dose,
        "can_record": can_record,
    }


def plan_month_page(*, plan_id, month: date, today: date) -> dict:
    """The month view of the plan: the month of ``month`` as seen on ``today``."""
    return shared_cache.record_through(
        "plan",
        plan_id,
        f"month:{month:%Y-%m}:{today.isoformat()}",
        lambda: _plan_month_page(plan_id=plan_id, month=month, today=today),
    )


def _plan_month_page(*, plan_id, month: date, today: date) -> dict:
    plan = selectors.plans_with_patient_only().get(pk=plan_id)
    return {
        "plan": plan,
        "patient": plan.patient,
        **presenters.month_calendar(today=today, **selectors.plan_month_events(plan=plan, month=month)),
    }


def worklist_page(*, on: date, days_ahead: int, page_number: int, per_page: int):
    """Page ``page_number`` of the worklist as of ``on`` (its lines and how many there are in all), from the shared
    cache until a record it lists changes (``CLINIC_LISTS``: every nurse's worklist is the same)."""
    return shared_cache.read_through(
        shared_cache.CLINIC_LISTS,
        f"worklist:{on.isoformat()}:{days_ahead}:{per_page}:{page_number}",
        lambda: kept_page(
            CountedPaginator(
                selectors.worklist_lines(on=on, days_ahead=days_ahead),
                per_page,
                counted=selectors.worklist_count(on=on, days_ahead=days_ahead),
            ).get_page(page_number)
        ),
    )
