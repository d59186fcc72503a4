"""The first screen for each role, and the one search box every staff page carries."""

from __future__ import annotations

from datetime import date

from django.contrib.auth.decorators import permission_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from recommender import shared_cache
from recommender.clinic import selectors as clinic_selectors
from recommender.roles import ADMIN, CLINICIAN, NURSE
from recommender.web.http import HtmxHttpRequest

from . import presenters, selectors

# How many matches the header's live results show; the results page shows the rest.
SEARCH_PREVIEW_LIMIT = 8


def user_roles(user) -> list[str]:
    """The roles whose home sections this user sees, in the service's order (a superuser without a role: admin).
    The user's groups come from the shared cache, retired with the permissions when a membership changes."""
    names = shared_cache.read_through(
        shared_cache.PERMISSIONS, f"groups:{user.pk}", lambda: frozenset(user.groups.values_list("name", flat=True))
    )
    if user.is_superuser:
        names |= {ADMIN}
    return [role for role in (CLINICIAN, NURSE, ADMIN) if role in names]


@require_GET
def home(request: HtmxHttpRequest) -> HttpResponse:
    today = timezone.localdate()
    roles = user_roles(request.user)
    context: dict = {"roles": roles, "today": today}
    if CLINICIAN in roles:
        context |= {
            "clinician_lists": role_lists(CLINICIAN, today=today),
            "recent": selectors.patients_recent_for(user=request.user),
        }
    if NURSE in roles:
        context["nurse_lists"] = role_lists(NURSE, today=today)
    if ADMIN in roles:
        context |= {
            "locked_out": selectors.users_locked_out(),
            "lab_profiles": selectors.lab_profiles(),
            "closures": selectors.closures_coming(today=today),
            "exports": selectors.exports_recent(),
            "closures_ahead_days": selectors.CLOSURES_AHEAD_DAYS,
        }
    if CLINICIAN in roles or ADMIN in roles:
        context["caseload"] = selectors.caseload(today=today)
    return render(request, "recommender/home.html", context)


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


@require_GET
@vary_on_headers("HX-Request")
@permission_required("recommender.view_patient", raise_exception=True)
def search(request: HtmxHttpRequest) -> HttpResponse:
    """The header's search: live results as the user types (htmx), a results page without JavaScript, and an exact
    hospital or NHS number straight to the patient."""
    query = request.GET.get("q", "").strip()
    live = bool(request.htmx) and not request.htmx.history_restore_request
    exact = clinic_selectors.patient_by_identifier(query=query)
    if exact is not None and not live:
        return redirect("patient-detail", patient_id=exact.pk)
    patients = clinic_selectors.patient_search(query=query)
    if live:
        return render(
            request,
            "recommender/search.html#live",
            {"query": query, "patients": patients[:SEARCH_PREVIEW_LIMIT], "exact": exact},
        )
    return render(request, "recommender/search.html", {"query": query, "patients": patients})
