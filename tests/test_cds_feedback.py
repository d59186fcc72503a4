"""Feedback on the cards (accepted, or overridden and why) is stored whole or not at all and reported in the admin;
EHR clients are registered with `manage.py cds_client`."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from recommender.models import CdsClient, CdsFeedback
from tests.cds_client import ISSUER, hook_body, jwks, observation, post, prefetch, register

REVIEW = "/cds-services/b12-review"
FEEDBACK = "/cds-services/b12-review/feedback"

pytestmark = pytest.mark.django_db


@pytest.fixture
def card(client):
    register()
    response = post(client, REVIEW, hook_body(prefetched=prefetch(observation("2132-9", 150, "ng/L"))))
    [issued] = response.json()["cards"]
    return issued


def _overridden(card: dict, code: str = "already-treated", comment: str = "On injections at the GP's.") -> dict:
    return {
        "card": card["uuid"],
        "outcome": "overridden",
        "overrideReason": {
            "reason": {"system": card["overrideReasons"][0]["system"], "code": code},
            "userComment": comment,
        },
        "outcomeTimestamp": "2026-12-02T09:30:00Z",
    }


def test_overridden_advice_is_stored_with_its_reason(client, card):
    response = post(client, FEEDBACK, {"feedback": [_overridden(card)]})
    assert response.status_code == 200, response.content
    stored = CdsFeedback.objects.get()
    assert stored.outcome == "overridden"
    assert stored.override_display == "Already on B12 treatment"
    assert stored.user_comment == "On injections at the GP's."
    assert stored.card.summary == card["summary"]


def test_accepted_with_its_suggestion(client, card):
    accepted = {
        "card": card["uuid"],
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
        "outcomeTimestamp": "2026-12-02T09:31:00+00:00",
    }
    assert post(client, FEEDBACK, {"feedback": [accepted]}).status_code == 200
    assert CdsFeedback.objects.get().accepted_suggestions == [card["suggestions"][0]["uuid"]]


def test_nothing_is_half_stored(client, card):
    bad = {**_overridden(card, code="bored"), "outcomeTimestamp": "yesterday"}
    response = post(client, FEEDBACK, {"feedback": [_overridden(card), bad]})
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"feedback[1].overrideReason.reason", "feedback[1].outcomeTimestamp"}
    assert not CdsFeedback.objects.exists()


def test_feedback_on_an_unknown_card_is_refused(client, card):
    unknown = {**_overridden(card), "card": "0b6f6a3c-2f0e-4d52-9a55-3f5f4d1b7a10"}
    response = post(client, FEEDBACK, {"feedback": [unknown]})
    assert response.status_code == 400
    assert "feedback[0].card" in response.json()["errors"]


def test_feedback_of_another_client_is_refused(client, card):
    """A card issued to one EHR cannot be reported on by another."""
    from tests import cds_client

    register(issuer="https://other-ehr.example", origin="")
    path = FEEDBACK
    raw = cds_client.token(path, iss="https://other-ehr.example")
    response = client.post(
        path,
        json.dumps({"feedback": [_overridden(card)]}),
        content_type="application/json",
        headers=cds_client.bearer(raw),
    )
    assert response.status_code == 400
    assert not CdsFeedback.objects.exists()


def test_the_admin_reports_overridden_advice(client, card, admin_client_):
    assert post(client, FEEDBACK, {"feedback": [_overridden(card, comment="Seen by haematology.")]}).status_code == 200
    page = admin_client_.get("/admin/recommender/cdsfeedback/?outcome__exact=overridden")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Already on B12 treatment" in text and "Seen by haematology." in text
    assert card["summary"].split(":")[0] in text
    # The report is read-only.
    stored = CdsFeedback.objects.get()
    assert admin_client_.get(f"/admin/recommender/cdsfeedback/{stored.pk}/delete/").status_code == 403


def test_the_admin_registers_clients(admin_client_):
    page = admin_client_.get("/admin/recommender/cdsclient/add/")
    assert page.status_code == 200
    response = admin_client_.post(
        "/admin/recommender/cdsclient/add/",
        {
            "issuer": ISSUER,
            "name": "EHR",
            "jwks": json.dumps(jwks()),
            "allowed_jku": "[]",
            "origin": "",
            "active": "on",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert CdsClient.objects.get().issuer == ISSUER


def test_the_admin_refuses_a_private_key(admin_client_):
    private = {"keys": [{**jwks()["keys"][0], "d": "c2VjcmV0"}]}
    response = admin_client_.post(
        "/admin/recommender/cdsclient/add/",
        {"issuer": ISSUER, "jwks": json.dumps(private), "allowed_jku": "[]", "active": "on"},
    )
    assert response.status_code == 200
    assert "private key" in response.content.decode()
    assert not CdsClient.objects.exists()


# --- manage.py cds_client ---


def _jwks_file(tmp_path, content) -> str:
    path = tmp_path / "jwks.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def test_cds_client_add_list_remove(tmp_path, client):
    out = StringIO()
    call_command(
        "cds_client", "add", "--issuer", ISSUER, "--jwks-file", _jwks_file(tmp_path, jwks()), "--origin",
        "https://ehr.example.org/", stdout=out,
    )  # fmt: skip
    assert "Registered https://ehr.example.org (2 keys)" in out.getvalue()
    stored = CdsClient.objects.get()
    assert stored.origin == "https://ehr.example.org" and stored.active
    # The registered keys let the client in.
    assert post(client, REVIEW, hook_body(prefetched=prefetch())).status_code == 200
    listing = StringIO()
    call_command("cds_client", "list", stdout=listing)
    assert "key-es384, key-rs384" in listing.getvalue()
    call_command("cds_client", "remove", ISSUER, stdout=StringIO())
    assert post(client, REVIEW, hook_body(prefetched=prefetch())).status_code == 401


def test_cds_client_add_again_replaces_the_keys(tmp_path):
    call_command(
        "cds_client", "add", "--issuer", ISSUER, "--jwks-file", _jwks_file(tmp_path, jwks()), stdout=StringIO()
    )
    one_key = {"keys": [jwks()["keys"][1]]}
    out = StringIO()
    call_command("cds_client", "add", "--issuer", ISSUER, "--jwks-file", _jwks_file(tmp_path, one_key), stdout=out)
    assert "Updated" in out.getvalue()
    assert [k["kid"] for k in CdsClient.objects.get().jwks["keys"]] == ["key-rs384"]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("not json", "not JSON"),
        ({"keys": []}, "list of keys"),
        ({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]}, r"only EC \(P-384\) and RSA"),
        ({"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "kid": "p256"}]}, r"only EC \(P-384\) and RSA"),
        ("PRIVATE", "private key"),
        ("NOKID", "no 'kid'"),
    ],
)
def test_cds_client_add_refuses_bad_key_sets(tmp_path, content, words):
    if content == "PRIVATE":
        content = {"keys": [{**jwks()["keys"][0], "d": "c2VjcmV0"}]}
    if content == "NOKID":
        content = {"keys": [{k: v for k, v in jwks()["keys"][0].items() if k != "kid"}]}
    with pytest.raises(CommandError, match=words):
        call_command("cds_client", "add", "--issuer", ISSUER, "--jwks-file", _jwks_file(tmp_path, content))
    assert not CdsClient.objects.exists()


def test_cds_client_remove_unknown():
    with pytest.raises(CommandError, match="No CDS client"):
        call_command("cds_client", "remove", "https://nobody.example")
