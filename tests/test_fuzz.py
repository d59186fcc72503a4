"""Fuzz every endpoint of the site with generated input, as every role: never a 5xx, never a half-saved record.

Endpoints come from the URLconf (every pattern outside the admin is a case, so a new one is covered the day it is
added); the fields to post come from the forms the site itself renders (the pages are crawled first), mixed with
garbage: wrong types, missing fields, NUL and control characters, out-of-range dates, 200,000-character strings,
and the ids of other records. Run on SQLite and PostgreSQL (DATABASE_URL=postgres://…)."""

from __future__ import annotations

import os
import re
import uuid
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qs

import pytest
from django.apps import apps
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.exceptions import Resolver404
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommender.access import services as access_services
from recommender.models import AccessToken, Appointment, Assessment, DoseRecord, LabProfile, Patient, TreatmentPlan
from recommender.roles import ADMIN, CLINICIAN, NURSE
from tests.conftest import ensure_roles
from tests.factories import (
    DEFICIENT,
    DEFICIENT_NEURO,
    finish_loading,
    give,
    make_assessment,
    make_patient,
    make_plan,
    miss,
)

ROLES = ("anonymous", NURSE, CLINICIAN, ADMIN)
EXAMPLES = int(os.environ.get("B12_FUZZ_EXAMPLES", "15"))  # generated bodies per endpoint; raise it for a long hunt
HUGE = 200_000


