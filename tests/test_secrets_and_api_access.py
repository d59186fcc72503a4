"""Issue 13 items 5, 6 and the bodies half of 9: secrets kept out of logs, one feed address per user, API tokens
with an expiry and a last use, the API only for the three roles, duplicate JSON keys and oversize bodies refused."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from b12site.redact import RedactSecrets, redact
from recommender.access.services import access_token_issue
from recommender.models import AccessToken
from recommender.roles import ADMIN, CLINICIAN, NURSE

from .conftest import make_user

URL = "/api/v1/recommendation"
BODY = {"b12": {"value": 150, "unit": "pg/mL"}}
ROOT = Path(__file__).resolve().parent.parent


def post(client, data, **headers):
    return client.post(
        URL,
        data=data if isinstance(data, (str, bytes)) else json.dumps(data),
        content_type="application/json",
        headers=headers,
    )


# Item 5: one live feed address per user; only "issue" issues


def test_issuing_a_feed_address_revokes_the_previous_one(nurse_client, nurse):
    for _ in range(3):
        assert nurse_client.post(reverse("calendar-feed"), {"action": "issue"}).status_code == 200
    tokens = AccessToken.objects.filter(user=nurse, purpose=AccessToken.Purpose.CALENDAR)
    assert tokens.count() == 3
    assert tokens.filter(revoked_at__isnull=True).count() == 1


def test_an_old_feed_address_stops_working_when_a_new_one_is_issued(client, nurse):
    _, old = access_token_issue(user=nurse, purpose=AccessToken.Purpose.CALENDAR)
    assert client.get(reverse("worklist-feed", kwargs={"token": old})).status_code == 200
    _, new = access_token_issue(user=nurse, purpose=AccessToken.Purpose.CALENDAR)
    assert client.get(reverse("worklist-feed", kwargs={"token": old})).status_code == 404
    assert client.get(reverse("worklist-feed", kwargs={"token": new})).status_code == 200


@pytest.mark.parametrize("action", [None, "", "save", "revoke-all", "ISSUE"])
def test_a_post_without_the_issue_action_issues_nothing(nurse_client, action):
    data = {} if action is None else {"action": action}
    response = nurse_client.post(reverse("calendar-feed"), data)
    assert response.status_code == 400
    assert "Create a feed address" in response.content.decode()
    assert not AccessToken.objects.exists()


def test_api_tokens_are_not_limited_to_one(nurse):
    access_token_issue(user=nurse, purpose=AccessToken.Purpose.API, name="EHR")
    access_token_issue(user=nurse, purpose=AccessToken.Purpose.API, name="lab")
    assert AccessToken.objects.filter(revoked_at__isnull=True).count() == 2


# Item 5: API tokens hashed, shown once, optional expiry, last use


def test_api_token_is_stored_as_a_digest_only(nurse):
    token, raw = access_token_issue(user=nurse, purpose=AccessToken.Purpose.API)
    stored = AccessToken.objects.filter(pk=token.pk).values().get()
    assert raw not in json.dumps(stored, default=str)
    assert stored["digest"] == AccessToken.digest_of(raw)


def test_an_expired_api_token_is_refused(client, nurse, monkeypatch):
    _, raw = access_token_issue(
        user=nurse, purpose=AccessToken.Purpose.API, expires_at=timezone.now() + timedelta(hours=1)
    )
    assert post(client, BODY, Authorization=f"Bearer {raw}").status_code == 200
    later = timezone.now() + timedelta(hours=2)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert post(client, BODY, Authorization=f"Bearer {raw}").status_code == 401


def test_an_expiry_in_the_past_is_refused_naming_the_field(nurse):
    with pytest.raises(ValidationError) as refused:
        access_token_issue(user=nurse, purpose=AccessToken.Purpose.API, expires_at=timezone.now() - timedelta(days=1))
    assert "expires_at" in refused.value.message_dict
    assert not AccessToken.objects.exists()


def test_a_token_records_when_it_was_last_used(client, nurse):
    token, raw = access_token_issue(user=nurse, purpose=AccessToken.Purpose.API)
    assert token.last_used_at is None
    post(client, BODY, Authorization=f"Bearer {raw}")
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert timezone.now() - token.last_used_at < timedelta(minutes=1)


def test_api_token_command_prints_the_secret_once_with_an_expiry(nurse):
    out = io.StringIO()
    call_command("api_token", nurse.username, "--days", "30", stdout=out)
    raw = out.getvalue().strip()
    token = AccessToken.objects.get()
    assert token.digest == AccessToken.digest_of(raw)
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)


# Item 5: secrets never reach a log


def test_redact_cuts_feed_tokens_and_bearer_tokens():
    raw = AccessToken.new_secret()
    line = f'"GET /feeds/worklist/{raw}.ics HTTP/1.1" 200 Authorization: Bearer {raw} referer=/x?t={raw}'
    cleaned = redact(line)
    assert raw not in cleaned
    assert "/feeds/worklist/[redacted].ics" in cleaned
    assert redact("/feeds/worklist/not-one-of-ours.ics") == "/feeds/worklist/[redacted].ics"


@pytest.mark.django_db
def test_django_request_log_never_holds_the_feed_token(client):
    handler = next(h for h in logging.getLogger().handlers if any(isinstance(f, RedactSecrets) for f in h.filters))
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        raw = AccessToken.new_secret()
        assert client.get(f"/feeds/worklist/{raw}.ics").status_code == 404  # Django logs "Not Found: <path>"
    finally:
        handler.setStream(previous)
    log = stream.getvalue()
    assert "Not Found: /feeds/worklist/[redacted].ics" in log
    assert raw not in log


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.django_db
def test_gunicorn_access_log_never_holds_the_feed_token(tmp_path):
    port = _free_port()
    access_log = tmp_path / "access.log"
    env = {
        **os.environ,
        "GUNICORN_ACCESS_LOG": str(access_log),
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
    }
    server = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        [sys.executable, "-m", "gunicorn", "b12site.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    raw = AccessToken.new_secret()
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/feeds/worklist/{raw}.ics?x={raw}", timeout=5)
            except urllib.error.HTTPError:
                break  # an answer (no database here, so an error status): the line is logged
            except OSError:
                time.sleep(0.1)
                continue
            break
        for _ in range(50):
            if access_log.exists() and access_log.read_text():
                break
            time.sleep(0.1)
    finally:
        server.terminate()
        output = server.communicate(timeout=20)[0].decode(errors="replace")
    log = access_log.read_text()
    assert "/feeds/worklist/[redacted].ics" in log
    assert raw not in log
    assert raw not in output  # nor in Django's own error log


# Item 6: the API requires a clinical role


@pytest.mark.parametrize("role", [CLINICIAN, NURSE, ADMIN])
def test_each_role_may_use_the_api_by_session(client, django_user_model, role):
    client.force_login(make_user(django_user_model, f"user_{role}", role))
    assert post(client, BODY).status_code == 200
    assert client.get("/api/v1/openapi.json").status_code == 200


@pytest.mark.parametrize("staff", [False, True])
def test_an_account_without_a_role_gets_403_json(client, django_user_model, staff):
    user = make_user(django_user_model, "no_role", None)
    user.is_staff = staff
    user.save()
    client.force_login(user)
    response = post(client, BODY)
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert "clinical role" in response.json()["errors"]["permission"][0]
    assert client.get("/api/v1/openapi.json").status_code == 403


def test_a_token_of_an_account_without_a_role_gets_403(client, django_user_model):
    user = make_user(django_user_model, "integration", None)
    _, raw = access_token_issue(user=user, purpose=AccessToken.Purpose.API)
    assert post(client, BODY, Authorization=f"Bearer {raw}").status_code == 403
    user.groups.add(Group.objects.get(name=NURSE))
    assert post(client, BODY, Authorization=f"Bearer {raw}").status_code == 200


# Item 9: bodies


def test_duplicate_json_keys_are_refused_naming_the_key(clinician_client):
    response = post(
        clinician_client, '{"b12": {"value": 150, "unit": "pg/mL"}, "b12": {"value": 900, "unit": "pg/mL"}}'
    )
    assert response.status_code == 400
    assert "given more than once" in response.json()["errors"]["b12"][0]


def test_duplicate_keys_inside_a_measurement_are_refused(clinician_client):
    response = post(clinician_client, '{"b12": {"value": 150, "value": 900, "unit": "pg/mL"}}')
    assert response.status_code == 400
    assert "value" in response.json()["errors"]


def test_an_oversize_api_body_gets_json_413(clinician_client, settings):
    body = json.dumps({**BODY, "padding": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)})
    response = post(clinician_client, body)
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert "larger than" in response.json()["errors"]["body"][0]


def test_an_oversize_form_post_to_the_api_gets_json_413(clinician_client, settings):
    response = clinician_client.post(URL, {"padding": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)})
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
