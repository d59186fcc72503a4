"""API tokens are read from the nodes' shared cache (issue 14: the API at the bare view's speed), and a token that
is revoked, expires, loses its user or its user's clinical role is refused at the very next request."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from recommender.access import services
from recommender.models import AccessToken
from recommender.roles import NURSE

from .conftest import make_user

URL = "/api/v1/recommendation"
BODY = json.dumps({"b12": {"value": 150, "unit": "pg/mL"}})

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client):
    def post(raw: str):
        return client.post(URL, BODY, content_type="application/json", headers={"Authorization": f"Bearer {raw}"})

    return post


@pytest.fixture
def nurse_token(django_user_model):
    nurse = make_user(django_user_model, "tokened-nurse", NURSE)
    token, raw = services.access_token_issue(user=nurse, purpose=AccessToken.Purpose.API)
    return nurse, token, raw


def test_a_known_token_is_read_without_a_query(shared, api, nurse_token, django_assert_num_queries):
    _, _, raw = nurse_token
    assert api(raw).status_code == 200  # reads the token, notes its use, stores it
    assert api(raw).status_code == 200
    with django_assert_num_queries(0):
        assert api(raw).status_code == 200


def test_a_revoked_token_is_refused_at_once(shared, api, nurse_token):
    _, token, raw = nurse_token
    assert api(raw).status_code == 200
    assert api(raw).status_code == 200
    services.access_token_revoke(token=token)
    assert api(raw).status_code == 401


def test_an_expired_token_is_refused_at_once_though_cached(shared, api, django_user_model, monkeypatch):
    nurse = make_user(django_user_model, "short-lived", NURSE)
    _, raw = services.access_token_issue(
        user=nurse, purpose=AccessToken.Purpose.API, expires_at=timezone.now() + timedelta(hours=1)
    )
    assert api(raw).status_code == 200
    assert api(raw).status_code == 200
    later = timezone.now() + timedelta(hours=2)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert api(raw).status_code == 401


def test_a_deactivated_user_is_refused_at_once(shared, api, nurse_token):
    nurse, _, raw = nurse_token
    assert api(raw).status_code == 200
    assert api(raw).status_code == 200
    nurse.is_active = False
    nurse.save()
    assert api(raw).status_code == 401


def test_a_user_without_a_clinical_role_any_more_is_refused_at_once(shared, api, nurse_token):
    nurse, _, raw = nurse_token
    assert api(raw).status_code == 200
    assert api(raw).status_code == 200
    nurse.groups.remove(Group.objects.get(name=NURSE))
    assert api(raw).status_code == 403
    nurse.groups.add(Group.objects.get(name=NURSE))
    assert api(raw).status_code == 200


def test_a_new_token_works_at_once_and_a_guess_is_not_stored(shared, api, nurse_token):
    nurse, _, _ = nurse_token
    guess = AccessToken.new_secret()
    assert api(guess).status_code == 401
    stored_before = len(shared._cache)
    assert api(guess).status_code == 401
    assert len(shared._cache) == stored_before, "a wrong secret leaves nothing in the cache"
    _, second = services.access_token_issue(user=nurse, purpose=AccessToken.Purpose.API)
    assert api(second).status_code == 200


def test_the_last_use_is_still_noted_once_a_minute(shared, api, nurse_token, monkeypatch):
    _, token, raw = nurse_token
    assert api(raw).status_code == 200
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    later = timezone.now() + timedelta(minutes=5)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert api(raw).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at == later
