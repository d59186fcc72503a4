"""The CDS Hooks services: the prefetched FHIR results read by LOINC and UCUM unit, decided by the same validation
path and engine as the form and the API, answered as cards (or none), and the draft order checked at order-sign."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommender.guideline import decide, parse_assessment
from recommender.guideline.stored import Decision
from recommender.guideline.units import TOTAL_B12_UNITS, convert
from recommender.interop.cds import cards
from recommender.interop.cds.prefetch import Results
from recommender.models import CdsCard, CdsClient
from tests.cds_client import NHS_NUMBER, PATIENT_ID, bundle, hook_body, observation, post, prefetch, register
from tests.factories import make_patient

REVIEW = "/cds-services/b12-review"
ORDER = "/cds-services/b12-order-check"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def registered(db):
    return register()


def _cards(client, body, path=REVIEW, alg="ES384") -> list[dict]:
    response = post(client, path, body, alg=alg)
    assert response.status_code == 200, response.content
    return response.json()["cards"]


@pytest.mark.parametrize("alg", ["ES384", "RS384"])
def test_b12_150_ng_per_l_without_neurological_signs(client, alg):
    [card] = _cards(client, hook_body(prefetched=prefetch(observation("2132-9", 150, "ng/L"))), alg=alg)
    assert card["indicator"] == "warning"
    assert len(card["summary"]) < 140
    assert "150 ng/L" in card["summary"] and "below 180" in card["summary"]
    assert "3 times a week for 2 weeks" in card["summary"]
    # The detail gives the thresholds the engine used, and says what the record cannot tell.
    assert "deficient below 180 ng/L" in card["detail"]
    assert "not deficient above" in card["detail"] and "350" in card["detail"]
    assert "neurological signs" in card["detail"]
    assert card["source"]["label"].endswith("(rule set seed-2025 1.0.0)")
    [suggestion] = card["suggestions"]
    [action] = suggestion["actions"]
    assert action["type"] == "create"
    order = action["resource"]
    assert (order["resourceType"], order["status"], order["intent"]) == ("MedicationRequest", "draft", "proposal")
    assert order["subject"] == {"reference": f"Patient/{PATIENT_ID}"}
    assert "hydroxocobalamin" in order["medicationCodeableConcept"]["text"].lower()
    loading, maintenance = order["dosageInstruction"]
    assert loading["timing"]["repeat"]["frequency"] == 3
    assert loading["timing"]["repeat"]["boundsDuration"]["value"] == 2
    assert maintenance["timing"]["repeat"]["periodUnit"] == "mo"
    assert {r["code"] for r in card["overrideReasons"]} >= {"already-treated", "clinical-picture"}
    assert CdsCard.objects.get(pk=card["uuid"]).summary == card["summary"]


def test_the_card_says_what_the_api_says(client, clinician_client):
    """One engine: the card's regimen is the API's decision for the same result."""
    [card] = _cards(client, hook_body(prefetched=prefetch(observation("14685-2", 100, "pmol/L"))))
    api = clinician_client.post(
        "/api/v1/recommendation", {"b12": {"value": 100, "unit": "pmol/L"}}, content_type="application/json"
    ).json()
    assert api["status"] == "deficient"
    assert api["loading"]["text"] in card["detail"]
    assert api["headline"] in card["detail"]


def test_molar_b12_is_not_confused_with_mass(client):
    """150 pmol/L is 203 pg/mL: indeterminate, an info card asking for MMA, never a deficiency card."""
    [card] = _cards(client, hook_body(prefetched=prefetch(observation("14685-2", 150, "pmol/L"))))
    assert card["indicator"] == "info"
    assert "indeterminate" in card["summary"] and "MMA" in card["summary"]
    assert "suggestions" not in card


def test_latest_final_result_decides(client):
    older = observation("2132-9", 500, "ng/L", when="2025-01-10")
    newer = observation("2132-9", 150, "ng/L", when="2026-11-20")
    withdrawn = observation("2132-9", 900, "ng/L", when="2026-11-25", status="entered-in-error")
    [card] = _cards(client, hook_body(prefetched=prefetch(older, withdrawn, newer)))
    assert "150 ng/L" in card["summary"]


def test_mma_decides_an_indeterminate_b12(client):
    mma = bundle(observation("13964-2", 0.6, "umol/L"))
    [card] = _cards(client, hook_body(prefetched=prefetch(observation("2132-9", 250, "ng/L"), mma=mma)))
    assert card["indicator"] == "warning"
    assert "MMA 0.6 µmol/L (above 0.4)" in card["summary"]


def test_the_labs_mma_upper_limit_is_used(client):
    mma = observation(
        "13964-2", 350, "nmol/L", referenceRange=[{"high": {"value": 300, "unit": "nmol/L", "code": "nmol/L"}}]
    )
    [card] = _cards(client, hook_body(prefetched=prefetch(observation("2132-9", 250, "ng/L"), mma=bundle(mma))))
    assert "(above 300)" in card["summary"]


def test_no_advice_no_cards(client):
    assert _cards(client, hook_body(prefetched=prefetch(observation("2132-9", 500, "ng/L")))) == []


def test_no_b12_result_no_cards(client):
    assert _cards(client, hook_body(prefetched=prefetch())) == []


def test_high_b12_is_a_caution_card(client):
    [card] = _cards(client, hook_body(prefetched=prefetch(observation("2132-9", 1500, "ng/L"))))
    assert card["indicator"] == "info"
    assert "investigate" in card["detail"]


# --- bad data: named, never guessed, never a 500 ---


def _errors(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()["errors"]


def test_unknown_unit_is_refused_not_guessed(client):
    body = hook_body(prefetched=prefetch(observation("2132-9", 150, "mg/dL")))
    [message] = _errors(post(client, REVIEW, body))["prefetch.b12"]
    assert "'mg/dL'" in message and "never guessed" in message


def test_a_unit_not_of_the_loinc_codes_property_is_refused(client):
    """LOINC 2132-9 is a mass concentration: a pmol/L value under it is an error, not a conversion."""
    body = hook_body(prefetched=prefetch(observation("2132-9", 150, "pmol/L")))
    assert "not a unit of LOINC 2132-9" in _errors(post(client, REVIEW, body))["prefetch.b12"][0]


def test_a_unit_not_coded_in_ucum_is_refused(client):
    result = observation("2132-9", 150, "ng/L")
    result["valueQuantity"] = {"value": 150, "unit": "ng/L"}
    assert "UCUM" in _errors(post(client, REVIEW, hook_body(prefetched=prefetch(result))))["prefetch.b12"][0]


def test_the_engines_own_validation_applies(client):
    """The API's validation path: an implausible value is refused in its words, under the prefetch key."""
    body = hook_body(prefetched=prefetch(observation("2132-9", 250000, "ng/L")))
    assert "not a plausible total B12" in _errors(post(client, REVIEW, body))["prefetch.b12"][0]


