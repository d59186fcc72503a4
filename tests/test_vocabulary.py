"""Every code has its words in one module (recommender/vocabulary.py), and each place that shows a code uses them.

The engine keeps its own codes and never imports the vocabulary; these tests hold the two together: a code the
engine answers with that has no word here fails, whichever answer carries it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recommender.guideline import engine, schedule
from recommender.guideline.ruleset import RULESETS
from recommender.interop.openapi import SCHEMAS
from recommender.models import Assessment, DoseRecord, TreatmentPlan
from recommender.vocabulary import (
    Basis,
    Indication,
    Level,
    Outcome,
    Pattern,
    Phase,
    Status,
    WarningCode,
    dose_label,
    words,
)
from tests.factories import make_plan

GOLDEN = Path(__file__).parent / "data" / "decisions_golden.json"


def test_dose_labels():
    assert dose_label("loading", 2, 6) == "Loading 2 of 6"
    assert dose_label("loading", 4, None) == "Loading 4 (alternate days)"
    assert dose_label("maintenance", 3, 6) == "Maintenance 3"


def test_every_code_the_engine_names_has_a_word():
    assert {engine.DEFICIENT, engine.INDETERMINATE, engine.NOT_DEFICIENT} == set(Status.values)
    assert {engine.RED_FLAG, engine.CAUTION, engine.ADVICE} == set(Level.values)
    assert {rule.code for rule in engine.ALERTS} == set(WarningCode.values)
    assert {rule.level for rule in engine.ALERTS} <= set(Level.values)
    assert set(engine._INDICATION_WORDS) == set(Indication.values)
    assert {schedule.LOADING, schedule.MAINTENANCE} == set(Phase.values)
    assert {schedule.THREE_TIMES_WEEKLY, schedule.ALTERNATE_DAYS} == set(Pattern.values)
    for ruleset in RULESETS.values():
        assert {ruleset.loading_without_neuro.pattern, ruleset.loading_with_neuro.pattern} <= set(Pattern.values)


def test_every_code_in_every_golden_decision_has_a_word():
    seen: dict[str, set] = {"status": set(), "basis": set(), "indications": set(), "warnings": set(), "level": set()}
    for entry in json.loads(GOLDEN.read_text()):
        d = entry["decision"]
        seen["status"].add(d["status"])
        seen["basis"].add(d["basis"])
        seen["indications"].update(d["indications"])
        seen["warnings"].update(d["warnings"])
        seen["level"].update(a["level"] for a in d["alerts"])
        if d.get("loading"):
            assert d["loading"]["pattern"] in Pattern.values
    assert seen["status"] - {""} == set(Status.values)  # "": no result to judge
    assert seen["basis"] - {""} == set(Basis.values)
    assert seen["indications"] <= set(Indication.values)
    assert seen["warnings"] <= set(WarningCode.values)
    assert seen["level"] <= set(Level.values)


def test_words_never_fail_on_an_unknown_code():
    assert words(Indication, "ileal_resection") == "ileal resection"
    assert words(Indication, "gastrectomy_total") == "gastrectomy total"


def test_models_take_their_choices_from_the_vocabulary():
    assert Assessment._meta.get_field("status").choices == Status.choices
    assert TreatmentPlan._meta.get_field("loading_pattern").choices == Pattern.choices
    assert TreatmentPlan._meta.get_field("next_phase").choices == Phase.choices
    assert DoseRecord._meta.get_field("phase").choices == Phase.choices
    assert DoseRecord._meta.get_field("outcome").choices == Outcome.choices


def test_the_openapi_enums_are_the_vocabulary():
    response = SCHEMAS["Recommendation"]["properties"]
    assert response["status"]["enum"] == Status.values
    assert response["basis"]["enum"] == Basis.values
    assert response["indications"]["items"]["enum"] == Indication.values
    assert response["alerts"]["items"]["properties"]["level"]["enum"] == Level.values
    described = response["warnings"]["description"]
    assert all(code in described for code in WarningCode.values)


def test_the_engine_does_not_import_the_vocabulary():
    for path in Path(engine.__file__).parent.glob("*.py"):
        assert "vocabulary" not in path.read_text(), path


@pytest.mark.django_db
def test_the_admin_shows_words_not_codes(admin_client, clinician):
    plan = make_plan(clinician)
    page = admin_client.get("/admin/recommender/treatmentplan/").content.decode()
    assert "Three times a week" in page or "Alternate days" in page
    assert "three_times_weekly" not in page.replace("loading_pattern__exact=three_times_weekly", "")
    detail = admin_client.get(f"/admin/recommender/treatmentplan/{plan.pk}/change/").content.decode()
    assert "deficiency" in detail and '["deficiency"]' not in detail and "[&quot;deficiency&quot;]" not in detail
