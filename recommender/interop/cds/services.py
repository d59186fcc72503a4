"""The CDS Hooks service's work: a hook request to cards (through the API's validation path and the engine),
the cards remembered for feedback, and feedback stored."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from urllib.parse import urlencode

from django.db import IntegrityError, connection, transaction
from django.db.models import Model
from django.urls import reverse
from django.utils.dateparse import parse_datetime

from recommender import shared_cache
from recommender.clinic import selectors as clinic_selectors
from recommender.guideline import InvalidAssessment
from recommender.guideline.stored import Decision
from recommender.interop.cds import cards as card_words
from recommender.interop.cds import fhirserver, security, selectors
from recommender.interop.cds.discovery import ORDER_CHECK, PREFETCH, SERVICES
from recommender.interop.cds.prefetch import PREFETCH_KEYS, PrefetchError, Results, results_from_prefetch
from recommender.interop.decisions import recommendation_for
from recommender.models import REASON_MAX_LENGTH, CdsCard, CdsClient, CdsFeedback
from recommender.records import insert_sql


class HookError(Exception):
    """A request the service cannot answer: the HTTP status and the errors, each naming its field."""

    def __init__(self, status: int, errors: dict[str, list[str]]):
        super().__init__(status, errors)
        self.status = status
        self.errors = errors


def call_reads():
    """The shared-cache reads of a hook call (the registered clients, the default lab profile) in one round trip."""
    return shared_cache.prefetched(shared_cache.CDS_CLIENTS, clinic_selectors.LAB_PROFILE_DEFAULT)


@dataclass(frozen=True, slots=True)
class Lookup:
    """A read the answer still needs (one value, by a query not run yet), made in the round trip that stores the
    call; ``then`` completes the answer with the value (None when the query finds nothing)."""

    query: tuple[str, tuple]  # SQL and parameters
    then: Callable[[object], None]


def call_once(
    *, caller: security.Caller, work: Callable[[], tuple[dict, list[Model]] | tuple[dict, list[Model], Lookup]]
) -> dict:
    """The answer of ``work()``, its rows stored in one commit with the JWT's one use (each commit waits for the
    database's log to reach the disk; the work's reads, and any read from the EHR's FHIR server, come before it).
    A replayed JWT is Unauthorised and stores nothing; a refused request (HookError, or any failure) uses its JWT
    up all the same. A Lookup the work returns is read in the same statement as the rows on PostgreSQL."""
    try:
        answer, rows, *needs = work()
    except Exception:
        security.jti_record_now(caller)
        raise
    lookup = needs[0] if needs else None
    if not rows:
        security.jti_record_now(caller)
    elif connection.vendor == "postgresql":
        found = _store_in_one_statement(security.jti_row(caller), rows, lookup.query if lookup else None)
        security.jti_sweep()
        if lookup is not None:
            lookup.then(found)
            lookup = None
    else:
        with transaction.atomic():
            security.jti_record(caller)
            _insert(rows)
    if lookup is not None:
        with connection.cursor() as cursor:
            cursor.execute(*lookup.query)
            row = cursor.fetchone()
        lookup.then(None if row is None else row[0])
    return answer


def _insert(rows: list[Model]) -> None:
    if len(rows) == 1:
        rows[0].save(force_insert=True)  # one INSERT, without bulk_create's extra steps
    else:
        type(rows[0]).objects.bulk_create(rows)


def _store_in_one_statement(jti: Model, rows: list[Model], lookup: tuple[str, tuple] | None = None) -> object:
    """PostgreSQL: the JWT's id and the rows in one statement (a data-modifying WITH, run whole or not at all): one
    round trip and one commit, not BEGIN, two INSERTs and COMMIT. The JWT's id seen before: Unauthorised. With a
    lookup (a query of one value), the same statement reads it and its value is returned."""
    jti_sql, jti_params = insert_sql([jti])
    rows_sql, rows_params = insert_sql(rows)
    if lookup is None:
        sql, params = f"WITH jti AS ({jti_sql}) {rows_sql}", jti_params + rows_params
    else:
        lookup_sql, lookup_params = lookup
        sql = f"WITH jti AS ({jti_sql}), stored AS ({rows_sql}) SELECT ({lookup_sql})"
        params = jti_params + rows_params + lookup_params
    try:
        nested = transaction.atomic() if connection.in_atomic_block else nullcontext()  # a savepoint when nested
        with nested, connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()[0] if lookup is not None else None
    except IntegrityError as error:
        if getattr(getattr(error.__cause__, "diag", None), "constraint_name", None) == security.JTI_CONSTRAINT:
            raise security.Unauthorised(security.REPLAYED) from None
        raise


def _context(body: object, service_id: str) -> tuple[dict, str]:
    if not isinstance(body, Mapping):
        raise HookError(400, {"body": ["The request must be a JSON object (a CDS Hooks request)."]})
    service = SERVICES[service_id]
    errors: dict[str, list[str]] = {}
    if body.get("hook") != service.hook:
        errors["hook"] = [f"This service answers the '{service.hook}' hook."]
    context = body.get("context")
    patient_id = context.get("patientId") if isinstance(context, Mapping) else None
    if not isinstance(patient_id, str) or not patient_id or len(patient_id) > 64:
        errors["context.patientId"] = ["The hook's context must name the patient (context.patientId)."]
    if errors:
        raise HookError(400, errors)
    return dict(context), patient_id


def _prefetch(body: Mapping, patient_id: str) -> dict:
    """The prefetched resources, and what is missing read from the hook's fhirServer; 412 when something is
    missing and there is no FHIR server to read it from (or it cannot be read)."""
    prefetch = body.get("prefetch")
    prefetch = dict(prefetch) if isinstance(prefetch, Mapping) else {}
    missing = [key for key in PREFETCH if prefetch.get(key) is None]
    if not missing:
        return prefetch
    if not body.get("fhirServer"):
        raise HookError(
            412, {"prefetch": [f"Prefetch {', '.join(missing)} missing, and no fhirServer to read it from."]}
        )
    try:
        prefetch.update(fhirserver.prefetch_fetch(body, PREFETCH, missing, patient_id))
    except fhirserver.FetchFailed as failed:
        raise HookError(412, {"fhirServer": [f"Prefetch {', '.join(missing)} missing: {failed}"]}) from None
    return prefetch


def _prefill(results: Results) -> dict[str, str]:
    """The assessment form's fields for these results (its query-string pre-fill)."""
    fields: dict[str, str] = {}
    for name, value in results.payload.items():
        if isinstance(value, Mapping):
            fields[f"{name}_value"] = str(value["value"])
            fields[f"{name}_unit"] = value["unit"]
            if "upper_limit" in value:
                fields[f"{name}_upper_limit"] = str(value["upper_limit"])
        else:
            fields[name] = str(value)
    if (sampled := results.sample_date()) is not None:
        fields["sample_date"] = sampled.strftime("%d/%m/%Y")
    return fields