def test_a_result_given_as_a_limit_is_refused(client):
    result = observation("2132-9", 50, "ng/L")
    result["valueQuantity"]["comparator"] = "<"
    errors = _errors(post(client, REVIEW, hook_body(prefetched=prefetch(result))))
    assert "a limit, not a value" in errors["prefetch.b12"][0]


def test_a_result_of_another_patient_is_refused(client):
    other = observation("2132-9", 150, "ng/L", subject={"reference": "Patient/someone-else"})
    assert "another patient" in _errors(post(client, REVIEW, hook_body(prefetched=prefetch(other))))["prefetch.b12"][0]


def test_wrong_hook_and_no_patient(client):
    errors = _errors(post(client, REVIEW, {"hook": "order-select", "context": {}, "prefetch": prefetch()}))
    assert set(errors) == {"hook", "context.patientId"}


def test_not_json(client):
    from tests.cds_client import bearer, token

    response = client.post(REVIEW, "{nope", content_type="application/json", headers=bearer(token(REVIEW)))
    assert _errors(response) == {"body": ["The request body is not valid JSON."]}


def test_unknown_service_is_404(client):
    assert post(client, "/cds-services/no-such-service", hook_body(prefetched=prefetch())).status_code == 404


# --- prefetch missing ---


def test_missing_prefetch_without_fhir_server_is_412(client):
    response = post(client, REVIEW, hook_body())
    assert response.status_code == 412
    assert "no fhirServer" in response.json()["errors"]["prefetch"][0]


