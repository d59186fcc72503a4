"""The role matrix: every URL of the site × anonymous, nurse, clinician and admin → the expected outcome.

The list of URLs is read from the resolver itself, so a URL added without an entry in EXPECTED fails here. A GET
changes no clinical record. A second table, EFFECTS, holds what the matrix does not: POSTs that go through (what
they write, where they lead) and htmx requests. This is the one place for access by role."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

import pytest
from django.contrib.auth.models import Group
from django.contrib.auth.views import redirect_to_login
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from recommender.clinic import services as clinic_services
from recommender.injections import services as injections_services
from tests.factories import (
    DEFICIENT,
    assessment_form,
    counts,
    htmx_headers,
    save_with_plan,
)

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
TO_BOOKINGS = To("appointment-plan")


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
    # The second sign-in step: only for a session that has one pending; done (or none needed), on to home.
    "two-factor-verify": page(LOGIN, To("home"), To("home"), To("home")),
    "two-factor-setup": page(LOGIN, 200, 200, 200),
    # "Stay signed in": no page, only the status.
    "session-keepalive": page(401, 204, 204, 204),
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
    "plan-doses": page(LOGIN, 200, 200, 200),
    "plan-month": page(LOGIN, 200, 200, 200),
    "plan-ics": page(LOGIN, 200, 200, 200),
    "dose-record": page(LOGIN, 200, 403, 200),
    "dose-error": action(LOGIN, TO_PLAN, 403, TO_PLAN, {"reason": ""}),
    # The matrix's dose was not given: there are no details to correct, so back to its plan.
    "dose-correct": page(LOGIN, TO_PLAN, 403, TO_PLAN),
    "worklist": page(LOGIN, 200, 200, 200),
    "search": page(LOGIN, 200, 200, 200),
    "calendar-feed": page(LOGIN, 200, 200, 200),
    # A bad token is no feed, whoever asks: the session does not stand in for the token.
    "worklist-feed": page(404, 404, 404, 404),
    # The JSON API answers 401 itself rather than redirecting to a login page.
    "api-recommendation": Row("POST", {ANONYMOUS: 401, NURSE: 200, CLINICIAN: 200, ADMIN: 200}, DEFICIENT, True),
    "api-openapi": page(401, 200, 200, 200),
    # CDS Hooks: only the EHR's signed JWT opens them; a session, whoever's, does not (tests/test_cds_security.py).
    "cds-discovery": page(401, 401, 401, 401),
    "cds-service": Row("POST", dict.fromkeys(ROLES, 401), {"hook": "patient-view"}, True),
    "cds-feedback": Row("POST", dict.fromkeys(ROLES, 401), {"feedback": []}, True),
    # The monitoring probes answer everyone, signed in or not (tests/test_ops_health.py).
    "healthz": page(200, 200, 200, 200),
    "readyz": page(200, 200, 200, 200),
    # Booking (issue 17): nurses and clinicians book and move; admins too (every permission but deleting clinical
    # records), and they define the locations and sessions in the admin.
    "appointment-sessions": page(LOGIN, 200, 200, 200),
    "appointment-day-list": page(LOGIN, 200, 200, 200),
    "appointment-plan": page(LOGIN, 200, 200, 200),
    "appointment-card": page(LOGIN, 200, 200, 200),
    # Without the dose it is for, the booking form goes back to the plan's bookings.
    "appointment-book": page(LOGIN, TO_BOOKINGS, TO_BOOKINGS, TO_BOOKINGS),
    "appointment-move": page(LOGIN, 200, 200, 200),
    "appointment-cancel": action(LOGIN, TO_BOOKINGS, TO_BOOKINGS, TO_BOOKINGS, {"reason": ""}),
    # Did-not-attend records the dose missed: a nurse's.
    "appointment-dna": action(LOGIN, TO_BOOKINGS, 403, TO_BOOKINGS),
    # The matrix's appointment is for a dose: only a review is marked attended.
    "appointment-attended": action(LOGIN, 404, 404, 404),
    # FHIR R4 (issue 15): the CapabilityStatement is public; reads need the pages' roles and answer 401 themselves;
    # results in need a clinician's or admin's role (an empty Bundle is refused: 422).
    "fhir-metadata": page(200, 200, 200, 200),
    "fhir-everything": page(401, 200, 200, 200),
    "fhir-read": page(401, 200, 200, 200),
    "fhir-bundle": Row(
        "POST",
        {ANONYMOUS: 401, NURSE: 403, CLINICIAN: 422, ADMIN: 422},
        {"resourceType": "Bundle", "type": "collection"},
        True,
    ),
    # Reminders (issue 16): contact details for the roles that contact patients, not the admins (who change the
    # reminder settings in the admin instead).
    "patient-contact": page(LOGIN, 200, 200, 403),
    "patient-contact-edit": page(LOGIN, 200, 200, 403),
    "reminders-failed": page(LOGIN, 200, 200, 403),
    # Recall and the dashboard (issue 16): nurses and clinicians (and admins) see them; recording "did not attend" is
    # a nurse's (the matrix's dose is not due again yet: refused with a message, back to the list).
    "recall-list": page(LOGIN, 200, 200, 200),
    "recall-dna": action(LOGIN, To("recall-list"), 403, To("recall-list")),
    "recall-contact": page(LOGIN, 200, 200, 200),
    "recall-letter": page(LOGIN, 200, 200, 200),
    "dashboard": page(LOGIN, 200, 200, 200),
    "dashboard-csv": page(LOGIN, 200, 200, 200),
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
    patient = clinic_services.patient_create(
        hospital_number="R0000001", family_name="Matrix", given_name="Role", date_of_birth=date(1970, 1, 1), by=author
    )
    assessment, plan = clinic_services.assessment_record(
        patient=patient,
        sample_date=today,
        payload=dict(DEFICIENT),
        plan_options={"start_date": today, "maintenance_every": 2, "maintenance_unit": "months"},
        by=author,
    )
    dose = injections_services.dose_record(
        plan=plan, phase=plan.next_phase, number=plan.next_number, outcome="missed", reason="Did not attend", by=author
    )
    appointment, session = _booking(plan, author)
    return {
        "patient_id": patient.pk,
        "assessment_id": assessment.pk,
        "plan_id": plan.pk,
        "dose_id": dose.pk,
        "token": BAD_TOKEN,
        "appointment_id": appointment.pk,
        "on": session.day.isoformat(),
        "key": session.key,
        "resource_type": "MedicationAdministration",
        "resource_id": dose.pk,
        "service_id": "b12-review",
    }


def _booking(plan, by):
    """The plan's next dose booked into the first free slot of a clinic open every day, all day."""
    from datetime import time

    from recommender.appointments import selectors as booking
    from recommender.appointments import services as booking_services
    from tests.factories import make_location, make_sessions

    location = make_location()
    make_sessions(location, weekdays=range(7), start=time(0), end=time(23, 50))
    due = next(d for d in booking.plan_to_book(plan, today=timezone.localdate()) if d.kind == "dose")
    slot = booking.slot_proposal(due=due, location=location, today=timezone.localdate()).slot
    appointment = booking_services.appointment_book(
        plan=plan,
        kind=due.kind,
        phase=due.phase,
        number=due.number,
        location=location,
        starts_at=slot.starts_at,
        window_reason="Matrix.",
        by=by,
    )
    return appointment, slot.session


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
    before = counts()
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
            kwargs = {"plan_id": records["plan_id"]} if expected in (TO_PLAN, TO_BOOKINGS) else {}
            assert response["Location"] == reverse(expected.name, kwargs=kwargs), where
    else:
        assert response.status_code == expected, f"{where}: {response.status_code}, expected {expected}"
    if row.method == "GET":
        assert counts() == before, f"{where} changed the clinical records"


