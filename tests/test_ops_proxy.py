"""DJANGO_BEHIND_PROXY: the proxy's scheme, host and client address are trusted only when it is set."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from axes.models import AccessAttempt

from tests.servers import ROOT, server_env

SHOW = (
    "import json, b12site.settings as s; print(json.dumps([getattr(s, 'SECURE_PROXY_SSL_HEADER', None), "
    "getattr(s, 'USE_X_FORWARDED_HOST', False), getattr(s, 'AXES_CLIENT_IP_CALLABLE', None)]))"
)


def proxy_settings(**env: str) -> list:
    environment = server_env("sqlite:///unused.sqlite3", DJANGO_SETTINGS_MODULE="b12site.settings", **env)
    done = subprocess.run(  # noqa: S603 (our own interpreter)
        [sys.executable, "-c", SHOW], cwd=ROOT, env=environment, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


@pytest.mark.parametrize("debug", ["0", "1"])
def test_behind_a_proxy_its_headers_are_trusted(debug):
    assert proxy_settings(DJANGO_BEHIND_PROXY="1", DJANGO_DEBUG=debug) == [
        ["HTTP_X_FORWARDED_PROTO", "https"],
        True,
        "recommender.web.requests.client_ip",
    ]


def test_without_a_proxy_forwarded_headers_are_ignored():
    assert proxy_settings() == [None, False, None]


@pytest.mark.django_db
def test_a_failed_login_records_the_address_the_proxy_saw(client, settings, clinician):
    settings.B12_BEHIND_PROXY = True
    settings.AXES_CLIENT_IP_CALLABLE = "recommender.web.requests.client_ip"
    client.post(
        "/login/",
        {"username": clinician.username, "password": "wrong-password"},
        HTTP_X_FORWARDED_FOR="6.6.6.6, 10.1.2.3",  # the first is the client's claim; the last the proxy's own
    )
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == ["10.1.2.3"]


@pytest.mark.django_db
def test_without_a_proxy_a_forged_forwarded_address_is_not_recorded(client, clinician):
    client.post(
        "/login/", {"username": clinician.username, "password": "wrong-password"}, HTTP_X_FORWARDED_FOR="6.6.6.6"
    )
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == ["127.0.0.1"]