def _patterns(resolvers, prefix=""):
    for entry in resolvers:
        if isinstance(entry, URLResolver):
            if str(entry.pattern) == "admin/":
                continue  # Django's own admin: its malformed-id and filter cases are in test_errors.py
            yield from _patterns(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield entry.name or prefix + str(entry.pattern), entry


ENDPOINTS = dict(_patterns(get_resolver().url_patterns))

# URL parameter → the kind of record it names (a parameter not listed here fails the test: add it).
PARAM_MODELS = {
    "patient_id": Patient,
    "assessment_id": Assessment,
    "plan_id": TreatmentPlan,
    "dose_id": DoseRecord,
    "token": AccessToken,
    "appointment_id": Appointment,
    "on": "session day",
    "key": "session key",
    # FHIR read by id (issue 15): a dose's MedicationAdministration.
    "resource_type": "FHIR type",
    "resource_id": DoseRecord,
    "service_id": "cds service",
}

# Clinically valid starting points, so that generated bodies also reach the services and the database.
SEEDS = {
    "assessment-create": {
        "b12_value": "150",
        "b12_unit": "pg/mL",
        "action": "save",
        "create_plan": "1",
        "maintenance_choice": "2",
    },
    "assessment-preview": {"b12_value": "150", "b12_unit": "pg/mL"},
    "dose-record": {
        "outcome": "given",
        "site": "left_deltoid",
        "batch": "B123",
        "dose_mg": "1",
        "route": "IM",
        "expiry": "2999-01-01",
    },
    "patient-create": {"hospital_number": "F0001", "family_name": "Fuzz", "given_name": "Case"},
    "login": {"username": "fuzz_nobody", "password": "not-the-password"},
    "plan-end": {"reason": "Moved away."},
    "plan-interval": {"every": "2", "unit": "months", "reason": "Symptoms return early."},
    "dose-error": {"reason": "Wrong patient."},
    "fhir-bundle": {
        "resourceType": '"Bundle"',
        "type": '"collection"',
        "entry": '[{"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "B12"}}}]',
    },
    "api-recommendation": {
        "b12": '{"value": 150, "unit": "pg/mL"}',
        "mma": '{"value": 0.5, "unit": "umol/L", "upper_limit": 0.45}',
        "neurological_involvement": "true",
        "profile": "a\x00b",
    },
}

# Endpoints that take JSON, not a page's form: the JSON API and FHIR (issue 15).
JSON_ENDPOINTS = ("api-", "fhir-", "cds-")
DATES = ["0001-01-01", "9999-12-31", "2026-02-30", "1899-12-31", "1950-06-15", "1900-01-01", "2026-13-01", "today"]
NUMBERS = ["0", "-1", "1e308", "-1e308", "NaN", "Infinity", "99999999999999999999", "0.000001", "1.5", "2", "3", "12"]
CONTROL = ["a\x00b", "\x00", "\x01\x02", "x\x1fy", "\t\r\n", "\x7f"]
WORDS = ["", "on", "1", "true", "save", "preview", "individualised", "revoke", "issue", "given", "missed", "months"]


def _garbage(ids: list[str], today: str) -> st.SearchStrategy[str]:
    dates = [today if d == "today" else d for d in DATES]
    return st.one_of(
        st.sampled_from(dates + [f"{d}T09:30" for d in dates]),
        st.sampled_from(NUMBERS),
        st.sampled_from(CONTROL),
        st.sampled_from(WORDS),
        st.sampled_from(ids),
        st.just("9" * HUGE),
        st.just("x" * HUGE),
        st.text(max_size=12),
    )


class FormFields(HTMLParser):
    """The fields each form of a page posts, by target path: inputs, selects (with their options), textareas.
    Inputs outside any form (an htmx fragment) belong to the fragment's own URL and to the hx-post targets in it."""

    def __init__(self, page_path: str):
        super().__init__()
        self.page_path = page_path
        self.forms: dict[str, dict[str, list[str]]] = {}
        self.kinds: dict[str, str] = {}
        self.loose: dict[str, list[str]] = {}
        self.loose_targets: set[str] = {page_path}
        self._stack: list[tuple[set[str], dict[str, list[str]]]] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def _fields(self) -> dict[str, list[str]]:
        return self._stack[-1][1] if self._stack else self.loose

    def _kind(self, name: str | None, kind: str) -> None:
        if name:
            self.kinds.setdefault(name, kind)

    def _add(self, name: str | None, value: str | None) -> None:
        if name:
            values = self._fields().setdefault(name, [])
            if value is not None and value not in values:
                values.append(value)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":  # a search form (GET) gives the query its fields, as a POST form gives the body its own
            targets = {a.get("action") or self.page_path}
            if a.get("hx-post"):
                targets.add(a["hx-post"])
            self._stack.append((targets, {}))
        elif tag == "a" and "?" in a.get("href", ""):  # a link's query (a page, a date, a month) is input too
            path, _, query = a["href"].partition("?")
            merged = self.forms.setdefault(path or self.page_path, {})
            for name, values in parse_qs(query, keep_blank_values=True).items():
                self.kinds.setdefault(name, "text")
                merged.setdefault(name, []).extend(v for v in values if v not in merged.get(name, []))
        elif tag in {"button", "input"} and a.get("hx-post"):
            (self._stack[-1][0] if self._stack else self.loose_targets).add(a["hx-post"])
        if tag == "input" and a.get("type") not in {"submit", "button", "reset", "image"}:
            self._kind(a.get("name"), a.get("type") or "text")
            self._add(a.get("name"), a.get("value", "on" if a.get("type") in {"checkbox", "radio"} else ""))
        elif tag in {"button"} and a.get("name"):
            self._kind(a["name"], "radio")
            self._add(a["name"], a.get("value", ""))
        elif tag == "select":
            self._select = a.get("name")
            self._kind(self._select, "radio")
            self._add(self._select, None)
        elif tag == "option" and self._select:
            self._add(self._select, a.get("value", ""))
        elif tag == "textarea":
            self._textarea = a.get("name")
            self._kind(self._textarea, "text")
            self._add(self._textarea, None)

    def handle_endtag(self, tag):
        if tag == "form" and self._stack:
            targets, fields = self._stack.pop()
            for target in targets:
                merged = self.forms.setdefault(target, {})
                for name, values in fields.items():
                    merged.setdefault(name, []).extend(v for v in values if v not in merged.get(name, []))
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def close(self):
        super().close()
        if self.loose:
            for target in self.loose_targets:
                merged = self.forms.setdefault(target, {})
                for name, values in self.loose.items():
                    merged.setdefault(name, []).extend(v for v in values if v not in merged.get(name, []))


def _booked(plan, by):
    """Booking (issue 17): a clinic open every day, all day; the plan's next dose and next review booked into
    their first free slots. Returns the dose's booking and the review's session (its day list offers every action)."""
    from datetime import time

    from recommender.appointments import selectors as booking
    from recommender.appointments import services as booking_services
    from tests.factories import make_location, make_sessions

    location = make_location()
    make_sessions(location, weekdays=range(7), start=time(0), end=time(23, 50))
    booked = {}
    for due in booking.plan_to_book(plan, today=timezone.localdate()):
        slot = booking.slot_proposal(due=due, location=location, today=timezone.localdate()).slot
        booked[due.kind] = (
            booking_services.appointment_book(
                plan=plan,
                kind=due.kind,
                phase=due.phase,
                number=due.number,
                location=location,
                starts_at=slot.starts_at,
                window_reason="Fuzz world.",
                by=by,
            ),
            slot.session,
        )
    # The review into a slot of today's session that has begun: "attended" and "did not attend" are offered only
    # once an appointment's time has come.
    review, session = booked["review"][0], booked["review"][1]
    today = next((s for s in booking.sessions_on(timezone.localdate()) if s.location_id == location.pk), None)
    if today is not None:
        begun = max(at for at in today.slots() if at <= timezone.now())
        Appointment.objects.filter(pk=review.pk).update(starts_at=begun, due_on=timezone.localdate(begun))
        session = today
    return booked["dose"][0], session


class World:
    """A small clinic: two patients with active plans (one with a dose recorded), users of every role."""

    def __init__(self, django_user_model):
        from tests.conftest import make_user

        ensure_roles()
        self.users = {role: make_user(django_user_model, f"fuzz_{role}", role) for role in ROLES[1:]}
        by = self.users[CLINICIAN]
        self.patient = make_patient(by=by)
        self.other_patient = make_patient(by=by)
        self.plan = make_plan(by=by, patient=self.patient, payload=DEFICIENT_NEURO)
        self.other_plan = make_plan(
            by=by, patient=self.other_patient, payload=DEFICIENT, start=timezone.localdate() - timedelta(days=40)
        )
        self.assessment = make_assessment(self.patient, by)
        now = timezone.now()
        miss(self.plan, self.users[NURSE])
        # A dose given, then loading ended: the plan page offers corrections and "mark stable" to post to.
        self.dose = give(
            self.plan, self.users[NURSE], given_at=now, sequence=self.plan.calendar_sequence, early_reason="Fuzz world."
        )
        # A three-times-weekly course completed: its plan page offers "mark stable" to post to.
        finish_loading(self.other_plan, self.users[NURSE])
        _, self.calendar_token = access_services.access_token_issue(
            user=self.users[NURSE], purpose=AccessToken.Purpose.CALENDAR, name="fuzz"
        )
        self.today = timezone.localdate(now).isoformat()
        self.appointment, self.session = _booked(self.other_plan, self.users[NURSE])
        # A first dose never recorded (issue 16): the recall list and the worklist offer "did not attend" to post to.
        make_plan(by=by, patient=make_patient(by=by), start=timezone.localdate() - timedelta(days=30))
        self.ids = [
            str(x)
            for x in (
                self.patient.pk,
                self.other_patient.pk,
                self.plan.pk,
                self.other_plan.pk,
                self.assessment.pk,
                self.dose.pk,
                uuid.uuid4(),
                *LabProfile.objects.values_list("pk", flat=True),
            )
        ]

    def params(self, name: str) -> dict[str, str]:
        """The URL parameters of an endpoint, each naming a real record of the right kind."""
        pattern = ENDPOINTS[name]
        own = {
            Patient: self.patient.pk,
            Assessment: self.assessment.pk,
            TreatmentPlan: self.plan.pk,
            DoseRecord: self.dose.pk,
            AccessToken: self.calendar_token,
            Appointment: self.appointment.pk,
            "session day": self.session.day.isoformat(),
            "session key": self.session.key,
            "FHIR type": "MedicationAdministration",
            "cds service": "b12-review",
        }
        values = {}
        for param in pattern.pattern.converters:
            assert param in PARAM_MODELS, f"{name}: no record known for URL parameter {param!r}; add it to PARAM_MODELS"
            values[param] = str(own[PARAM_MODELS[param]])
        return values


def _client(world: World, role: str) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(world.users[role])
    return client


# Contact details (issue 16) are for clinicians and nurses, not the admin group: crawled and fuzzed as a clinician.
CLINICIAN_MOST = {"patient-contact", "patient-contact-edit", "reminders-failed"}


def _most_allowed(name: str) -> str:
    return CLINICIAN if name in CLINICIAN_MOST else ADMIN


def _crawl(world: World) -> tuple[dict[str, dict[str, list[str]]], dict[str, str]]:
    """Fields by URL name, from every page the site renders to its most privileged role or to anyone (and from the
    live panel)."""
    client = _client(world, ADMIN)
    found: dict[str, dict[str, list[str]]] = {}
    kinds: dict[str, str] = {}
    pages = []
    for name in ENDPOINTS:
        path = reverse(name, kwargs=world.params(name))
        pages.extend((path, c.get(path)) for c in (_client(world, _most_allowed(name)), Client()))
    other = reverse("plan-detail", kwargs={"plan_id": world.other_plan.pk})
    pages.append((other, client.get(other)))
    preview = reverse("assessment-preview", kwargs={"patient_id": world.patient.pk})
    pages.append((preview, client.post(preview, {**SEEDS["assessment-preview"], "sample_date": world.today})))
    for path, response in pages:
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        parser = FormFields(path)
        parser.feed(response.content.decode())
        parser.close()
        kinds.update({k: v for k, v in parser.kinds.items() if k not in kinds})
        for target, fields in parser.forms.items():
            try:
                match = resolve(target.split("?")[0])
            except Resolver404:
                continue
            merged = found.setdefault(match.url_name, {})
            for field, values in fields.items():
                merged.setdefault(field, []).extend(v for v in values if v not in merged.get(field, []))
    for fields in found.values():
        fields.pop("csrfmiddlewaretoken", None)
    return found, kinds


def _counts() -> dict[str, int]:
    # Sign-in sessions are not records: signing out ends one, whatever the answer.
    models = [m for m in apps.get_app_config("recommender").get_models() if m.__name__ != "SignInSession"]
    return {m._meta.label: m._default_manager.count() for m in models}


@pytest.fixture
def crawl_world(db, django_user_model, settings) -> World:
    """A user of every role and the site's forms as each sees them (not the shared ``world`` of tests/conftest.py).
    No public holidays: the booked review's session is today's, whatever the day."""
    settings.B12_HOLIDAYS = ""
    return World(django_user_model)


def _base_body(fields: dict[str, list[str]], kinds: dict[str, str], seed: dict[str, str]) -> dict[str, str]:
    """What a careful user would post: the seed's values, else each field's value as the page offers it (boxes
    unticked)."""
    body = {}
    for field, values in fields.items():
        if kinds.get(field) == "checkbox":
            continue
        offered = [v for v in values if v] or values
        if offered:
            body[field] = offered[0]
    return {**body, **seed}


def _send(world: World, name: str, role: str, url: str, body: dict, method: str, **headers):
    """One request in a savepoint rolled back after it: no 5xx, nothing written by a refusal, complete sets."""
    with transaction.atomic():
        before = _counts()
        client = _client(world, role)
        if name.startswith(JSON_ENDPOINTS):
            response = client.generic(
                method.upper(), url, _json_body(body), content_type="application/json", headers=headers
            )
        else:
            response = getattr(client, method)(url, body, headers=headers)
        after = _counts()
        transaction.set_rollback(True)
    shown = {k: (v if len(v) < 60 else f"{v[:10]}…({len(v)} chars)") for k, v in body.items()}
    assert response.status_code < 500, (role, url, shown)
    if 400 <= response.status_code < 500:
        assert after == before, f"{role} {url} {shown}: refused ({response.status_code}) but rows changed"
    _assert_complete(before, after, body)
    return response


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
@pytest.mark.django_db
def test_no_5xx_and_no_partial_rows(name, crawl_world):
    world = crawl_world
    found, kinds = _crawl(world)
    fields = found.get(name, {})
    params = world.params(name)
    url = reverse(name, kwargs=params)
    probe = _send(world, name, _most_allowed(name), url, {}, "post")
    method = "get" if probe.status_code == 405 else "post"
    if method == "post":
        # The second sign-in step shows its form only to a session with the step pending (tests/test_sign_in.py).
        pending_only = {"logout", "two-factor-verify"}
        assert fields or name.startswith(JSON_ENDPOINTS) or name in pending_only, (
            f"{name} takes POST but no page posts to it"
        )
    seed = {k: v.replace("today", world.today) for k, v in SEEDS.get(name, {}).items()}
    base = _base_body(fields, kinds, seed)
    names = sorted({*fields, *seed})

    # Every role with the careful body; then each field replaced by the edge cases of its kind, and left out.
    for role in ROLES:
        _send(world, name, role, url, base, method)
    for role in (_most_allowed(name), "anonymous"):  # the role allowed most, and no one (the login form)
        _send(world, name, role, url, {**base, names[0] if names else "q": "a\x00b"}, method)
        for field in names:
            for edge in _edges(world, kinds.get(field, "text")):
                _send(world, name, role, url, {**base, field: edge}, method)
            _send(world, name, role, url, {k: v for k, v in base.items() if k != field}, method)

    # Then generated bodies: a few fields changed, dropped or added, any role, ids of other records in the URL.
    garbage = _garbage(world.ids, world.today)
    tampered = {p: st.sampled_from([v, *world.ids]) for p, v in params.items()}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def generated(data):
        role = data.draw(st.sampled_from(ROLES), label="role")
        target = reverse(name, kwargs={p: data.draw(s, label=p) for p, s in tampered.items()})
        body = dict(base)
        for field in data.draw(st.lists(st.sampled_from([*names, "extra"]), max_size=4, unique=True), label="fields"):
            change = data.draw(st.sampled_from(["garbage", "missing", "offered"]), label=field)
            if change == "missing":
                body.pop(field, None)
            elif change == "offered" and fields.get(field):
                body[field] = data.draw(st.sampled_from(fields[field]), label=field)
            else:
                body[field] = data.draw(garbage, label=field)
        headers = {"User-Agent": data.draw(st.one_of(st.just("Mozilla/5.0"), garbage), label="User-Agent")}
        if data.draw(st.booleans(), label="htmx"):
            headers["HX-Request"] = "true"
        _send(world, name, role, target, body, method, **headers)

    generated()


def _edges(world: World, kind: str) -> list[str]:
    """Values that break a field of this kind: too long, out of range, the wrong type, another record's id."""
    huge = "9" * HUGE  # digits: too long as text, too large as a number
    other_id = world.ids[3]  # another patient's plan
    return {
        "checkbox": ["on"],  # ticked (any value is a tick)
        "radio": [huge, other_id],
        "number": ["", huge, "1e308", "-1"],
        "date": ["", "0001-01-01", "9999-12-31", "2026-02-30"],
        "datetime-local": ["", "0001-01-01T00:00", "9999-12-31T23:59", "2026-02-30T10:00"],
        "hidden": ["", huge, "-1", other_id],
    }.get(kind, ["", huge, other_id])


def _json_body(body: dict) -> str:
    """The form body reshaped as the API's JSON (numbers where they parse), keeping the garbage."""
    import json

    shaped: dict = {}
    for key, value in body.items():
        try:
            shaped[key] = json.loads(value) if len(value) < 100 else value
        except ValueError:
            shaped[key] = value
    return json.dumps(shaped)


def _assert_complete(before: dict[str, int], after: dict[str, int], body: dict) -> None:
    """Rows written by one request form a complete set: history for every record, a plan when one was asked."""
    new = {label: after[label] - before[label] for label in after}
    for label, added in new.items():
        history = label.replace(".", ".Historical")
        if added > 0 and history in new:
            assert new[history] >= added, f"{label} saved without its history"
    if new["recommender.DoseRecord"] > 0 or new["recommender.TreatmentPlan"] > 0:
        assert new["recommender.HistoricalTreatmentPlan"] > 0, "a dose or plan saved without the plan's new schedule"
    asked_plan = body.get("action") == "save" and body.get("create_plan") == "1"
    if asked_plan and new["recommender.Assessment"] > 0:
        assert new["recommender.TreatmentPlan"] > 0, "an assessment saved without the plan that was asked for"


@pytest.mark.django_db
def test_combined_save_error_for_a_field_the_plan_form_lacks_is_shown_not_500(crawl_world):
    world = crawl_world
    """'Save assessment and start plan' with a sample date before the date of birth: a message, nothing saved."""
    client = _client(world, CLINICIAN)
    before = _counts()
    born = world.patient.date_of_birth
    preview = client.post(
        reverse("assessment-preview", kwargs={"patient_id": world.patient.pk}),
        {**SEEDS["assessment-preview"], "sample_date": world.today},
    ).content.decode()
    fingerprint = re.search(r'name="decision_fingerprint" value="([^"]*)"', preview).group(1)
    response = client.post(
        reverse("assessment-create", kwargs={"patient_id": world.patient.pk}),
        {
            **SEEDS["assessment-create"],
            "sample_date": (born - timedelta(days=30)).isoformat(),
            "start_date": world.today,
            "decision_fingerprint": fingerprint,
            "confirm_supersede": "1",
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "before the patient" in page, re.sub(r"\s+", " ", page[page.find("There is a problem") :][:600])
    assert _counts() == before


def test_every_endpoint_is_a_case():
    """The cases are the URLconf itself; a parameter without a known record would leave an endpoint untested."""
    for name, pattern in ENDPOINTS.items():
        assert set(pattern.pattern.converters) <= set(PARAM_MODELS), name
