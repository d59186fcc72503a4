"""The role matrix: every URL of the site × anonymous, nurse, clinician and admin → the expected outcome.

The list of URLs is read from the resolver itself, so a URL added without an entry in EXPECTED fails here."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

import pytest
from django.contrib.auth.models import Group
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from recommender import services
from tests.factories import DEFICIENT

ANONYMOUS, NURSE, CLINICIAN, ADMIN = "anonymous", "nurse", "clinician", "admin"
ROLES = (ANONYMOUS, NURSE, CLINICIAN, ADMIN)
ROLE_CLIENTS = {NURSE: "nurse_client", CLINICIAN: "clinician_client", ADMIN: "admin_client_"}

# The admin site is one row: its own pages are covered in test_admin.py.
ADMIN_INDEX = "admin:index"

BAD_TOKEN = "b12_not-a-real-calendar-token"


@dataclass(frozen=True)
class To:
    """A 302 redirect. ``login``: to that login page with ?next=<the path asked for>; else to the named URL."""

    name: str
    login: bool = False


LOGIN = To("login", login=True)
ADMIN_LOGIN = To("admin:login", login=True)
TO_PLAN = To("plan-detail")


@dataclass(frozen=True)
class Row:
    method: str
    outcomes: dict
    data: object = None  # POST body: a dict (form-encoded) or, with json=True, a JSON document
    json: bool = False


def page(anonymous, nurse, clinician, admin) -> Row:
    return Row("GET", {ANONYMOUS: anonymous, NURSE: nurse, CLINICIAN: clinician, ADMIN: admin})


def action(anonymous, nurse, clinician, admin, data=None) -> Row:
    return Row("POST", {ANONYMOUS: anonymous, NURSE: nurse, CLINICIAN: clinician, ADMIN: admin}, data or {})


# Nurses read the clinical record and record doses; clinicians assess, plan and change plans but do not record
# doses; the admin group has every recommender permission except deleting clinical records.
EXPECTED: dict[str, Row] = {
    "home": page(LOGIN, 200, 200, 200),
    "login": page(200, To("home"), To("home"), To("home")),
    "logout": action(LOGIN, To("login"), To("login"), To("login")),
    "patient-list": page(LOGIN, 200, 200, 200),
    "patient-create": page(LOGIN, 403, 200, 200),
    "patient-detail": page(LOGIN, 200, 200, 200),
    "patient-edit": page(LOGIN, 403, 200, 200),
    "assessment-create": page(LOGIN, 403, 200, 200),
    "assessment-preview": action(LOGIN, 403, 200, 200, {"b12_value": ""}),
    "assessment-detail": page(LOGIN, 200, 200, 200),
    "plan-detail": page(LOGIN, 200, 200, 200),
    "plan-end": action(LOGIN, 403, TO_PLAN, TO_PLAN, {"reason": ""}),
    "plan-end-loading": action(LOGIN, 403, TO_PLAN, TO_PLAN, {"on": ""}),
    "plan-stable": action(LOGIN, 403, TO_PLAN, TO_PLAN, {"on": ""}),
    "plan-interval": action(LOGIN, 403, TO_PLAN, TO_PLAN, {"every": ""}),
    "plan-month": page(LOGIN, 200, 200, 200),
    "plan-ics": page(LOGIN, 200, 200, 200),
    "dose-record": page(LOGIN, 200, 403, 200),
    "dose-error": action(LOGIN, TO_PLAN, 403, TO_PLAN, {"reason": ""}),
    # The matrix's dose was not given: there are no details to correct, so back to its plan.
    "dose-correct": page(LOGIN, TO_PLAN, 403, TO_PLAN),
    "worklist": page(LOGIN, 200, 200, 200),
    "calendar-feed": page(LOGIN, 200, 200, 200),
    # A bad token is no feed, whoever asks: the session does not stand in for the token.
    "worklist-feed": page(404, 404, 404, 404),
    # The JSON API answers 401 itself rather than redirecting to a login page.
    "api-recommendation": Row("POST", {ANONYMOUS: 401, NURSE: 200, CLINICIAN: 200, ADMIN: 200}, DEFICIENT, True),
    "api-openapi": page(401, 200, 200, 200),
    # Nurses and clinicians are not staff: the admin sends them to its own login page.
    ADMIN_INDEX: page(ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200),
}


def _walk(patterns, namespace: str | None = None):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace == "admin" or entry.app_name == "admin":
                continue
            inner = ":".join(n for n in (namespace, entry.namespace) if n) or None
            yield from _walk(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern):
            # An unnamed pattern is listed by its route, so that it too needs an entry.
            name = entry.name or f"<unnamed {entry.pattern}>"
            yield f"{namespace}:{name}" if namespace else name


def site_url_names() -> set[str]:
    """Every named URL of the site (the admin's as one entry)."""
    return {*_walk(get_resolver().url_patterns), ADMIN_INDEX}


URL_NAMES = sorted(site_url_names())


def test_every_url_of_the_site_has_an_entry_and_every_entry_a_url():
    names = site_url_names()
    assert names == set(EXPECTED), (
        f"URLs without an entry: {sorted(names - set(EXPECTED))}; entries without a URL: "
        f"{sorted(set(EXPECTED) - names)}"
    )


def test_every_entry_names_all_four_roles():
    for name, row in EXPECTED.items():
        assert set(row.outcomes) == set(ROLES), name
        assert row.method in {"GET", "POST"}, name


@pytest.fixture
def records(db, django_user_model):
    """One of everything a URL can point at: patient, assessment, plan and a dose, by a clinician of their own."""
    author = django_user_model.objects.create(username="author")
    author.groups.add(Group.objects.get(name=CLINICIAN))
    today = timezone.localdate()
    patient = services.patient_create(
        hospital_number="R0000001", family_name="Matrix", given_name="Role", date_of_birth=date(1970, 1, 1), by=author
    )
    assessment, plan = services.assessment_record(
        patient=patient,
        sample_date=today,
        payload=dict(DEFICIENT),
        plan_options={"start_date": today, "maintenance_every": 2, "maintenance_unit": "months"},
        by=author,
    )
    dose = services.dose_record(
        plan=plan, phase=plan.next_phase, number=plan.next_number, outcome="missed", reason="Did not attend", by=author
    )
    return {
        "patient_id": patient.pk,
        "assessment_id": assessment.pk,
        "plan_id": plan.pk,
        "dose_id": dose.pk,
        "token": BAD_TOKEN,
    }


def _url(name: str, records: dict) -> str:
    if name == ADMIN_INDEX:
        return reverse(name)
    pattern = next(p for p in _patterns() if p.name == name)
    return reverse(name, kwargs={key: records[key] for key in pattern.pattern.converters})


def _patterns():
    def flatten(patterns):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                if entry.namespace != "admin":
                    yield from flatten(entry.url_patterns)
            else:
                yield entry

    return flatten(get_resolver().url_patterns)


def _client(request, role: str):
    return request.getfixturevalue("client" if role == ANONYMOUS else ROLE_CLIENTS[role])


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", URL_NAMES)
def test_role_matrix(request, records, name, role):
    assert name in EXPECTED, f"{name} has no entry in EXPECTED: say who may use it"
    row = EXPECTED[name]
    client = _client(request, role)
    url = _url(name, records)
    if row.method == "GET":
        response = client.get(url)
    elif row.json:
        response = client.post(url, data=json.dumps(row.data), content_type="application/json")
    else:
        response = client.post(url, data=row.data)
    expected = row.outcomes[role]
    where = f"{row.method} {url} as {role}"
    assert response.status_code < 500, where
    if isinstance(expected, To):
        assert response.status_code == 302, f"{where}: {response.status_code}, expected a redirect to {expected.name}"
        if expected.login:
            assert response["Location"] == f"{reverse(expected.name)}?next={quote(url)}", where
        else:
            kwargs = {"plan_id": records["plan_id"]} if expected is TO_PLAN else {}
            assert response["Location"] == reverse(expected.name, kwargs=kwargs), where
    else:
        assert response.status_code == expected, f"{where}: {response.status_code}, expected {expected}"
