"""The contract's warning codes, where they apply and where they must not; every statement cites its sources."""

from __future__ import annotations

import pytest

from recommender.guideline import decide, parse_assessment

DEFICIENT_B12 = {"value": 150, "unit": "pg/mL"}
INDETERMINATE_B12 = {"value": 250, "unit": "pg/mL"}
NORMAL_B12 = {"value": 500, "unit": "pg/mL"}
ELEVATED_MMA = {"value": 0.6, "unit": "umol/L"}
NORMAL_MMA = {"value": 0.2, "unit": "umol/L"}


def recommend(payload: dict) -> dict:
    return decide(parse_assessment(payload)).as_dict()


def warnings(payload: dict) -> list[str]:
    codes = recommend(payload)["warnings"]
    assert all(isinstance(code, str) for code in codes)
    return codes


# folic_acid: status deficient or indeterminate, or folic_acid true.


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"b12": DEFICIENT_B12}, True),
        ({"b12": {"value": 179.9, "unit": "ng/L"}}, True),
        ({"b12": INDETERMINATE_B12}, True),
        ({"b12": {"value": 150, "unit": "pmol/L"}}, True),
        ({"active_b12": {"value": 20, "unit": "pmol/L"}}, True),
        ({"active_b12": {"value": 50, "unit": "pmol/L"}}, True),
        ({"b12": INDETERMINATE_B12, "mma": ELEVATED_MMA}, True),
        ({"b12": NORMAL_B12, "folic_acid": True}, True),
        ({"b12": INDETERMINATE_B12, "mma": NORMAL_MMA, "folic_acid": True}, True),
        ({"b12": NORMAL_B12}, False),
        ({"b12": NORMAL_B12, "folic_acid": False}, False),
        ({"b12": {"value": 350.1, "unit": "pg/mL"}}, False),
        ({"active_b12": {"value": 70.1, "unit": "pmol/L"}}, False),
        # Indeterminate resolved to not deficient by a normal MMA.
        ({"b12": INDETERMINATE_B12, "mma": NORMAL_MMA}, False),
        # Prophylaxis with a normal B12 and no folic acid: no deficiency to mask.
        ({"b12": NORMAL_B12, "bariatric_surgery": True}, False),
    ],
)
def test_folic_acid_warning(payload, expected):
    assert ("folic_acid" in warnings(payload)) is expected


# severe_prefer_im: severe is true.


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"b12": DEFICIENT_B12, "severe": True}, True),
        ({"b12": DEFICIENT_B12, "severe": True, "neurological_involvement": True}, True),
        ({"b12": INDETERMINATE_B12, "severe": True}, True),
        ({"active_b12": {"value": 5, "unit": "pmol/L"}, "severe": True}, True),
        ({"b12": DEFICIENT_B12}, False),
        ({"b12": DEFICIENT_B12, "severe": False}, False),
        ({"b12": DEFICIENT_B12, "neurological_involvement": True}, False),
        ({"b12": NORMAL_B12}, False),
    ],
)
def test_severe_prefer_im_warning(payload, expected):
    assert ("severe_prefer_im" in warnings(payload)) is expected


# neuro_urgent_advice: neurological_involvement is true.


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"b12": DEFICIENT_B12, "neurological_involvement": True}, True),
        ({"b12": INDETERMINATE_B12, "neurological_involvement": True}, True),
        ({"b12": NORMAL_B12, "neurological_involvement": True}, True),
        ({"active_b12": {"value": 30, "unit": "pmol/L"}, "neurological_involvement": True}, True),
        ({"b12": DEFICIENT_B12}, False),
        ({"b12": DEFICIENT_B12, "neurological_involvement": False}, False),
        ({"b12": DEFICIENT_B12, "severe": True}, False),
    ],
)
def test_neuro_urgent_advice_warning(payload, expected):
    assert ("neuro_urgent_advice" in warnings(payload)) is expected


