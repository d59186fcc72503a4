"""The first screen for each role, and the one search box every staff page carries."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from recommender import shared_cache
from recommender.clinic import selectors as clinic_selectors
from recommender.roles import ADMIN, CLINICIAN, NURSE
from recommender.web.http import HtmxHttpRequest

from . import pages, selectors

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
            "clinician_lists": pages.role_lists(CLINICIAN, today=today),
            "recent": selectors.patients_recent_for(user=request.user),
        }
    if NURSE in roles:
        context["nurse_lists"] = pages.role_lists(NURSE, today=today)
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
