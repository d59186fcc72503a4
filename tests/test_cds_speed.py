"""The CDS Hooks service's cost per call (issue 15, Performance) without loss of safety: the registered clients and
their parsed keys are kept in each process while the nodes' shared cache (REDIS_URL; here Django's memory cache
stands in for it) says they are unchanged, and any change (deactivated, keys replaced, removed, whether from the
admin, the command or the service) is refused or honoured by the very next call."""

from __future__ import annotations

import json
import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from recommender.interop.cds import security
from recommender.interop.cds.services import cds_client_deactivate
from recommender.models import CdsCard, CdsClient, CdsFeedback, CdsJwtUse
from tests.cds_client import (
    ISSUER,
    NHS_NUMBER,
    ORIGIN,
    bearer,
    hook_body,
    jwks,
    observation,
    post,
    prefetch,
    public_jwk,
    register,
    token,
)
from tests.factories import make_patient

DISCOVERY = "/cds-services"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_sweep(monkeypatch):
    monkeypatch.setattr(security, "_SWEEP_ONE_IN", 10**18)  # the occasional sweep of expired ids is not counted


def _discover(client, alg: str = "ES384", **claims) -> int:
    return client.get(DISCOVERY, headers=bearer(token(DISCOVERY, alg=alg, **claims))).status_code


def _queries(call) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        call()
    return [query["sql"] for query in queries if "SAVEPOINT" not in query["sql"]]  # the test's transaction


def test_with_a_shared_cache_the_clients_are_read_once(shared, client):
    register()
    assert _discover(client) == 200  # reads the clients and keeps them
    for alg in ("ES384", "RS384"):
        sql = _queries(lambda alg=alg: _discover(client, alg))
        assert len(sql) == 1 and "cdsjwtuse" in sql[0].lower(), sql  # the jti only: never skipped


def test_with_a_shared_cache_a_hook_call_reads_it_once(shared, client, monkeypatch):
    """The registered clients and the default lab profile in one round trip to the shared cache, not one each."""
    register()
    body = hook_body(prefetched=prefetch(observation("2132-9", 150, "ng/L")))
    assert post(client, "/cds-services/b12-review", body).status_code == 200  # stores what later calls read
    reads: list[str] = []  # each read of the shared cache: get_many, or get on its own
    get, get_many = shared.get, shared.get_many

    def counted_get_many(keys, *args, **kwargs):
        reads.append(f"get_many {list(keys)}")
        monkeypatch.setattr(shared, "get", get)  # the memory cache's get_many calls get for each key
        try:
            return get_many(keys, *args, **kwargs)
        finally:
            monkeypatch.setattr(shared, "get", counted_get)

    def counted_get(key, *args, **kwargs):
        reads.append(f"get {key}")
        return get(key, *args, **kwargs)

    monkeypatch.setattr(shared, "get_many", counted_get_many)
    monkeypatch.setattr(shared, "get", counted_get)
    response = post(
        client, "/cds-services/b12-review", hook_body(prefetched=prefetch(observation("2132-9", 150, "ng/L")))
    )
    assert response.status_code == 200 and response.json()["cards"]
    assert len(reads) == 1, reads


def test_without_a_shared_cache_the_clients_are_read_on_every_call(client):
    register()
    for _ in range(2):
        sql = _queries(lambda: _discover(client))
        assert any("cdsclient" in statement.lower() for statement in sql), sql


def test_a_client_deactivated_by_the_service_is_refused_at_once(shared, client):
    register()
    assert _discover(client) == 200
    assert cds_client_deactivate(issuer=ISSUER)  # an update(): no post_save signal
    assert _discover(client) == 401


def test_a_client_deactivated_in_the_admin_is_refused_at_once(shared, client, admin_client_):
    registered = register()
    assert _discover(client) == 200
    response = admin_client_.post(
        f"/admin/recommender/cdsclient/{registered.pk}/change/",
        {"issuer": ISSUER, "name": "EHR", "jwks": json.dumps(jwks()), "allowed_jku": "[]", "origin": ""},
    )  # "active" unticked
    assert response.status_code == 302, response.context["adminform"].form.errors
    client.logout()
    assert _discover(client) == 401