# mma_renal: an elevated MMA with eGFR below 60.


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"b12": INDETERMINATE_B12, "mma": ELEVATED_MMA, "egfr": 59}, True),
        ({"b12": INDETERMINATE_B12, "mma": ELEVATED_MMA, "egfr": 59.9}, True),
        ({"b12": INDETERMINATE_B12, "mma": ELEVATED_MMA, "egfr": 15}, True),
        ({"b12": INDETERMINATE_B12, "mma": {"value": 600, "unit": "nmol/L"}, "egfr": 45}, True),
        ({"b12": INDETERMINATE_B12, "mma": {"value": 0.3, "unit": "umol/L", "upper_limit": 0.25}, "egfr": 40}, True),
        # Elevated MMA although a clear B12 band decided the status: still possibly renal.
        ({"b12": DEFICIENT_B12, "mma": ELEVATED_MMA, "egfr": 30}, True),
        ({"b12": NORMAL_B12, "mma": ELEVATED_MMA, "egfr": 30}, True),
        # eGFR 60 is not below 60.
        ({"b12": INDETERMINATE_B12, "mma": ELEVATED_MMA, "egfr": 60}, False),
        ({"b12": INDETERMINATE_B12, "mma": ELEVATED_MMA, "egfr": 60.0}, False),
        ({"b12": INDETERMINATE_B12, "mma": ELEVATED_MMA, "egfr": 90}, False),
        # No eGFR given.
        ({"b12": INDETERMINATE_B12, "mma": ELEVATED_MMA}, False),
        # MMA not elevated (at or below the limit), however low the eGFR.
        ({"b12": INDETERMINATE_B12, "mma": NORMAL_MMA, "egfr": 59}, False),
        ({"b12": INDETERMINATE_B12, "mma": {"value": 0.40, "unit": "umol/L"}, "egfr": 59}, False),
        ({"b12": INDETERMINATE_B12, "mma": {"value": 400, "unit": "nmol/L"}, "egfr": 20}, False),
        ({"b12": INDETERMINATE_B12, "mma": {"value": 0.45, "unit": "umol/L", "upper_limit": 0.47}, "egfr": 20}, False),
        # No MMA at all.
        ({"b12": DEFICIENT_B12, "egfr": 20}, False),
    ],
)
def test_mma_renal_warning(payload, expected):
    assert ("mma_renal" in warnings(payload)) is expected


# individualised_regimen and no_biomarker_titration: whenever injections are recommended.

INJECTIONS = [
    {"b12": DEFICIENT_B12},
    {"b12": DEFICIENT_B12, "neurological_involvement": True},
    {"b12": INDETERMINATE_B12, "mma": ELEVATED_MMA},
    {"active_b12": {"value": 10, "unit": "pmol/L"}},
    {"b12": NORMAL_B12, "ileal_resection_cm": 20.1},
    {"b12": NORMAL_B12, "bariatric_surgery": True},
]
NO_INJECTIONS = [
    {"b12": NORMAL_B12},
    {"b12": INDETERMINATE_B12},
    {"b12": INDETERMINATE_B12, "mma": NORMAL_MMA},
    {"b12": NORMAL_B12, "ileal_resection_cm": 20},
    {"b12": NORMAL_B12, "severe": True, "neurological_involvement": True, "pregnant": True},
]


@pytest.mark.parametrize("code", ["individualised_regimen", "no_biomarker_titration"])
@pytest.mark.parametrize("payload", INJECTIONS)
def test_regimen_warnings_when_injections_are_recommended(payload, code):
    result = recommend(payload)
    assert result["im_recommended"] is True
    assert code in result["warnings"]


@pytest.mark.parametrize("code", ["individualised_regimen", "no_biomarker_titration"])
@pytest.mark.parametrize("payload", NO_INJECTIONS)
def test_no_regimen_warnings_without_injections(payload, code):
    result = recommend(payload)
    assert result["im_recommended"] is False
    assert code not in result["warnings"]


# pregnancy: pregnant is true.


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"b12": DEFICIENT_B12, "pregnant": True}, True),
        ({"b12": NORMAL_B12, "pregnant": True}, True),
        ({"active_b12": {"value": 40, "unit": "pmol/L"}, "pregnant": True}, True),
        ({"b12": DEFICIENT_B12}, False),
        ({"b12": DEFICIENT_B12, "pregnant": False}, False),
    ],
)
def test_pregnancy_warning(payload, expected):
    assert ("pregnancy" in warnings(payload)) is expected