# Requests the matrix above does not make: a POST that goes through (what it writes, where it leads) and htmx
# requests (an anonymous one must not get the login form swapped into a panel).

UUID_PATH = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
HX_LOGIN = "hx-login"  # HX-Redirect to the login page, the login form not swapped in


def _requests(world) -> dict:
    """name → (method, path, data, htmx current page or None)."""
    p = world.patient.pk
    assess = reverse("assessment-create", args=[p])
    return {
        "patient list (htmx)": ("get", reverse("patient-list") + "?q=smi", None, reverse("patient-list")),
        "patient create POST": (
            "post",
            reverse("patient-create"),
            {"hospital_number": "n123", "family_name": "New", "given_name": "Pat", "date_of_birth": "1970-05-01"},
            None,
        ),
        "assessment form POST": ("post", assess, save_with_plan(), None),
        "assessment preview (htmx)": ("post", reverse("assessment-preview", args=[p]), assessment_form(), assess),
        "plan end POST": (
            "post",
            reverse("plan-end", args=[world.plan.pk]),
            {"reason": "Moved away.", "confirm": "on"},
            None,
        ),
    }


EFFECTS = [
    # request                      anonymous  nurse  clinician  admin
    ("patient list (htmx)",         HX_LOGIN, 200,   200,       200),
    ("patient create POST",         LOGIN,    403,   302,       302),
    ("assessment form POST",        LOGIN,    403,   302,       302),
    ("assessment preview (htmx)",   HX_LOGIN, 403,   200,       200),
    ("plan end POST",               LOGIN,    403,   302,       302),
]  # fmt: skip
# Where a successful POST goes.
SUCCESS_LOCATION = {
    "patient create POST": rf"^/patients/{UUID_PATH}/$",
    "assessment form POST": rf"^/plans/{UUID_PATH}/$",
    "plan end POST": rf"^/plans/{UUID_PATH}/$",
}


def test_every_effect_row_has_a_request(world):
    assert {name for name, *_ in EFFECTS} == set(_requests(world))


@pytest.mark.parametrize(
    ("name", "role", "expected"),
    [
        pytest.param(name, role, expected, id=f"{role}-{name}")
        for name, *by_role in EFFECTS
        for role, expected in zip(ROLES, by_role, strict=True)
    ],
)
def test_what_each_role_s_request_does(request, world, name, role, expected):
    client = _client(request, role)
    method, path, data, htmx_page = _requests(world)[name]
    before = counts()
    headers = htmx_headers(htmx_page) if htmx_page else {}
    response = getattr(client, method)(path, data or {}, headers=headers)

    if expected == LOGIN:
        assert response.status_code == 302
        assert response["Location"] == redirect_to_login(path).url
    elif expected == HX_LOGIN:
        assert response.status_code < 300, "htmx follows a 302 and would swap the login form into the panel"
        assert response["HX-Redirect"] == redirect_to_login(htmx_page).url
        assert b'name="password"' not in response.content
    else:
        assert response.status_code == expected
        if expected == 302:
            assert re.match(SUCCESS_LOCATION[name], response["Location"]), response["Location"]

    writes = method == "post" and expected == 302
    assert (counts() != before) if writes else (counts() == before)
    world.plan.refresh_from_db()
    after = {"plan end POST": "ended", "assessment form POST": "superseded"}.get(name, "active") if writes else "active"
    assert world.plan.status == after