def test_a_missing_prefetch_key_is_412(client):
    prefetched = prefetch(observation("2132-9", 150, "ng/L"))
    del prefetched["mma"]  # an MMA the EHR did not send could change the decision: never decide without it
    response = post(client, REVIEW, hook_body(prefetched=prefetched))
    assert response.status_code == 412
    assert "mma" in response.json()["errors"]["prefetch"][0]


def test_a_null_prefetch_key_is_412(client):
    prefetched = prefetch(observation("2132-9", 150, "ng/L"))
    prefetched["egfr"] = None  # CDS Hooks: the client failed to prefetch it
    assert post(client, REVIEW, hook_body(prefetched=prefetched)).status_code == 412


# --- the link to the pre-filled assessment ---


def test_link_opens_the_patients_assessment_pre_filled(client, clinician):
    patient = make_patient(by=clinician, nhs_number=NHS_NUMBER)
    mma = bundle(observation("13964-2", 0.3, "umol/L"))
    [card] = _cards(client, hook_body(prefetched=prefetch(observation("2132-9", 150, "ng/L"), mma=mma)))
    [link] = card["links"]
    url = urlsplit(link["url"])
    assert link["type"] == "absolute" and url.scheme == "http" and url.netloc == "testserver"
    assert url.path == f"/patients/{patient.pk}/assess/"
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query == {
        "b12_value": "150",
        "b12_unit": "ng/L",
        "mma_value": "0.3",
        "mma_unit": "umol/L",
        "sample_date": "20/11/2026",
    }


def test_the_pre_filled_assessment_form_shows_the_results(client, clinician_client, clinician):
    patient = make_patient(by=clinician, nhs_number=NHS_NUMBER)
    [card] = _cards(client, hook_body(prefetched=prefetch(observation("2132-9", 150, "ng/L"))))
    page = clinician_client.get(card["links"][0]["url"].removeprefix("http://testserver"))
    assert page.status_code == 200
    form = page.context["form"]
    assert (form["b12_value"].value(), form["b12_unit"].value()) == ("150", "ng/L")
    assert form["sample_date"].value() == "20/11/2026"
    assert patient.display_name in page.content.decode()


def test_unknown_patient_links_to_the_patient_list(client):
    [card] = _cards(client, hook_body(prefetched=prefetch(observation("2132-9", 150, "ng/L"))))
    assert card["links"][0]["url"] == "http://testserver/patients/"


LOCAL_MRN = "https://hospital.example/mrn"


def test_the_nhs_number_comes_first_then_the_hospital_number(client, clinician, settings):
    settings.B12_FHIR_HOSPITAL_NUMBER_SYSTEM = LOCAL_MRN
    by_hospital = make_patient(by=clinician, hospital_number="MRN777")
    body = hook_body(prefetched=prefetch(observation("2132-9", 150, "ng/L")))
    body["prefetch"]["patient"]["identifier"].append({"system": LOCAL_MRN, "value": "mrn777"})
    [card] = _cards(client, body)
    assert urlsplit(card["links"][0]["url"]).path == f"/patients/{by_hospital.pk}/assess/"
    body["hookInstance"] = "again"
    by_nhs = make_patient(by=clinician, nhs_number=NHS_NUMBER)
    [card] = _cards(client, body)
    assert urlsplit(card["links"][0]["url"]).path == f"/patients/{by_nhs.pk}/assess/"


