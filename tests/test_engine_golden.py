"""The engine's decision is unchanged by its refactoring (issue 12, item 5).

``tests/data/decisions_golden.json`` was written by the engine *before* ``decide`` was split into its questions
(status, indications, regimen, alerts, monitoring). Each entry holds an input case and the full contract response
(``decide(...).as_dict()``) for it; the test rebuilds the case and compares every key, every word, every citation.

The cases are a deterministic grid (no Hypothesis, no clock): every band edge of total and active B12 in each unit,
MMA above and below the default and a lab's limit, eGFR around the renal cut-off, homocysteine around its target,
ileal resections around 20 cm, every flag, and a lab profile — then a seeded random mix of all of them.

Regenerate only when a behaviour change is intended and reviewed:
``B12_WRITE_GOLDEN=1 python -m pytest tests/test_engine_golden.py``.
"""

from __future__ import annotations

import json
import os
import random
from decimal import Decimal
from pathlib import Path

import pytest

from recommender.guideline import DEFAULT_RULESET, Assessment, Measurement, MmaResult, decide

GOLDEN = Path(__file__).parent / "data" / "decisions_golden.json"

B12 = [
    None,
    ("100", "pg/mL"),
    ("179", "pg/mL"),
    ("180", "pg/mL"),
    ("181", "pg/mL"),
    ("350", "pg/mL"),
    ("350.1", "pg/mL"),
    ("900", "pg/mL"),
    ("1000", "pg/mL"),
    ("1001", "pg/mL"),
    ("132.8", "pmol/L"),
    ("133", "pmol/L"),
    ("258.23", "pmol/L"),
    ("259", "pmol/L"),
    ("800", "pmol/L"),
    ("179.9", "ng/L"),
    ("400", "ng/L"),
]
ACTIVE = [None, ("20", "pmol/L"), ("25", "pmol/L"), ("50", "pmol/L"), ("70", "pmol/L"), ("70.1", "pmol/L")]
MMA = [
    None,
    ("0.30", "umol/L", None),
    ("0.40", "umol/L", None),
    ("0.45", "umol/L", None),
    ("400", "nmol/L", None),
    ("520", "nmol/L", None),
    ("0.45", "umol/L", "0.50"),
    ("0.55", "umol/L", "0.50"),
    ("300", "nmol/L", "280"),
]
HOMOCYSTEINE = [None, "9.5", "10", "15"]
EGFR = [None, "30", "59.9", "60", "90"]
ILEAL = ["0", "10", "20", "20.5", "60"]
FLAGS = ("neurological_involvement", "severe", "bariatric_surgery", "malabsorption", "folic_acid", "pregnant")
PROFILES = [None, "lab"]


def _case(**kw) -> dict:
    case = {
        "b12": None,
        "active_b12": None,
        "mma": None,
        "homocysteine": None,
        "egfr": None,
        "ileal_resection_cm": "0",
        "profile": None,
    }
    case.update({flag: False for flag in FLAGS})
    case.update(kw)
    return case


def cases() -> list[dict]:
    """About 700 inputs: the status grid crossed with neurological signs, the flags one by one, then a random mix."""
    out = []
    for b12 in B12:
        for mma in MMA:
            for neuro in (False, True):
                out.append(_case(b12=b12, mma=mma, neurological_involvement=neuro))
    for b12 in B12:
        for active in ACTIVE[1:]:
            out.append(_case(b12=b12, active_b12=active))
    for flag in FLAGS:
        for b12 in (None, ("100", "pg/mL"), ("250", "pg/mL"), ("500", "pg/mL")):
            out.append(_case(b12=b12, **{flag: True}))
    for ileal in ILEAL:
        for b12 in (None, ("100", "pg/mL"), ("500", "pg/mL")):
            out.append(_case(b12=b12, ileal_resection_cm=ileal))
    rng = random.Random(12)
    for _ in range(300):
        out.append(
            _case(
                b12=rng.choice(B12),
                active_b12=rng.choice(ACTIVE),
                mma=rng.choice(MMA),
                homocysteine=rng.choice(HOMOCYSTEINE),
                egfr=rng.choice(EGFR),
                ileal_resection_cm=rng.choice(ILEAL),
                profile=rng.choice(PROFILES),
                **{flag: rng.random() < 0.3 for flag in FLAGS},
            )
        )
    return out


def _assessment(case: dict) -> Assessment:
    def measurement(pair):
        return Measurement(Decimal(pair[0]), pair[1]) if pair else None

    mma = case["mma"]
    return Assessment(
        b12=measurement(case["b12"]),
        active_b12=measurement(case["active_b12"]),
        mma=MmaResult(Decimal(mma[0]), mma[1], Decimal(mma[2]) if mma[2] else None) if mma else None,
        homocysteine=Measurement(Decimal(case["homocysteine"]), "umol/L") if case["homocysteine"] else None,
        egfr=Decimal(case["egfr"]) if case["egfr"] else None,
        ileal_resection_cm=Decimal(case["ileal_resection_cm"]),
        **{flag: case[flag] for flag in FLAGS},
    )