def test_a_client_removed_with_the_command_is_refused_at_once(shared, client):
    register()
    assert _discover(client) == 200
    call_command("cds_client", "remove", ISSUER, stdout=StringIO())
    assert _discover(client) == 401


def test_a_deleted_client_is_refused_at_once(shared, client):
    registered = register()
    assert _discover(client) == 200
    CdsClient.objects.filter(pk=registered.pk).delete()  # no cards yet: nothing protects it
    assert _discover(client) == 401


def test_replaced_keys_are_used_at_once(shared, client):
    register()
    assert _discover(client, "ES384") == 200 and _discover(client, "RS384") == 200
    register(jwks={"keys": [public_jwk("RS384")]})  # the EC key withdrawn
    assert _discover(client, "ES384") == 401
    assert _discover(client, "RS384") == 200
    register(jwks={"keys": [public_jwk("ES384", kid="rotated")]})
    assert _discover(client, "RS384") == 401
    assert client.get(DISCOVERY, headers=bearer(token(DISCOVERY, kid="rotated"))).status_code == 200


def test_a_new_client_is_let_in_at_once(shared, client):
    register()
    assert _discover(client) == 200
    register(issuer="https://second-ehr.example")
    assert _discover(client, iss="https://second-ehr.example") == 200


def test_cors_follows_the_registered_origin_at_once(shared, client):
    register()
    preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    assert client.options(DISCOVERY, headers=preflight).headers.get("Access-Control-Allow-Origin") == ORIGIN
    cds_client_deactivate(issuer=ISSUER)
    assert "Access-Control-Allow-Origin" not in client.options(DISCOVERY, headers=preflight).headers


def test_an_unreachable_shared_cache_reads_the_database(shared, client, monkeypatch):
    from recommender import shared_cache

    class Unreachable:
        def __getattr__(self, name):
            def fail(*args, **kwargs):
                raise ConnectionError("cache server unreachable")

            return fail

    register()
    assert _discover(client) == 200
    monkeypatch.setattr(shared_cache, "cache", Unreachable())
    cds_client_deactivate(issuer=ISSUER)  # the change cannot be announced: the clients are read every time
    assert _discover(client) == 401


# --- One commit per call: the JWT's one use is stored with the cards (or the feedback), not in a commit of its own ---

REVIEW = "/cds-services/b12-review"
FEEDBACK = "/cds-services/b12-review/feedback"


def _review(raw: str, client, body: dict | None = None):
    body = body if body is not None else hook_body(prefetched=prefetch(observation("2132-9", 150, "ng/L")))
    return client.post(REVIEW, json.dumps(body), content_type="application/json", headers=bearer(raw))


def test_a_replayed_service_call_is_refused_and_stores_nothing(client):
    register()
    raw = token(REVIEW)
    assert len(_review(raw, client).json()["cards"]) == 1
    replayed = _review(raw, client)
    assert replayed.status_code == 401 and "replayed" in replayed.json()["errors"]["auth"][0]
    assert CdsCard.objects.count() == 1


def test_a_refused_call_uses_its_jwt_up(client):
    register()
    raw = token(REVIEW)
    assert _review(raw, client, {"hook": "patient-view"}).status_code == 400
    assert _review(raw, client).status_code == 401  # the same JWT with a good body: a replay
    unknown = token("/cds-services/no-such-service")
    assert (
        client.post(
            "/cds-services/no-such-service", "{}", content_type="application/json", headers=bearer(unknown)
        ).status_code
        == 404
    )
    assert CdsJwtUse.objects.count() == 2 and not CdsCard.objects.exists()