# --- order-sign: the draft order against the regimen the results support ---


def _draft(repeat: dict, *, order_id: str = "draft-1") -> dict:
    return {
        "resourceType": "MedicationRequest",
        "id": order_id,
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {"text": "Hydroxocobalamin 1mg/1ml solution for injection ampoules"},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "dosageInstruction": [
            {
                "timing": {"repeat": repeat},
                "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "mg", "code": "mg"}}],
            }
        ],
    }


def _order_body(*orders: dict, b12=150, unit="ng/L") -> dict:
    draft = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": o} for o in orders]}
    return hook_body(
        "order-sign", prefetched=prefetch(observation("2132-9", b12, unit)), draftOrders=draft, userId="Practitioner/1"
    )


THREE_WEEKLY = {"frequency": 3, "period": 1, "periodUnit": "wk", "boundsDuration": {"value": 2, "unit": "wk"}}


def test_order_sign_card_when_the_draft_frequency_disagrees(client):
    [card] = _cards(client, _order_body(_draft({"frequency": 1, "period": 6, "periodUnit": "mo"})), path=ORDER)
    assert card["indicator"] == "warning"
    assert len(card["summary"]) < 140
    assert "once every 6 months" in card["summary"]
    assert "3 times a week for 2 weeks" in card["summary"]
    [action] = card["suggestions"][0]["actions"]
    assert action["type"] == "update"
    assert action["resource"]["id"] == "draft-1"
    assert action["resource"]["dosageInstruction"][0]["timing"]["repeat"]["frequency"] == 3


@pytest.mark.parametrize(
    "repeat",
    [
        THREE_WEEKLY,
        {"frequency": 1, "period": 2, "periodUnit": "d"},  # alternate days: neurological involvement is not recorded
        {"frequency": 1, "period": 3, "periodUnit": "mo"},
        {"frequency": 1, "period": 2, "periodMax": 3, "periodUnit": "mo"},
    ],
)
def test_order_sign_no_card_when_the_draft_fits(client, repeat):
    assert _cards(client, _order_body(_draft(repeat)), path=ORDER) == []


def test_order_sign_daily_injections_disagree(client):
    [card] = _cards(client, _order_body(_draft({"frequency": 1, "period": 1, "periodUnit": "d"})), path=ORDER)
    assert "ordered once a day" in card["summary"]


def test_order_sign_when_the_results_do_not_support_injections(client):
    [card] = _cards(client, _order_body(_draft(THREE_WEEKLY), b12=500), path=ORDER)
    assert card["indicator"] == "warning"
    assert "not deficient" in card["summary"] and "check the indication" in card["summary"]


def test_order_sign_ignores_other_medicines(client):
    other = _draft({"frequency": 1, "period": 6, "periodUnit": "mo"})
    other["medicationCodeableConcept"] = {"text": "Folic acid 5 mg tablets"}
    assert _cards(client, _order_body(other), path=ORDER) == []


# --- the cards as pure functions of a decision ---


def _decision(**payload) -> Decision:
    return Decision.from_dict(
        decide(parse_assessment({"b12": {"value": Decimal(150), "unit": "ng/L"}, **payload})).as_dict()
    )


def _results() -> Results:
    return Results(
        payload={"b12": {"value": Decimal(150), "unit": "ng/L"}}, dates={"b12": "2026-11-20"}, codes={"b12": "2132-9"}
    )


def test_neurological_red_flag_is_critical():
    link = {"label": "x", "url": "http://x/", "type": "absolute"}
    [card] = cards.review_cards(_decision(neurological_involvement=True), _results(), patient_id="p", link=link)
    assert card["indicator"] == "critical"
    assert "alternate days" in card["summary"]
    assert "**" in card["detail"]  # the red flag stands out


