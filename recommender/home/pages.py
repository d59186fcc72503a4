"""The clinic-wide lists of each role's home page, rendered once and kept in the nodes' shared cache (see
recommender/clinic/pages.py for the record pages kept the same way)."""

from __future__ import annotations

from datetime import date

from django.template.loader import render_to_string
from django.utils import translation
from django.utils.safestring import SafeString

from recommender import shared_cache
from recommender.roles import CLINICIAN, NURSE

from . import presenters, selectors


def role_lists(role: str, *, today: date) -> SafeString:
    """The clinic-wide lists of a role's home page, rendered. They are the same for every user of the role on the
    same day, so they are kept in the nodes' shared cache until any record they show changes (the generation
    ``CLINIC_LISTS``, retired by recommender/signals.py); without a shared cache they are read every time."""
    key = f"{role}:{today.isoformat()}:{translation.get_language()}"
    return shared_cache.read_through(
        shared_cache.CLINIC_LISTS,
        key,
        lambda: render_to_string(f"recommender/_home_lists.html#{role}", _ROLE_LISTS[role](today)),
    )


def _clinician_lists(today: date) -> dict:
    return {
        "mma_awaited": presenters.mma_rows(selectors.listed(selectors.mma_awaited()), today=today),
        "pending_mma": presenters.pending_rows(selectors.listed(selectors.treatment_pending_mma()), today=today),
        "neuro_reviews": presenters.due_rows(
            selectors.listed(selectors.neuro_loading_reviews_due(today=today)), today=today
        ),
        "monitoring": presenters.due_rows(
            selectors.listed(
                selectors.monitoring_due(today=today), row=lambda plan: selectors.visit_due(plan, today=today)
            ),
            today=today,
        ),
        "no_monitoring_due": f"No monitoring visit is due in the next {selectors.DUE_SOON_DAYS} days.",
    }


def _nurse_lists(today: date) -> dict:
    return {
        "due_today": presenters.dose_rows(selectors.listed(selectors.injections_due(on=today)), today=today),
        "overdue": presenters.dose_rows(selectors.listed(selectors.injections_overdue(today=today)), today=today),
        "dnas": presenters.dna_rows(selectors.listed(selectors.dnas_to_follow_up()), today=today),
    }


_ROLE_LISTS = {CLINICIAN: _clinician_lists, NURSE: _nurse_lists}
