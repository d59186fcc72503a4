"""The clinic's working mix, for locust (run by bench/load.py; see there).

- Clinicians (3 of 8 users): open a patient's assessment page, preview the decision as they type (htmx fragment,
  several times), save the assessment with its plan, look at the plan page.
- Nurses (3 of 8): the worklist, open a due dose's form, record it given; now and then a plan page.
- API clients (2 of 8): POST a decision request with a bearer token.

Every task is one request, so that ``wait_time`` sets the arrival rate: BENCH_RATE requests/s over all users
(0: no wait, the saturation run). Each user's requests start at random moments (exponential gaps, a Poisson
process), as independent people's do: with equal gaps every user would keep the step it started in, and all the
clinicians would save at the same instant for the whole run, a queue no clinic makes. Users sign in with sessions
made by bench/seed.py (BENCH_SESSIONS, JSON), so the run measures the pages rather than password hashing. A page
that answers a form again with an error (two nurses on one dose, a plan changed meanwhile) is a normal clinic event,
not a failure; any 4xx/5xx answer is a failure.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import secrets
from datetime import datetime, timedelta
from time import perf_counter
from zoneinfo import ZoneInfo

from locust import HttpUser, task

CONFIG = json.loads(os.environ.get("BENCH_SESSIONS", "{}"))
RATE = float(os.environ.get("BENCH_RATE", "60"))
USERS = int(os.environ.get("BENCH_USERS", "32"))
CLINIC_TZ = ZoneInfo(os.environ.get("DJANGO_TIME_ZONE", "Europe/London"))
_clinician_sessions = itertools.cycle(CONFIG.get("sessions", {}).get("bench", [""]))
_nurse_sessions = itertools.cycle(CONFIG.get("sessions", {}).get("bench-nurse", [""]))
PATIENTS = CONFIG.get("patients", [])
FINGERPRINT = re.compile(r'name="decision_fingerprint" value="([^"]*)"')
RECORD_LINK = re.compile(r'href="(/plans/[0-9a-f-]+/doses/record/)')
HIDDEN = re.compile(r'name="(phase|number|sequence)" value="([^"]*)"')


def _wait():
    """Each user starts a request at the moments of a Poisson process of rate BENCH_RATE / BENCH_USERS (the time
    its last request took counts towards the gap); BENCH_RATE 0: no wait."""
    if RATE <= 0:
        return lambda self: 0
    per_user = RATE / USERS

    def wait(user) -> float:
        now = perf_counter()
        due = getattr(user, "_next_start", now) + random.expovariate(per_user)
        user._next_start = max(due, now)
        return user._next_start - now

    return wait


class SignedIn(HttpUser):
    abstract = True
    session_cycle = _clinician_sessions

    def on_start(self) -> None:
        self.csrf = secrets.token_hex(16)
        self.client.cookies.set("sessionid", next(type(self).session_cycle))
        self.client.cookies.set("csrftoken", self.csrf)
        self.steps = self.journey()

    def post_form(self, path: str, data: dict, name: str, **headers):
        return self.client.post(path, data=data, name=name, headers={"X-CSRFToken": self.csrf, **headers})

    @task
    def next_step(self) -> None:
        next(self.steps)


class Clinician(SignedIn):
    weight = 3
    wait_time = _wait()

    def journey(self):
        while True:
            patient = random.choice(PATIENTS)
            base = f"/patients/{patient}/assess/"
            yield self.client.get(base, name="assessment page")
            form = {
                "sample_date": datetime.now(CLINIC_TZ).strftime("%d/%m/%Y"),
                "b12_unit": "pg/mL",
                "active_b12_unit": "pmol/L",
                "homocysteine_unit": "umol/L",
            }
            fingerprint = ""
            for typed in ("1", "15", "150"):  # the live panel follows the typing
                form["b12_value"] = typed
                answer = self.post_form(f"{base}preview/", form, "htmx fragment: preview", **{"HX-Request": "true"})
                found = FINGERPRINT.search(answer.text)
                fingerprint = found.group(1) if found else ""
                yield answer
            save = form | {
                "action": "save",
                "create_plan": "1",
                "maintenance_choice": "2",
                "confirm_supersede": "1",
                "start_date": datetime.now(CLINIC_TZ).strftime("%d/%m/%Y"),
                "decision_fingerprint": fingerprint,
            }
            answer = self.post_form(base, save, "save assessment and plan")
            yield answer
            if "/plans/" in answer.url:
                yield self.client.get(answer.url, name="plan page")


class Nurse(SignedIn):
    weight = 3
    wait_time = _wait()
    session_cycle = _nurse_sessions

    def journey(self):
        while True:
            worklist = self.client.get("/worklist/", name="worklist")
            links = RECORD_LINK.findall(worklist.text)
            yield worklist
            if not links:
                continue
            path = random.choice(links)
            form = self.client.get(path, name="dose form")
            identity = dict(HIDDEN.findall(form.text))
            yield form
            now = datetime.now(CLINIC_TZ)
            given = {
                **identity,
                "outcome": "given",
                "given_at": now.strftime("%Y-%m-%dT%H:%M"),
                "dose_mg": "1",
                "route": "IM",
                "site": "left_deltoid",
                "batch": "LOAD1",
                "expiry": (now + timedelta(days=365)).strftime("%d/%m/%Y"),
                "early_reason": "Seen in clinic today.",
            }
            yield self.post_form(path, given, "record dose")
            if random.random() < 0.3:
                yield self.client.get(path.removesuffix("doses/record/"), name="plan page")


class ApiClient(HttpUser):
    weight = 2
    wait_time = _wait()
    bodies = (
        {"b12": {"value": 150, "unit": "pg/mL"}, "neurological_involvement": True},
        {"b12": {"value": 250, "unit": "ng/L"}, "mma": {"value": 450, "unit": "nmol/L"}, "egfr": 45},
        {"b12": {"value": 600, "unit": "pg/mL"}},
    )

    @task
    def decide(self) -> None:
        self.client.post(
            "/api/v1/recommendation",
            json=random.choice(self.bodies),
            headers={"Authorization": f"Bearer {CONFIG.get('api_token', '')}"},
            name="API decision",
        )


class Bare(SignedIn):
    """The floor for the saturation ratio: the bare view, through the same client, users and middleware."""

    weight = 1  # run alone: bench/load.py names the classes of each run
    wait_time = _wait()

    def journey(self):
        while True:
            yield self.client.get("/bench/bare", name="bare view")