def test_a_replayed_feedback_is_refused_and_stores_nothing(client):
    register()
    [card] = _review(token(REVIEW), client).json()["cards"]
    item = {"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": "2026-12-02T09:31:00Z"}
    raw = token(FEEDBACK)

    def send():
        return client.post(
            FEEDBACK, json.dumps({"feedback": [item]}), content_type="application/json", headers=bearer(raw)
        )

    assert send().json() == {"stored": 1}
    assert send().status_code == 401
    assert CdsFeedback.objects.count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_card_and_the_jwts_use_are_one_commit(client, monkeypatch):
    """Each commit waits for the database's log to reach the disk: a call that stores its JWT id and its card in
    two commits waits twice."""
    register()
    commits = []
    real_commit = connection.commit

    def counted_commit():
        commits.append("commit")
        real_commit()

    def autocommitted(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE", "WITH")) and not connection.in_atomic_block:
            commits.append(sql.split()[2])  # a write in autocommit: a commit of its own
        return execute(sql, params, many, context)

    monkeypatch.setattr(connection, "commit", counted_commit)
    with connection.execute_wrapper(autocommitted):
        response = _review(token(REVIEW), client)
    assert len(response.json()["cards"]) == 1
    assert len(commits) == 1, commits
    assert CdsCard.objects.count() == 1 and CdsJwtUse.objects.count() == 1


def test_with_a_shared_cache_a_card_costs_one_statement_on_postgresql(shared, client, clinician):
    """No client, key or lab profile read per call: the JWT id, the card and the patient the card links to, in one
    statement on PostgreSQL (one round trip, one commit); on SQLite one commit, then the patient."""
    patient = make_patient(by=clinician, nhs_number=NHS_NUMBER)
    register()
    assert len(_review(token(REVIEW), client).json()["cards"]) == 1  # reads and keeps the clients and the profile
    answers = []
    sql = _queries(lambda: answers.append(_review(token(REVIEW), client)))
    assert not any(table in " ".join(sql).lower() for table in ("cdsclient", "labprofile")), sql
    assert sum("recommender_patient" in statement for statement in sql) == 1, sql
    expected = ["WITH"] if connection.vendor == "postgresql" else ["INSERT", "INSERT", "SELECT"]
    assert [statement.split()[0] for statement in sql] == expected, sql
    [card] = answers[0].json()["cards"]
    assert f"/patients/{patient.pk}/assess/" in card["links"][0]["url"]


def test_clients_are_held_no_longer_than_a_shared_entry(shared, client, monkeypatch):
    """A change made while the shared cache was unreachable is not announced: it is seen within TIMEOUT_SECONDS."""
    from recommender import shared_cache

    now = [1000.0]
    monkeypatch.setattr(shared_cache, "_clock", lambda: now[0])
    register()
    assert _discover(client) == 200
    CdsClient.objects.update(active=False)  # no signal: as if the announcement had been lost
    assert _discover(client) == 200
    now[0] += shared_cache.TIMEOUT_SECONDS
    assert _discover(client) == 401


def test_two_cards_are_stored_with_the_jwt_in_one_write(client):
    """order-sign with two draft orders that disagree: two cards, both stored with the JWT's id, and feedback on
    the second is accepted."""
    from tests.test_cds_hooks import _draft, _order_body

    register()
    order = "/cds-services/b12-order-check"
    monthly = _draft({"frequency": 1, "period": 6, "periodUnit": "mo"}, order_id="draft-1")
    daily = _draft({"frequency": 1, "period": 1, "periodUnit": "d"}, order_id="draft-2")
    raw = token(order)
    answer = client.post(
        order, json.dumps(_order_body(monthly, daily)), content_type="application/json", headers=bearer(raw)
    )
    cards = answer.json()["cards"]
    assert len(cards) == 2
    assert set(CdsCard.objects.values_list("pk", flat=True)) == {uuid.UUID(card["uuid"]) for card in cards}
    assert CdsJwtUse.objects.count() == 1
    item = {"card": cards[1]["uuid"], "outcome": "accepted", "outcomeTimestamp": "2026-12-02T09:31:00Z"}
    feedback = f"{order}/feedback"
    sent = client.post(
        feedback,
        json.dumps({"feedback": [item, item]}),
        content_type="application/json",
        headers=bearer(token(feedback)),
    )
    assert sent.json() == {"stored": 2}


def test_the_one_row_insert_is_the_statement_the_orm_compiles():
    """The call's JWT id and card are inserted by SQL compiled once per model: the same SQL and values as the ORM's."""
    from django.utils import timezone

    from recommender import records

    rows = [
        CdsJwtUse(issuer=ISSUER, jti=str(uuid.uuid4()), expires_at=timezone.now()),
        CdsCard(client=register(), service="b12-review", summary="Deficient", indicator="warning", ruleset="r 1"),
    ]
    for row in rows:
        assert records.insert_sql([row]) == records._compiled_insert(type(row), [row])
