"""Properties of the engine that hold for every input: unit invariance, monotonicity, robustness."""

from __future__ import annotations

import json
from decimal import Decimal

from django.core.serializers.json import DjangoJSONEncoder
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.guideline import InvalidAssessment, decide, parse_assessment
from recommender.guideline.inputs import INPUTS, MEASUREMENTS, PlausibleRange
from recommender.guideline.units import canonical_unit

PMOL_PER_PG = Decimal("0.7378")
SEVERITY = {"not_deficient": 0, "indeterminate": 1, "deficient": 2}
# The decision itself; rationale wording, measurements and thresholds echo the units entered.
DECISION_KEYS = (
    "status",
    "basis",
    "next_test",
    "im_recommended",
    "indications",
    "loading",
    "maintenance",
    "oral_option",
    "warnings",
    "monitoring",
    "ruleset",
)

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)


def recommend(payload: dict) -> dict:
    return decide(parse_assessment(payload)).as_dict()


def decision(payload: dict) -> dict:
    result = recommend(payload)
    return {key: result[key] for key in DECISION_KEYS}


def decimals(max_value: str, places: int, min_value: str | None = None) -> st.SearchStrategy[Decimal]:
    """Plausible results: above zero (a result of 0 is refused) up to ``max_value``, to ``places`` decimals."""
    low = Decimal(min_value) if min_value is not None else Decimal(1).scaleb(-places)
    return st.decimals(
        min_value=low, max_value=Decimal(max_value), places=places, allow_nan=False, allow_infinity=False
    )


# Total B12 in pg/mL with few decimal places, with the boundaries and their neighbours drawn often.
B12_BOUNDARIES = [Decimal(v) for v in ("179.9", "179.99", "180", "180.01", "349.99", "350", "350.01", "350.1")]
pg_per_ml = st.one_of(st.sampled_from(B12_BOUNDARIES), decimals("3000", 2))
ACTIVE_BOUNDARIES = [Decimal(v) for v in ("24.9", "24.99", "25", "25.01", "69.99", "70", "70.01", "70.1")]
active_pmol = st.one_of(st.sampled_from(ACTIVE_BOUNDARIES), decimals("300", 2))
MMA_BOUNDARIES_UMOL = [Decimal(v) for v in ("0.399", "0.4", "0.40", "0.401", "0.21", "0.47")]
mma_umol = st.one_of(st.sampled_from(MMA_BOUNDARIES_UMOL), decimals("5", 3, min_value="0.01"))
mma_limit_umol = st.one_of(st.none(), st.sampled_from([Decimal("0.21"), Decimal("0.28"), Decimal("0.47")]))


@st.composite
def context(draw) -> dict:
    """Everything but total B12: the inputs held equal between the two requests of a property."""
    payload: dict = {}
    if draw(st.booleans()):
        payload["active_b12"] = {"value": draw(active_pmol), "unit": "pmol/L"}
    if draw(st.booleans()):
        mma: dict = {"value": draw(mma_umol), "unit": "umol/L"}
        limit = draw(mma_limit_umol)
        if limit is not None:
            mma["upper_limit"] = limit
        payload["mma"] = mma
    if draw(st.booleans()):
        payload["egfr"] = draw(st.sampled_from([Decimal(30), Decimal(59), Decimal(60), Decimal(90)]))
    payload["ileal_resection_cm"] = draw(st.sampled_from([Decimal(0), Decimal(20), Decimal("20.1"), Decimal(50)]))
    for flag in ("neurological_involvement", "severe", "bariatric_surgery", "malabsorption", "folic_acid", "pregnant"):
        payload[flag] = draw(st.booleans())
    return payload


# (1) Unit invariance.


@PROPERTY_SETTINGS
@given(pg=pg_per_ml, rest=context())
def test_total_b12_unit_invariance(pg, rest):
    pmol = pg * PMOL_PER_PG  # exact: a Decimal product, never a float one
    assert pmol == Decimal(str(pg)) * Decimal("0.7378")
    in_pg = decision({"b12": {"value": pg, "unit": "pg/mL"}, **rest})
    in_ng = decision({"b12": {"value": pg, "unit": "ng/L"}, **rest})
    in_pmol = decision({"b12": {"value": pmol, "unit": "pmol/L"}, **rest})
    for other in (in_ng, in_pmol):
        assert other["status"] == in_pg["status"]
        assert other["basis"] == in_pg["basis"]
        assert other["indications"] == in_pg["indications"]
    assert in_ng == in_pg
    assert in_pmol == in_pg