def _thresholds(case: dict):
    if case["profile"] is None:
        return None
    return DEFAULT_RULESET.thresholds.with_values(
        profile="Lab X",
        total_deficient_below=Decimal("150"),
        total_not_deficient_above=Decimal("300"),
        active_deficient_below=Decimal("30"),
        active_not_deficient_above=Decimal("60"),
        mma_upper_limit_umol_l=Decimal("0.35"),
    )


def _decision(case: dict) -> dict:
    """The contract response as JSON would carry it (tuples become lists, Decimals are already numbers)."""
    return json.loads(json.dumps(decide(_assessment(case), DEFAULT_RULESET, _thresholds(case)).as_dict()))


def _write_golden() -> None:
    GOLDEN.parent.mkdir(exist_ok=True)
    entries = [{"case": case, "decision": _decision(case)} for case in cases()]
    lines = ",\n".join(
        json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":")) for entry in entries
    )
    GOLDEN.write_text("[\n" + lines + "\n]\n", encoding="utf-8")  # one case a line: a change diffs as its case


if os.environ.get("B12_WRITE_GOLDEN") == "1":  # pragma: no cover - run by hand only
    _write_golden()

ENTRIES = json.loads(GOLDEN.read_text(encoding="utf-8"))


def test_the_snapshot_holds_the_whole_grid():
    """The file is the grid above, not a stale or truncated subset of it."""
    assert [entry["case"] for entry in ENTRIES] == json.loads(json.dumps(cases()))
    assert len(ENTRIES) >= 500


def test_the_snapshot_covers_every_outcome():
    """The grid reaches every status, basis, indication, alert, the oral option and the treatment pending MMA."""
    decisions = [entry["decision"] for entry in ENTRIES]
    assert {d["status"] for d in decisions} >= {"deficient", "indeterminate", "not_deficient"}
    assert {d["basis"] for d in decisions} >= {"b12", "active_b12", "mma"}
    assert {i for d in decisions for i in d["indications"]} == {"deficiency", "ileal_resection", "bariatric_surgery"}
    codes = {code for d in decisions for code in d["warnings"]}
    assert codes >= {
        "folic_acid",
        "neuro_urgent_advice",
        "nitrous_oxide",
        "severe_prefer_im",
        "potassium_platelets",
        "pregnancy",
        "sample_before_treatment",
        "indeterminate_clinical_judgement",
        "individualised_regimen",
        "no_biomarker_titration",
        "cobalt_allergy",
        "homocysteine_above_target",
        "high_b12",
        "mma_renal",
        "mma_discordant",
    }
    assert any(d["oral_option"] for d in decisions)
    assert any(d["treatment_pending_mma"] for d in decisions)
    assert any(d["thresholds"] != decisions[0]["thresholds"] for d in decisions)


@pytest.mark.parametrize("index", range(len(ENTRIES)))
def test_decision_matches_the_snapshot_from_before_the_split(index):
    entry = ENTRIES[index]
    assert _decision(entry["case"]) == entry["decision"]


def test_every_catalogue_entry_fires_somewhere_in_the_grid():
    """No dead entry in the alert catalogue: each (variants included) is raised, with its level and words, by some
    case of the snapshot."""
    from recommender.guideline.engine import ALERTS

    raised = {(a["code"], a["level"], a["text"]) for entry in ENTRIES for a in entry["decision"]["alerts"]}
    for rule in ALERTS:
        fixed = rule.template.split("{")[0]
        assert any(
            code == rule.code and level == rule.level and text.startswith(fixed) for code, level, text in raised
        ), (
            rule.code,
            rule.level,
        )
    assert {rule.code for rule in ALERTS} == {code for code, _, _ in raised}


def test_each_decision_gets_its_own_monitoring_containers():
    """The monitoring words are built once per ruleset: a caller changing one decision's lists changes no other."""
    from recommender.guideline import decide, parse_assessment

    request = {"b12": {"value": 150, "unit": "pg/mL"}}
    first = decide(parse_assessment(request)).as_dict()
    first["monitoring"]["caveats"].append("tampered")
    first["monitoring"]["statements"][0]["citations"].append("tampered")
    first["monitoring"]["citations"].append("tampered")
    second = decide(parse_assessment(request)).as_dict()
    assert "tampered" not in second["monitoring"]["caveats"]
    assert "tampered" not in second["monitoring"]["statements"][0]["citations"]
    assert "tampered" not in second["monitoring"]["citations"]