def test_summary_is_always_under_140_characters():
    long_text = "word " * 60
    assert len(cards.short(long_text)) < 140
    assert cards.short(long_text).endswith("…")


# --- invariants (Hypothesis) ---

LINK = {"label": "x", "url": "http://x/", "type": "absolute"}
B12_VALUES = st.decimals(min_value=Decimal("0.1"), max_value=Decimal(5000), places=1)


@settings(max_examples=200, deadline=None)
@given(value=B12_VALUES, unit=st.sampled_from(["ng/L", "pg/mL", "pmol/L"]), neuro=st.booleans())
def test_cards_follow_the_decision(value, unit, neuro):
    """Whatever the result: at most one card, its summary under 140 characters, its indicator from the decision
    (critical with neurological involvement, warning for deficiency), a suggestion only when injections are due."""
    decision = decide(
        parse_assessment({"b12": {"value": value, "unit": unit}, "neurological_involvement": neuro})
    ).as_dict()
    results = Results(payload={"b12": {"value": value, "unit": unit}}, dates={"b12": "2026-11-20"}, codes={"b12": "x"})
    found = cards.review_cards(Decision.from_dict(decision), results, patient_id="p", link=LINK)
    assert len(found) <= 1
    if not found:
        assert decision["status"] == "not_deficient" and not decision["im_recommended"]
        return
    [card] = found
    assert len(card["summary"]) < 140
    expected = "critical" if neuro else "warning" if decision["status"] == "deficient" else "info"
    assert card["indicator"] == expected
    assert ("suggestions" in card) == (decision["im_recommended"] and decision["maintenance"] is not None)


@settings(max_examples=100, deadline=None)
@given(value=B12_VALUES)
def test_ng_per_l_and_pg_per_ml_give_the_same_card(value):
    """The same quantity in either spelling: the same indicator and the same advice, only the unit's name differs."""

    def card_for(unit):
        decision = Decision.from_dict(decide(parse_assessment({"b12": {"value": value, "unit": unit}})).as_dict())
        results = Results(payload={"b12": {"value": value, "unit": unit}}, dates={"b12": "x"}, codes={"b12": "x"})
        return cards.review_cards(decision, results, patient_id="p", link=LINK)

    ng, pg = card_for("ng/L"), card_for("pg/mL")
    assert [c["indicator"] for c in ng] == [c["indicator"] for c in pg]
    assert [c["summary"].replace("ng/L", "pg/mL") for c in ng] == [c["summary"] for c in pg]
    assert convert(value, "ng/L", "pg/mL", TOTAL_B12_UNITS) == value


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    value=JUNK,
    unit=st.one_of(JUNK, st.sampled_from(["ng/L", "pmol/L", "umol/L", "mg/dL", "mL/min/{1.73_m2}"])),
    loinc=st.sampled_from(["2132-9", "14685-2", "72160-5", "13964-2", "98979-8", "0000-0"]),
    key=st.sampled_from(["b12", "activeB12", "mma", "egfr"]),
    status=st.sampled_from(["final", "preliminary", "amended", None, 3]),
)
def test_any_prefetched_value_is_answered_never_a_500(client, value, unit, loinc, key, status):
    """Junk in a prefetched Observation gives cards, none, or a 400 naming the prefetch key: never a 5xx, and no
    card from a value that is not a plausible number in a known unit."""
    if not CdsClient.objects.exists():
        register()
    result = observation(loinc, 150, "ng/L", status=status)
    result["valueQuantity"] = {"value": value, "unit": "u", "system": "http://unitsofmeasure.org", "code": unit}
    others = {key: bundle(result)} if key != "b12" else {}
    b12 = [result] if key == "b12" else [observation("2132-9", 150, "ng/L")]
    response = post(client, REVIEW, hook_body(prefetched=prefetch(*b12, **others)))
    assert response.status_code in {200, 400}, response.content
    if response.status_code == 400:
        assert all(name.startswith("prefetch.") for name in response.json()["errors"])