@PROPERTY_SETTINGS
@given(pg=pg_per_ml)
def test_total_b12_unit_invariance_of_the_band_alone(pg):
    pmol = pg * PMOL_PER_PG
    expected = "deficient" if pg < 180 else "indeterminate" if pg <= 350 else "not_deficient"
    for unit, value in (("pg/mL", pg), ("ng/L", pg), ("pmol/L", pmol)):
        result = recommend({"b12": {"value": value, "unit": unit}})
        assert result["status"] == expected, (unit, value)
        assert result["basis"] == "b12"


# (2) Monotonicity: a lower result is never less severe.


def lowered_pair(strategy):
    return st.tuples(strategy, strategy).map(sorted)


@PROPERTY_SETTINGS
@given(pair=lowered_pair(pg_per_ml), unit=st.sampled_from(["pg/mL", "ng/L", "pmol/L"]), rest=context())
def test_lowering_total_b12_never_lowers_severity(pair, unit, rest):
    low, high = pair
    if unit == "pmol/L":
        low, high = low * PMOL_PER_PG, high * PMOL_PER_PG
    at_low = recommend({"b12": {"value": low, "unit": unit}, **rest})
    at_high = recommend({"b12": {"value": high, "unit": unit}, **rest})
    assert SEVERITY[at_low["status"]] >= SEVERITY[at_high["status"]]
    if "deficiency" in at_high["indications"]:
        assert "deficiency" in at_low["indications"]
    if at_high["im_recommended"]:
        assert at_low["im_recommended"]


@st.composite
def context_without_active(draw) -> dict:
    payload = draw(context())
    payload.pop("active_b12", None)
    if draw(st.booleans()):
        payload["b12"] = {"value": draw(pg_per_ml), "unit": "pg/mL"}
    return payload


@PROPERTY_SETTINGS
@given(pair=lowered_pair(active_pmol), rest=context_without_active())
def test_lowering_active_b12_never_lowers_severity(pair, rest):
    low, high = pair
    at_low = recommend({"active_b12": {"value": low, "unit": "pmol/L"}, **rest})
    at_high = recommend({"active_b12": {"value": high, "unit": "pmol/L"}, **rest})
    assert SEVERITY[at_low["status"]] >= SEVERITY[at_high["status"]]
    if "deficiency" in at_high["indications"]:
        assert "deficiency" in at_low["indications"]
    if at_high["im_recommended"]:
        assert at_low["im_recommended"]


# (3) MMA: µmol/L and the same quantity × 1000 in nmol/L decide alike.


@PROPERTY_SETTINGS
@given(
    umol=mma_umol,
    limit=mma_limit_umol,
    rest=context(),
    b12=pg_per_ml,
    spelling=st.sampled_from(["umol/L", "µmol/L", "μmol/L"]),
)
def test_mma_unit_invariance(umol, limit, rest, b12, spelling):
    rest.pop("mma", None)
    rest.setdefault("b12", {"value": b12, "unit": "pg/mL"})
    in_umol: dict = {"value": umol, "unit": spelling}
    in_nmol: dict = {"value": umol * 1000, "unit": "nmol/L"}
    if limit is not None:
        in_umol["upper_limit"] = limit
        in_nmol["upper_limit"] = limit * 1000
    assert decision({**rest, "mma": in_umol}) == decision({**rest, "mma": in_nmol})


# (4) decide never raises for a valid request, and its answer is strict JSON.


def in_range(allowed: PlausibleRange, places: int = 3) -> st.SearchStrategy:
    """Any plausible value of an input in one unit, as a JSON int, float or exact decimal."""
    step = Decimal(1).scaleb(-places)
    low = allowed.low if allowed.low_inclusive else allowed.low + step
    exact = st.decimals(min_value=low, max_value=allowed.high, places=places, allow_nan=False, allow_infinity=False)
    return st.one_of(
        exact,
        exact.map(float),
        st.integers(min_value=int(low.to_integral_value(rounding="ROUND_CEILING")), max_value=int(allowed.high)),
    )


def json_number(field: str, spelling: str | None = None) -> st.SearchStrategy:
    spec = INPUTS[field]
    unit = canonical_unit(spelling, spec.units) if spelling else next(iter(spec.units))
    return in_range(spec.plausible[unit], places=min(3, spec.decimal_places))