def _link(base_url: str, patient_id: object, results: Results) -> dict:
    if patient_id is None:
        return {
            "label": "Find or add the patient in the B12 clinic, then assess",
            "url": base_url + reverse("patient-list"),
            "type": "absolute",
        }
    query = urlencode(_prefill(results))
    return {
        "label": "Open the full B12 assessment, pre-filled with these results",
        "url": f"{base_url}{reverse('assessment-create', args=[patient_id])}?{query}",
        "type": "absolute",
    }


_ERROR_KEYS = {field: f"prefetch.{key}" for field, key in PREFETCH_KEYS.items()}


def hook_answer(*, client: CdsClient, service_id: str, body: object, base_url: str) -> tuple[dict, list[CdsCard]]:
    """The cards for a hook request (``{"cards": []}`` when there is no advice), and the rows that remember them
    for feedback (for ``call_once`` to store). Raises HookError (400 bad input, 412 prefetch missing)."""
    context, patient_id = _context(body, service_id)
    prefetch = _prefetch(body, patient_id)
    patient = prefetch["patient"]
    if not isinstance(patient, Mapping) or patient.get("id", patient_id) != patient_id:
        raise HookError(400, {"prefetch.patient": ["The prefetched Patient is not the patient of context.patientId."]})
    if service_id == ORDER_CHECK and not card_words.draft_orders(context):
        return {"cards": []}, []  # no hydroxocobalamin among the draft orders: nothing to check
    try:
        results = results_from_prefetch(prefetch, patient_id)
    except PrefetchError as invalid:
        raise HookError(400, invalid.errors) from None
    if "b12" not in results.payload and "active_b12" not in results.payload:
        return {"cards": []}, []  # no B12 result: nothing to advise on
    try:
        decision = Decision.from_dict(recommendation_for(results.payload).as_dict())
    except InvalidAssessment as invalid:
        raise HookError(400, {_ERROR_KEYS.get(k, k): v for k, v in invalid.errors.items()}) from None
    link: dict = {}  # the cards' link, completed once the clinic's patient is looked up (call_once)
    if service_id == ORDER_CHECK:
        cards = card_words.order_cards(decision, results, context, patient_id=patient_id, link=link)
    else:
        cards = card_words.review_cards(decision, results, patient_id=patient_id, link=link)
    ruleset = f"{decision.ruleset_id} {decision.ruleset_version}"
    rows = cards_issued(client=client, service=service_id, cards=cards, ruleset=ruleset)
    lookup = selectors.patient_lookup(prefetch["patient"])

    def complete_link(found: object) -> None:
        for key, value in _link(base_url, selectors.patient_id(found), results).items():
            link[key] = value

    if lookup is None or not cards:
        complete_link(None)
        return {"cards": cards}, rows
    return {"cards": cards}, rows, Lookup(lookup, complete_link)


