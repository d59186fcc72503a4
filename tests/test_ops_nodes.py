"""Several nodes on one PostgreSQL: nothing that matters is kept in a process, so two app servers agree at once.

A lockout made on one node holds on the other, a lab-profile change made on one applies on the other, and the same
dose recorded through both at once is recorded once. Run with the embedded default (no shared cache) and, where
redis-server is installed, with REDIS_URL. Needs PostgreSQL (CI runs the suite on it too): SQLite is one machine's
database by nature."""

from __future__ import annotations

import re
import shutil
from contextlib import ExitStack
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from bench.harness import redis_server
from recommender.clinic import services
from recommender.models import DoseRecord, LabProfile
from tests.conftest import PASSWORD
from tests.factories import make_patient, make_plan
from tests.server_seed import signed_in_session
from tests.servers import CSRF, app_server, at_once, database_url, dose_form, signed_in

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="two nodes share a PostgreSQL database"),
]


@pytest.fixture(scope="module", params=["embedded", "redis"])
def two_nodes(request, django_db_setup):
    """Two gunicorn nodes on the test database, kept for the module (each test's records are its own)."""
    extra = {"DJANGO_SECRET_KEY": settings.SECRET_KEY}  # sessions made here are valid on the nodes
    with ExitStack() as stack:
        if request.param == "redis":
            if shutil.which("redis-server") is None:
                pytest.skip("redis-server is not installed")
            extra["REDIS_URL"] = stack.enter_context(redis_server())
        first = stack.enter_context(app_server(database_url(), workers=1, threads=4, **extra))
        second = stack.enter_context(app_server(database_url(), workers=1, threads=4, **extra))
        for node in (first, second):
            ready = node.request("/readyz")
            assert ready.status == 200, ready.body
            assert ('"cache": "ok"' in ready.body) == (request.param == "redis")
        yield first, second


def login(node, username: str, password: str):
    data = urlencode({"csrfmiddlewaretoken": CSRF, "username": username, "password": password}).encode()
    return node.request(
        "/login/",
        data=data,
        headers={"Cookie": f"csrftoken={CSRF}", "Content-Type": "application/x-www-form-urlencoded"},
    )


def test_a_lockout_on_one_node_holds_on_the_other(two_nodes, clinician, nurse):
    first, second = two_nodes
    assert login(second, nurse.username, PASSWORD).status == 302  # the right password signs in on either node
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(first, clinician.username, "not-the-password")
    refused = login(second, clinician.username, PASSWORD)
    assert refused.status == settings.AXES_HTTP_RESPONSE_CODE
    assert "locked" in refused.body.lower()


def test_a_lab_profile_change_on_one_node_applies_on_the_other(two_nodes, clinician, admin_user):
    first, second = two_nodes
    north = LabProfile.objects.create(name="North lab")
    south = LabProfile.objects.create(name="South lab")
    services.lab_profile_make_default(profile=north, by=admin_user)
    patient = make_patient(by=clinician)
    page = f"/patients/{patient.pk}/assess/"
    as_clinician = {"Cookie": f"sessionid={signed_in_session(clinician)}"}

    def default_shown(node) -> list[str]:
        html = node.request(page, headers=as_clinician).body
        [select] = re.findall(r'<select name="lab_profile".*?</select>', html, flags=re.S)
        return re.findall(r'<option value="([^"]*)"[^>]*\bselected\b', select)

    assert default_shown(second) == [str(north.pk)]  # the second node has read the default once already

    action = urlencode({"csrfmiddlewaretoken": CSRF, "action": "make_default", "_selected_action": str(south.pk)})
    made = first.request(
        "/admin/recommender/labprofile/",
        data=action.encode(),
        headers=signed_in(signed_in_session(admin_user)),
    )
    assert made.status == 302
    assert LabProfile.objects.get(is_default=True) == south

    assert default_shown(second) == [str(south.pk)]
    assert default_shown(first) == [str(south.pk)]


def test_the_same_dose_recorded_through_both_nodes_at_once_is_recorded_once(two_nodes, clinician, nurse):
    first, second = two_nodes
    plan = make_plan(clinician)
    identity = {"phase": plan.next_phase, "number": plan.next_number, "sequence": plan.calendar_sequence}
    headers = signed_in(signed_in_session(nurse))

    def post(node):
        return lambda: node.request(f"/plans/{plan.pk}/doses/record/", data=dose_form(identity), headers=headers)

    answers = at_once([post(first), post(second)] * 4)
    assert [a.status for a in answers] == [302] * 8
    assert DoseRecord.objects.filter(plan=plan).count() == 1


def test_a_dose_recorded_on_one_node_is_on_the_other_nodes_plan_page_worklist_and_home_at_once(
    two_nodes, clinician, nurse
):
    """The pages each node keeps in the shared cache (a plan's page, the worklist, the home lists) are retired for
    every node by a write on any of them."""
    first, second = two_nodes
    plan = make_plan(clinician, start=timezone.localdate() - timedelta(days=7), family_name="Twonodes")
    identity = {"phase": plan.next_phase, "number": plan.next_number, "sequence": plan.calendar_sequence}
    headers = signed_in(signed_in_session(nurse))
    plan_page, worklist, home = f"/plans/{plan.pk}/", "/worklist/", "/"

    def overdue(node, path) -> bool:
        body = node.request(path, headers=headers).body
        section = body.split('id="wl-overdue"' if path == worklist else 'id="home-overdue"')[1].split("</section>")[0]
        return "TWONODES" in section

    before = second.request(plan_page, headers=headers).body
    assert "Mark entered in error" not in before
    assert overdue(second, worklist) and overdue(second, home)  # read, and kept, by the second node
    assert overdue(second, worklist) and overdue(second, home)

    recorded = first.request(f"/plans/{plan.pk}/doses/record/", data=dose_form(identity), headers=headers)
    assert recorded.status == 302
    assert "Mark entered in error" in second.request(plan_page, headers=headers).body
    assert not overdue(second, worklist) and not overdue(second, home)