def test_a_plain_normal_result_raises_none_of_the_contract_warnings():
    contract_codes = {
        "folic_acid",
        "severe_prefer_im",
        "neuro_urgent_advice",
        "mma_renal",
        "individualised_regimen",
        "no_biomarker_titration",
        "pregnancy",
    }
    assert contract_codes.isdisjoint(warnings({"b12": NORMAL_B12}))


def test_every_contract_warning_at_once():
    codes = warnings(
        {
            "b12": INDETERMINATE_B12,
            "mma": ELEVATED_MMA,
            "egfr": 50,
            "neurological_involvement": True,
            "severe": True,
            "folic_acid": True,
            "pregnant": True,
        }
    )
    for code in (
        "folic_acid",
        "severe_prefer_im",
        "neuro_urgent_advice",
        "mma_renal",
        "individualised_regimen",
        "no_biomarker_titration",
        "pregnancy",
    ):
        assert code in codes
    assert len(codes) == len(set(codes)), "a warning code is repeated"


# Rationale and citations.

CITATION_CASES = [
    {"b12": DEFICIENT_B12},
    {"b12": NORMAL_B12},
    {"b12": INDETERMINATE_B12},
    {"b12": {"value": 150, "unit": "pmol/L"}},
    {"b12": {"value": 1500, "unit": "pg/mL"}},
    {"active_b12": {"value": 50, "unit": "pmol/L"}},
    {"b12": {"value": 400, "unit": "ng/L"}, "active_b12": {"value": 20, "unit": "pmol/L"}},
    {"b12": INDETERMINATE_B12, "mma": ELEVATED_MMA, "egfr": 40},
    {"b12": INDETERMINATE_B12, "mma": {"value": 300, "unit": "nmol/L", "upper_limit": 280}},
    {"b12": NORMAL_B12, "mma": ELEVATED_MMA},
    {"b12": DEFICIENT_B12, "neurological_involvement": True, "severe": True},
    {"b12": NORMAL_B12, "ileal_resection_cm": 20},
    {"b12": NORMAL_B12, "ileal_resection_cm": 35, "bariatric_surgery": True},
    {"b12": DEFICIENT_B12, "bariatric_surgery": True, "malabsorption": True},
    {"b12": NORMAL_B12, "bariatric_surgery": True, "homocysteine": {"value": 14, "unit": "umol/L"}},
    {"b12": INDETERMINATE_B12, "neurological_involvement": True, "pregnant": True, "folic_acid": True},
]


@pytest.mark.parametrize("payload", CITATION_CASES)
def test_every_rationale_statement_cites_a_listed_source(payload):
    result = recommend(payload)
    rationale = result["rationale"]
    assert rationale, "the decision must be explained"
    listed = {c["id"]: c for c in result["citations"]}
    assert len(listed) == len(result["citations"]), "a citation is listed twice"
    for statement in rationale:
        assert isinstance(statement["text"], str)
        assert statement["text"].strip()
        assert statement["citations"], f"uncited statement: {statement['text']!r}"
        for cid in statement["citations"]:
            assert cid in listed, f"{cid!r} is cited but not in the citations list"


@pytest.mark.parametrize("payload", CITATION_CASES)
def test_every_listed_citation_has_title_source_and_year(payload):
    citations = recommend(payload)["citations"]
    assert citations
    for citation in citations:
        assert isinstance(citation["id"], str)
        assert citation["id"]
        assert isinstance(citation["title"], str)
        assert citation["title"].strip()
        assert isinstance(citation["source"], str)
        assert citation["source"].strip()
        assert isinstance(citation["year"], int)
        assert not isinstance(citation["year"], bool)
        assert 1950 <= citation["year"] <= 2100


@pytest.mark.parametrize("payload", CITATION_CASES)
def test_warnings_with_their_own_sources_are_listed_too(payload):
    result = recommend(payload)
    listed = {c["id"] for c in result["citations"]}
    for alert in result.get("alerts", []):
        for cid in alert.get("citations", []):
            assert cid in listed


def test_the_rationale_explains_the_unit_trap():
    """150 pmol/L is explained with its conversion, not only labelled indeterminate."""
    text = " ".join(s["text"] for s in recommend({"b12": {"value": 150, "unit": "pmol/L"}})["rationale"])
    assert "150" in text
    assert "203" in text  # 150 / 0.7378 = 203.3 pg/mL
