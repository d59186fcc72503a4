"""The session engine (recommender/access/sessions.py): a request reads its session, its user and their permissions
in one query, and Django's own checks on that user (active account, password unchanged) still hold."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from recommender.models import SignInSession
from recommender.roles import NURSE
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def _queries_of(client, url) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return [q["sql"] for q in queries]


def test_a_signed_in_session_is_kept_with_its_user(nurse_client, nurse):
    assert SignInSession.objects.filter(user=nurse).count() == 1


def test_the_session_and_its_user_are_read_in_one_query(nurse_client):
    url = reverse("worklist")
    nurse_client.get(url)  # warm per-process caches (permissions, content types)
    sql = _queries_of(nurse_client, url)
    reads = [q for q in sql if "recommender_signinsession" in q]
    assert len(reads) == 1 and "auth_user" in reads[0] and "auth_permission" in reads[0]
    assert not [q for q in sql if q.lstrip().startswith('SELECT "auth_user"')], "the user was read a second time"
    assert not [q for q in sql if q.lstrip().startswith('SELECT "auth_permission"')], "permissions read again"


def test_a_role_taken_away_holds_at_the_next_request(nurse_client, nurse):
    assert nurse_client.get(reverse("worklist")).status_code == 200
    nurse.groups.clear()
    assert nurse_client.get(reverse("worklist")).status_code == 403


def test_a_role_given_holds_at_the_next_request(client, django_user_model):
    user = make_user(django_user_model, "sam", None)
    client.force_login(user)
    assert client.get(reverse("worklist")).status_code == 403
    user.groups.add(Group.objects.get(name=NURSE))
    assert client.get(reverse("worklist")).status_code == 200


def test_a_superuser_has_every_permission(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", password="a-long-passphrase-1")
    client.force_login(user)
    assert client.get(reverse("worklist")).status_code == 200
    assert client.get(reverse("patient-create")).status_code == 200


def test_a_deactivated_account_is_signed_out_at_its_next_request(nurse_client, nurse):
    nurse.is_active = False
    nurse.save()
    response = nurse_client.get(reverse("worklist"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_a_changed_password_signs_the_other_sessions_out(nurse_client, nurse):
    nurse.set_password("a-new-long-passphrase-1")
    nurse.save()
    response = nurse_client.get(reverse("worklist"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_a_session_without_a_user_reads_no_user(client):
    session = client.session
    session["anything"] = 1
    session.save()
    assert SignInSession.objects.get(session_key=session.session_key).user_id is None
    assert client.get(reverse("login")).status_code == 200
