"""The browser tests' live server answers requests that overlap, as a browser sends them (tests/conftest.py)."""

from __future__ import annotations

import functools

import pytest
from django.urls import reverse

from tests.factories import give, make_patient, make_plan
from tests.servers import Server, at_once, signed_in


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_overlapping_requests_are_all_answered(live_server, clinician, client):
    patient = make_patient(by=clinician)
    plan = make_plan(clinician, patient=patient)
    give(plan, clinician)
    client.force_login(clinician)
    headers = signed_in(client.cookies["sessionid"].value)
    server = Server(live_server.url)
    paths = [
        reverse("home"),
        reverse("worklist"),
        reverse("plan-detail", args=[plan.pk]),
        reverse("patient-detail", args=[patient.pk]),
        reverse("plan-ics", args=[plan.pk]),
    ]
    statuses: list[int] = []
    for _ in range(15):  # before the fix: a 503 ("database table is locked") or a request never answered
        calls = [functools.partial(server.request, path, headers=headers, timeout=10) for path in paths + paths[:3]]
        answers = at_once(calls)
        statuses += [answer.status for answer in answers]
        if set(statuses) != {200}:
            break
    assert statuses == [200] * 120