def test_openapi_lists_the_cds_endpoints(clinician_client):
    doc = clinician_client.get("/api/v1/openapi.json").json()
    assert {"/cds-services", "/cds-services/{id}", "/cds-services/{id}/feedback"} <= set(doc["paths"])
    assert doc["paths"]["/cds-services/{id}"]["post"]["security"] == [{"cdsJwt": []}]
    assert "412" in doc["paths"]["/cds-services/{id}"]["post"]["responses"]


def test_errors_under_cds_services_are_json(client):
    response = client.get("/cds-services/b12-review/feedback/extra")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_a_prefetched_patient_other_than_the_contexts_is_refused(client):
    prefetched = prefetch(observation("2132-9", 150, "ng/L"))
    prefetched["patient"]["id"] = "someone-else"
    response = post(client, REVIEW, hook_body(prefetched=prefetched))
    assert response.status_code == 400
    assert "prefetch.patient" in response.json()["errors"]


# --- what the EHR did not prefetch, read from its fhirServer ---

FHIR_SERVER = "https://ehr.example.org/fhir"


def test_missing_prefetch_is_read_from_the_fhir_server(client, monkeypatch):
    from recommender.interop.cds import fhirserver

    asked = []
    served = prefetch(observation("2132-9", 150, "ng/L"))

    def fhir_get(url, token):
        asked.append((url, token))
        return served["b12"] if "2132-9" in url else bundle()

    monkeypatch.setattr(fhirserver, "fhir_get", fhir_get)
    body = hook_body(prefetched={"patient": served["patient"]})
    body |= {"fhirServer": FHIR_SERVER, "fhirAuthorization": {"access_token": "ehr-token", "token_type": "Bearer"}}
    [card] = _cards(client, body)
    assert "150 ng/L" in card["summary"]
    assert {token for _, token in asked} == {"ehr-token"}
    assert all(url.startswith(f"{FHIR_SERVER}/Observation?patient={PATIENT_ID}&code=") for url, _ in asked)
    assert len(asked) == 5  # the five result searches; the patient was prefetched


def test_a_fhir_server_that_fails_is_412(client, monkeypatch):
    from recommender.interop.cds import fhirserver

    def fhir_get(url, token):
        raise fhirserver.FetchFailed("The FHIR server did not answer.")

    monkeypatch.setattr(fhirserver, "fhir_get", fhir_get)
    response = post(client, REVIEW, hook_body() | {"fhirServer": FHIR_SERVER})
    assert response.status_code == 412
    assert "did not answer" in response.json()["errors"]["fhirServer"][0]


def test_a_plain_http_fhir_server_is_not_queried(client, monkeypatch):
    from recommender.interop.cds import fhirserver

    monkeypatch.setattr(fhirserver, "fhir_get", lambda url, token: pytest.fail("queried"))
    response = post(client, REVIEW, hook_body() | {"fhirServer": "http://ehr.example.org/fhir"})
    assert response.status_code == 412
    assert "https://" in response.json()["errors"]["fhirServer"][0]


def test_the_query_count_does_not_grow_with_the_prefetch(client, clinician, monkeypatch):
    """The clients, the lab profile, the patient, then the jti and the card: however many results the EHR sends."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from recommender.interop.cds import security

    monkeypatch.setattr(security, "_SWEEP_ONE_IN", 10**18)  # the occasional sweep of expired ids is not counted

    make_patient(by=clinician, nhs_number=NHS_NUMBER)
    counts = []
    for results in (1, 25):
        observations = [observation("2132-9", 150 + n, "ng/L", when=f"2026-10-{n + 1:02d}") for n in range(results)]
        with CaptureQueriesContext(connection) as queries:
            assert len(_cards(client, hook_body(prefetched=prefetch(*observations)))) == 1
        counts.append(len(queries))
    assert counts[0] == counts[1]