def cards_issued(*, client: CdsClient, service: str, cards: list[dict], ruleset: str) -> list[CdsCard]:
    """A row for each card issued, without patient data beyond its summary: what feedback refers to."""
    return [
        CdsCard(
            id=card["uuid"],
            client=client,
            service=service,
            summary=card["summary"],
            indicator=card["indicator"],
            ruleset=ruleset,
        )
        for card in cards
    ]


def _feedback_item(item: object, where: str, issued: dict, errors: dict) -> CdsFeedback | None:
    if not isinstance(item, Mapping):
        errors[where] = ["Each feedback item is an object with card, outcome and outcomeTimestamp."]
        return None
    card = issued.get(str(item.get("card")))
    if card is None:
        errors[f"{where}.card"] = ["No card of that uuid was issued to this client by this service."]
    outcome = item.get("outcome")
    if outcome not in CdsFeedback.Outcome.values:
        errors[f"{where}.outcome"] = ["The outcome is 'accepted' or 'overridden'."]
    when = item.get("outcomeTimestamp")
    at = parse_datetime(when) if isinstance(when, str) else None
    if at is None or at.tzinfo is None:
        errors[f"{where}.outcomeTimestamp"] = ["An ISO 8601 date and time with its time zone, e.g. 2026-12-02T09:30Z."]
    accepted = item.get("acceptedSuggestions") or []
    if not isinstance(accepted, list) or not all(
        isinstance(s, Mapping) and isinstance(s.get("id"), str) for s in accepted
    ):
        errors[f"{where}.acceptedSuggestions"] = ['A list of {"id": "<suggestion uuid>"}.']
        accepted = []
    reason = item.get("overrideReason") or {}
    coding = reason.get("reason") if isinstance(reason, Mapping) else None
    code, display, comment = "", "", ""
    if isinstance(reason, Mapping):
        comment = reason.get("userComment") or ""
        if not isinstance(comment, str) or len(comment) > REASON_MAX_LENGTH:
            errors[f"{where}.overrideReason.userComment"] = [f"Text of at most {REASON_MAX_LENGTH} characters."]
            comment = ""
    if coding is not None:
        code = coding.get("code") if isinstance(coding, Mapping) else None
        if code not in card_words.OVERRIDE_CODES or coding.get("system") != card_words.OVERRIDE_SYSTEM:
            errors[f"{where}.overrideReason.reason"] = ["Not one of the override reasons the card offered."]
        else:
            display = dict(card_words.OVERRIDE_REASONS)[code]
    if (code or comment) and outcome == CdsFeedback.Outcome.ACCEPTED:
        errors[f"{where}.overrideReason"] = ["An override reason goes with the 'overridden' outcome only."]
    if card is None or at is None:
        return None
    return CdsFeedback(
        card=card,
        outcome=outcome or "",
        accepted_suggestions=[s["id"][:64] for s in accepted],
        override_code=code or "",
        override_display=display,
        user_comment=comment,
        outcome_at=at,
    )


def feedback_rows(*, client: CdsClient, service_id: str, body: object) -> list[CdsFeedback]:
    """A checked row for every feedback item (for ``call_once`` to store), or HookError 400 naming each bad one."""
    items = body.get("feedback") if isinstance(body, Mapping) else None
    if not isinstance(items, list) or not items:
        raise HookError(400, {"feedback": ['A CDS Hooks feedback body: {"feedback": [ {...}, ... ]}.']})
    if len(items) > 100:
        raise HookError(400, {"feedback": ["At most 100 feedback items in one call."]})
    ids = [str(item.get("card")) for item in items if isinstance(item, Mapping)]
    issued = selectors.cards_issued(client=client, service=service_id, ids=[i for i in ids if _is_uuid(i)])
    errors: dict[str, list[str]] = {}
    rows = [_feedback_item(item, f"feedback[{n}]", issued, errors) for n, item in enumerate(items)]
    if errors:
        raise HookError(400, errors)
    for row in rows:
        row.full_clean()
    return rows


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


@transaction.atomic
def cds_client_register(
    *, issuer: str, jwks: dict, allowed_jku: list[str] | None = None, origin: str = "", name: str = ""
) -> tuple[CdsClient, bool]:
    """Register an EHR (or replace a registered one's keys, key-set URLs and origin, and make it active again).
    Raises ValidationError naming the bad field."""
    client = CdsClient.objects.select_for_update().filter(issuer=issuer).first()
    created = client is None
    client = client or CdsClient(issuer=issuer)
    client.jwks = jwks
    client.allowed_jku = list(allowed_jku or [])
    client.origin = origin.rstrip("/")
    client.name = name or client.name
    client.active = True
    client.full_clean()
    client.save()
    return client, created


@transaction.atomic
def cds_client_deactivate(*, issuer: str) -> bool:
    """Stop accepting an issuer's JWTs, from the next request on every node (its cards and feedback stay). False
    when no such client."""
    found = CdsClient.objects.filter(issuer=issuer).update(active=False) > 0
    shared_cache.changed(shared_cache.CDS_CLIENTS)  # an update() sends no post_save: retire the held clients here
    return found