def mma_limit(spelling: str) -> st.SearchStrategy:
    spec = MEASUREMENTS["mma"]
    return in_range(spec.limit_plausible[canonical_unit(spelling, spec.units)])


@st.composite
def valid_request(draw) -> dict:
    payload: dict = {}
    has_total = draw(st.booleans())
    has_active = draw(st.booleans()) or not has_total
    if has_total:
        unit = draw(st.sampled_from(["pg/mL", "ng/L", "pmol/L", "PG/ML", "pmol/l"]))
        payload["b12"] = {"value": draw(json_number("b12", unit)), "unit": unit}
    if has_active:
        payload["active_b12"] = {
            "value": draw(json_number("active_b12")),
            "unit": draw(st.sampled_from(["pmol/L", "PMOL/L"])),
        }
    if draw(st.booleans()):
        unit = draw(st.sampled_from(["umol/L", "µmol/L", "μmol/L", "nmol/L"]))
        mma = {"value": draw(json_number("mma", unit)), "unit": unit}
        if draw(st.booleans()):
            mma["upper_limit"] = draw(st.one_of(st.none(), mma_limit(unit)))
        payload["mma"] = mma
    if draw(st.booleans()):
        payload["homocysteine"] = {
            "value": draw(json_number("homocysteine")),
            "unit": draw(st.sampled_from(["umol/L", "µmol/L"])),
        }
    for field in ("egfr", "ileal_resection_cm"):
        if draw(st.booleans()):
            payload[field] = draw(st.one_of(st.none(), json_number(field)))
    for flag in ("neurological_involvement", "severe", "bariatric_surgery", "malabsorption", "folic_acid", "pregnant"):
        if draw(st.booleans()):
            payload[flag] = draw(st.one_of(st.none(), st.booleans()))
    return payload


@PROPERTY_SETTINGS
@given(payload=valid_request())
def test_decide_never_raises_and_answers_strict_json(payload):
    try:
        assessment = parse_assessment(payload)
    except InvalidAssessment as error:  # pragma: no cover - a failure, shown with its errors
        raise AssertionError(f"a valid request was refused: {error.errors}") from error
    result = decide(assessment).as_dict()
    text = json.dumps(result, allow_nan=False)
    round_trip = json.loads(text)
    assert round_trip["status"] in SEVERITY
    assert round_trip["basis"] in {"b12", "active_b12", "mma"}
    assert round_trip["next_test"] in {None, "mma"}
    assert isinstance(round_trip["im_recommended"], bool)
    assert round_trip["im_recommended"] is bool(round_trip["indications"])
    assert (round_trip["monitoring"] is None) is (not round_trip["im_recommended"])
    assert set(round_trip["indications"]) <= {"deficiency", "ileal_resection", "bariatric_surgery"}
    assert ("deficiency" in round_trip["indications"]) is (round_trip["status"] == "deficient")
    assert (round_trip["loading"] is not None) is (round_trip["status"] == "deficient")
    assert round_trip["ruleset"]["id"] == "seed-2025"
    cited = {c["id"] for c in round_trip["citations"]}
    for statement in round_trip["rationale"]:
        assert statement["citations"]
        assert set(statement["citations"]) <= cited


@PROPERTY_SETTINGS
@given(pg=pg_per_ml, rest=context())
def test_the_stored_decision_reads_back_as_the_engine_made_it(pg, rest):
    """The typed decision the project reads (from the JSON stored with each assessment) says what the engine said."""
    from recommender.guideline.stored import Decision

    made = decide(parse_assessment({"b12": {"value": pg, "unit": "pg/mL"}, **rest}))
    read = Decision.from_dict(json.loads(json.dumps(made.as_dict(), cls=DjangoJSONEncoder)))
    assert (read.status, read.basis, read.im_recommended, read.indications, read.headline) == (
        made.status, made.basis, made.im_recommended, made.indications, made.headline
    )  # fmt: skip
    assert [(a.code, a.level) for a in read.alerts] == [(a.code, a.level) for a in made.alerts]
    assert (read.ruleset_id, read.ruleset_version) == (made.ruleset.id, made.ruleset.version)
    offer = read.offer()
    if made.im_recommended:
        assert offer is not None and not offer.pending_mma
        assert (offer.min_months, offer.max_months) == (read.maintenance.min_months, read.maintenance.max_months)
        assert offer.loading_pattern == (made.loading.pattern if made.loading else "")
    elif made.pending_mma is not None:
        assert offer is not None and offer.pending_mma
    else:
        assert offer is None
