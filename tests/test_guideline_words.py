"""Words a clinician can trust (issue 11, item 7): levels, wording, prompts and sources said honestly."""

from __future__ import annotations

import pytest

from recommender.guideline import decide, parse_assessment
from recommender.guideline.citations import CITATIONS, SECONDARY

DEFICIENT_B12 = {"value": 150, "unit": "pg/mL"}
BORDERLINE = {"value": 250, "unit": "pg/mL"}
NORMAL_B12 = {"value": 500, "unit": "pg/mL"}


def recommend(payload: dict) -> dict:
    return decide(parse_assessment(payload)).as_dict()


def alert(result: dict, code: str) -> dict | None:
    return next((a for a in result["alerts"] if a["code"] == code), None)


def rationale(result: dict) -> str:
    return " ".join(s["text"] for s in result["rationale"])


# Folic acid: the code stays where the contract puts it; the red flag only when folic acid is ticked.


@pytest.mark.parametrize("b12", [DEFICIENT_B12, BORDERLINE])
def test_folic_acid_is_a_caution_when_not_ticked(b12):
    result = recommend({"b12": b12})
    assert "folic_acid" in result["warnings"]
    assert alert(result, "folic_acid")["level"] == "caution"


@pytest.mark.parametrize("b12", [DEFICIENT_B12, BORDERLINE, NORMAL_B12])
def test_folic_acid_is_a_red_flag_when_ticked(b12):
    result = recommend({"b12": b12, "folic_acid": True})
    assert alert(result, "folic_acid")["level"] == "red_flag"


# The route: IM is this ruleset's, not the only one the evidence supports.


def test_deficiency_is_not_called_an_indication_for_im_flatly():
    text = rationale(recommend({"b12": DEFICIENT_B12}))
    assert "Deficiency is an indication for intramuscular" not in text
    assert "this ruleset" in text
    assert "oral B12 non-inferior" in text


# Deficiency is not "confirmed" flatly while the renal caution says the MMA may be renal.


def test_renal_caution_qualifies_the_mma_confirmation():
    result = recommend({"b12": BORDERLINE, "mma": {"value": 0.6, "unit": "umol/L"}, "egfr": 40})
    assert "mma_renal" in result["warnings"]
    assert result["status"] == "deficient"  # the contract's meaning is kept
    assert "deficiency confirmed" not in rationale(result)
    assert "not confirmed" in rationale(result)
    assert "renal" in result["headline"]


def test_without_renal_impairment_mma_still_confirms():
    result = recommend({"b12": BORDERLINE, "mma": {"value": 0.6, "unit": "umol/L"}, "egfr": 90})
    assert "deficiency confirmed" in rationale(result)


# NICE: consider MMA when symptomatic, not "measure MMA" for everyone.


def test_an_indeterminate_result_cites_nices_consider_mma():
    result = recommend({"b12": BORDERLINE})
    assert result["next_test"] == "mma"
    text = rationale(result)
    assert "measure methylmalonic acid (MMA) to confirm" not in text
    assert "NICE NG239 suggests considering a methylmalonic acid (MMA) test when the person has symptoms" in text
    assert "consider" in result["headline"].lower()


# Recreational nitrous oxide can leave B12 looking normal.


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"b12": NORMAL_B12, "neurological_involvement": True}, True),
        ({"b12": BORDERLINE, "neurological_involvement": True}, True),
        ({"b12": DEFICIENT_B12, "neurological_involvement": True}, True),
        ({"b12": BORDERLINE, "severe": True}, True),
        ({"b12": NORMAL_B12, "severe": True}, True),
        ({"b12": DEFICIENT_B12}, False),
        ({"b12": NORMAL_B12}, False),
        ({"b12": BORDERLINE}, False),
    ],
)
def test_nitrous_oxide_prompt(payload, expected):
    result = recommend(payload)
    assert ("nitrous_oxide" in result["warnings"]) is expected
    if expected:
        prompt = alert(result, "nitrous_oxide")
        assert prompt["level"] == "advice"
        assert "nitrous oxide" in prompt["text"]
        assert "normal" in prompt["text"]
        assert prompt["citations"] == ["nice-ng239"]


# The BNF's "every 2–3 months" dates from 2021.


def test_the_bnf_interval_is_dated():
    assert "dates from 2021; before that it advised every 3 months" in rationale(recommend({"b12": DEFICIENT_B12}))
    neuro = recommend({"b12": DEFICIENT_B12, "neurological_involvement": True})
    assert "dates from 2021" not in rationale(neuro)  # every 2 months: not the interval that changed


# Sources say what kind they are, and statements resting on secondary or unverified ones alone say so.


def test_citations_say_their_kind_and_whether_verified():
    for cid in ("praxis-replacement-2025", "praxis-injection-2025", "droracle-overview-2025"):
        assert CITATIONS[cid].kind == SECONDARY
        assert CITATIONS[cid].verified is False
    for cid in ("nice-ng239", "bnf-hydroxocobalamin", "smpc-neo-cytamen", "bsh-2014"):
        assert CITATIONS[cid].kind == "guideline"
    assert CITATIONS["afp-2025"].kind == "review"
    listed = recommend({"b12": DEFICIENT_B12})["citations"]
    assert all({"kind", "verified"} <= set(c) for c in listed)


def test_a_statement_resting_only_on_secondary_sources_says_so():
    result = recommend({"b12": NORMAL_B12, "ileal_resection_cm": 30})
    ileal = next(s for s in result["rationale"] if "ileal resection" in s["text"])
    assert set(ileal["citations"]) <= {"praxis-injection-2025", "droracle-overview-2025"}
    assert ileal["secondary_only"] is True
    monitoring = result["monitoring"]["statements"][0]
    assert monitoring["text"].startswith("Monitoring every 3 months")
    assert monitoring["secondary_only"] is True
    band = result["rationale"][0]
    assert "nice-ng239" in band["citations"]
    assert band["secondary_only"] is False


CASES = [
    {"b12": DEFICIENT_B12, "folic_acid": True, "pregnant": True, "severe": True},
    {"b12": BORDERLINE, "neurological_involvement": True, "homocysteine": {"value": 14, "unit": "umol/L"}},
    {"b12": BORDERLINE, "mma": {"value": 0.6, "unit": "umol/L"}, "egfr": 40},
    {"b12": {"value": 1500, "unit": "pg/mL"}, "bariatric_surgery": True},
    {"b12": NORMAL_B12, "ileal_resection_cm": 30, "severe": True},
]


@pytest.mark.parametrize("payload", CASES)
def test_every_alert_advice_and_monitoring_line_carries_listed_citations(payload):
    result = recommend(payload)
    listed = {c["id"] for c in result["citations"]}
    lines = [*result["alerts"], *result["rationale"]]
    if result["monitoring"]:
        lines += result["monitoring"]["statements"]
        assert set(result["monitoring"]["citations"]) <= listed
    for part in ("loading", "maintenance", "oral_option"):
        if result[part]:
            lines.append(result[part])
    if result["treatment_pending_mma"]:
        lines += [result["treatment_pending_mma"]["loading"], result["treatment_pending_mma"]["maintenance"]]
    for line in lines:
        assert line["citations"], line
        assert set(line["citations"]) <= listed, line
    for line in (*result["alerts"], *result["rationale"], *(result["monitoring"] or {}).get("statements", [])):
        assert isinstance(line["secondary_only"], bool)
