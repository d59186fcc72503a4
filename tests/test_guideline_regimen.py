"""Indications, loading, maintenance, oral option and monitoring under ruleset seed-2025."""

from __future__ import annotations

from decimal import Decimal

import pytest

from recommender.guideline import decide, parse_assessment

DEFICIENT_B12 = {"value": 150, "unit": "pg/mL"}
INDETERMINATE_B12 = {"value": 250, "unit": "pg/mL"}
NORMAL_B12 = {"value": 500, "unit": "pg/mL"}

THREE_TIMES_WEEKLY = {
    "drug": "hydroxocobalamin",
    "dose_mg": 1,
    "route": "IM",
    "pattern": "three_times_weekly",
    "weeks": 2,
    "until": "fixed_course",
}
ALTERNATE_DAYS = {
    "drug": "hydroxocobalamin",
    "dose_mg": 1,
    "route": "IM",
    "pattern": "alternate_days",
    "weeks": None,
    "until": "no_further_improvement",
}
ORAL_AFTER_LOADING = {"dose_mcg": {"min": 1000, "max": 2000}, "frequency": "daily", "after_loading": True}
ORAL_BARIATRIC = {"dose_mcg": {"min": 1000, "max": 1000}, "frequency": "daily", "after_loading": False}


def recommend(payload: dict) -> dict:
    return decide(parse_assessment(payload)).as_dict()


def contract_part(section: dict | None) -> dict | None:
    """The keys the contract fixes (extra fields such as a display text are the project's own)."""
    if section is None:
        return None
    keys = {"drug", "dose_mg", "route", "pattern", "weeks", "until"}
    return {k: v for k, v in section.items() if k in keys}


def maintenance_of(result: dict) -> tuple[int, int, bool]:
    m = result["maintenance"]
    assert m["drug"] == "hydroxocobalamin"
    assert m["dose_mg"] == 1
    assert m["route"] == "IM"
    return m["every_months"]["min"], m["every_months"]["max"], m["lifelong"]


def oral_of(result: dict) -> dict | None:
    oral = result["oral_option"]
    if oral is None:
        return None
    return {k: oral[k] for k in ("dose_mcg", "frequency", "after_loading")}


# Indications: each applies on its own.


@pytest.mark.parametrize(
    ("payload", "indications"),
    [
        ({"b12": DEFICIENT_B12}, ["deficiency"]),
        ({"b12": NORMAL_B12}, []),
        ({"b12": INDETERMINATE_B12}, []),
        ({"b12": NORMAL_B12, "ileal_resection_cm": 20}, []),
        ({"b12": NORMAL_B12, "ileal_resection_cm": 20.0}, []),
        ({"b12": NORMAL_B12, "ileal_resection_cm": Decimal("20.0")}, []),
        ({"b12": NORMAL_B12, "ileal_resection_cm": 20.1}, ["ileal_resection"]),
        ({"b12": NORMAL_B12, "ileal_resection_cm": Decimal("20.01")}, ["ileal_resection"]),
        ({"b12": NORMAL_B12, "ileal_resection_cm": 21}, ["ileal_resection"]),
        ({"b12": NORMAL_B12, "ileal_resection_cm": 60}, ["ileal_resection"]),
        ({"b12": NORMAL_B12, "ileal_resection_cm": 0}, []),
        ({"b12": NORMAL_B12, "ileal_resection_cm": 5}, []),
        ({"b12": NORMAL_B12, "bariatric_surgery": True}, ["bariatric_surgery"]),
        ({"b12": INDETERMINATE_B12, "bariatric_surgery": True}, ["bariatric_surgery"]),
        ({"b12": INDETERMINATE_B12, "ileal_resection_cm": 30}, ["ileal_resection"]),
        ({"b12": DEFICIENT_B12, "ileal_resection_cm": 30}, ["deficiency", "ileal_resection"]),
        ({"b12": DEFICIENT_B12, "ileal_resection_cm": 20}, ["deficiency"]),
        ({"b12": DEFICIENT_B12, "bariatric_surgery": True}, ["deficiency", "bariatric_surgery"]),
        (
            {"b12": NORMAL_B12, "ileal_resection_cm": 30, "bariatric_surgery": True},
            ["ileal_resection", "bariatric_surgery"],
        ),
        (
            {"b12": DEFICIENT_B12, "ileal_resection_cm": 30, "bariatric_surgery": True},
            ["deficiency", "ileal_resection", "bariatric_surgery"],
        ),
        # Malabsorption, pregnancy, severity or neurological symptoms are not indications on their own.
        (
            {"b12": NORMAL_B12, "malabsorption": True, "pregnant": True, "severe": True, "folic_acid": True},
            [],
        ),
        # Deficiency confirmed by MMA is deficiency.
        ({"b12": INDETERMINATE_B12, "mma": {"value": 0.6, "unit": "umol/L"}}, ["deficiency"]),
        ({"b12": INDETERMINATE_B12, "mma": {"value": 0.3, "unit": "umol/L"}}, []),
        ({"active_b12": {"value": 20, "unit": "pmol/L"}}, ["deficiency"]),
    ],
)
def test_indications(payload, indications):
    result = recommend(payload)
    assert sorted(result["indications"]) == sorted(indications)
    assert result["im_recommended"] is bool(indications)


def test_ileal_resection_is_measured_exactly_at_20_cm():
    assert recommend({"b12": NORMAL_B12, "ileal_resection_cm": 20})["im_recommended"] is False
    assert recommend({"b12": NORMAL_B12, "ileal_resection_cm": 20.1})["im_recommended"] is True
    assert recommend({"b12": NORMAL_B12, "ileal_resection_cm": 19.9})["im_recommended"] is False


# Nothing indicated: nothing recommended.


@pytest.mark.parametrize(
    "payload",
    [
        {"b12": NORMAL_B12},
        {"b12": INDETERMINATE_B12},
        {"b12": {"value": 150, "unit": "pmol/L"}},
        {"b12": INDETERMINATE_B12, "mma": {"value": 0.2, "unit": "umol/L"}},
        {"b12": NORMAL_B12, "ileal_resection_cm": 20},
        {"b12": NORMAL_B12, "neurological_involvement": True, "malabsorption": True},
    ],
)
def test_no_indication_means_no_regimen_and_no_monitoring(payload):
    result = recommend(payload)
    assert result["im_recommended"] is False
    assert result["indications"] == []
    assert result["loading"] is None
    assert result["maintenance"] is None
    assert result["oral_option"] is None
    assert result["monitoring"] is None


# Deficiency alone: loading and maintenance depend on neurological involvement.


def test_deficiency_without_neurological_involvement():
    result = recommend({"b12": DEFICIENT_B12})
    assert result["im_recommended"] is True
    assert contract_part(result["loading"]) == THREE_TIMES_WEEKLY
    assert maintenance_of(result) == (2, 3, True)
    assert oral_of(result) == ORAL_AFTER_LOADING


def test_three_times_weekly_is_six_doses_not_alternate_days():
    loading = recommend({"b12": DEFICIENT_B12})["loading"]
    assert loading["pattern"] == "three_times_weekly"
    assert loading["pattern"] != "alternate_days"
    assert loading["weeks"] == 2
    if "doses" in loading:
        assert loading["doses"] == 6


def test_deficiency_with_neurological_involvement():
    result = recommend({"b12": DEFICIENT_B12, "neurological_involvement": True})
    assert result["im_recommended"] is True
    assert contract_part(result["loading"]) == ALTERNATE_DAYS
    assert maintenance_of(result) == (2, 2, True)
    assert result["oral_option"] is None


def test_alternate_days_loading_is_open_ended():
    loading = recommend({"b12": DEFICIENT_B12, "neurological_involvement": True})["loading"]
    assert loading["weeks"] is None
    assert loading["until"] == "no_further_improvement"
    if "doses" in loading:
        assert loading["doses"] is None


def test_deficiency_confirmed_by_mma_gets_the_full_regimen():
    result = recommend({"b12": INDETERMINATE_B12, "mma": {"value": 450, "unit": "nmol/L"}})
    assert contract_part(result["loading"]) == THREE_TIMES_WEEKLY
    assert maintenance_of(result) == (2, 3, True)


# Prophylaxis with a normal B12: injections, no loading.


@pytest.mark.parametrize("b12", [NORMAL_B12, INDETERMINATE_B12])
def test_ileal_resection_alone_is_monthly_prophylaxis_for_life(b12):
    result = recommend({"b12": b12, "ileal_resection_cm": 25})
    assert result["im_recommended"] is True
    assert result["indications"] == ["ileal_resection"]
    assert result["loading"] is None
    assert maintenance_of(result) == (1, 1, True)
    assert result["oral_option"] is None


@pytest.mark.parametrize("b12", [NORMAL_B12, INDETERMINATE_B12])
def test_bariatric_surgery_alone_is_three_monthly_prophylaxis_or_oral(b12):
    result = recommend({"b12": b12, "bariatric_surgery": True})
    assert result["im_recommended"] is True
    assert result["indications"] == ["bariatric_surgery"]
    assert result["loading"] is None
    min_months, max_months, lifelong = maintenance_of(result)
    assert (min_months, max_months) == (3, 3)
    # The seed gives no end date for bariatric prophylaxis; the engine's ruleset keeps it lifelong.
    assert lifelong is True
    assert oral_of(result) == ORAL_BARIATRIC


# Combinations: loading follows the deficiency; maintenance is the shortest interval (min of mins, min of maxes).

COMBINATIONS = [
    # (extra fields, loading, (min, max, lifelong))
    ({"ileal_resection_cm": 30}, THREE_TIMES_WEEKLY, (1, 1, True)),
    ({"bariatric_surgery": True}, THREE_TIMES_WEEKLY, (2, 3, True)),
    ({"ileal_resection_cm": 30, "bariatric_surgery": True}, THREE_TIMES_WEEKLY, (1, 1, True)),
    ({"neurological_involvement": True, "ileal_resection_cm": 30}, ALTERNATE_DAYS, (1, 1, True)),
    ({"neurological_involvement": True, "bariatric_surgery": True}, ALTERNATE_DAYS, (2, 2, True)),
    (
        {"neurological_involvement": True, "ileal_resection_cm": 30, "bariatric_surgery": True},
        ALTERNATE_DAYS,
        (1, 1, True),
    ),
    ({"ileal_resection_cm": 20, "bariatric_surgery": True}, THREE_TIMES_WEEKLY, (2, 3, True)),
]


@pytest.mark.parametrize(("extra", "loading", "maintenance"), COMBINATIONS)
def test_deficiency_combined_with_surgical_indications(extra, loading, maintenance):
    result = recommend({"b12": DEFICIENT_B12, **extra})
    assert result["im_recommended"] is True
    assert "deficiency" in result["indications"]
    assert contract_part(result["loading"]) == loading
    assert maintenance_of(result) == maintenance


def test_ileal_resection_and_bariatric_surgery_with_normal_b12():
    result = recommend({"b12": NORMAL_B12, "ileal_resection_cm": 45, "bariatric_surgery": True})
    assert result["indications"] == ["ileal_resection", "bariatric_surgery"]
    assert result["im_recommended"] is True
    assert result["loading"] is None
    assert maintenance_of(result) == (1, 1, True)
    assert result["oral_option"] is None  # ileal resection excludes the oral route


def test_combined_interval_is_min_of_mins_and_min_of_maxes_not_a_widened_range():
    # Deficiency (2–3) with bariatric (3–3): min(2, 3) = 2 and min(3, 3) = 3.
    result = recommend({"b12": DEFICIENT_B12, "bariatric_surgery": True})
    assert result["maintenance"]["every_months"] == {"min": 2, "max": 3}
    # Deficiency with neurological involvement (2–2) and bariatric (3–3): 2–2, never 2–3.
    result = recommend({"b12": DEFICIENT_B12, "neurological_involvement": True, "bariatric_surgery": True})
    assert result["maintenance"]["every_months"] == {"min": 2, "max": 2}


def test_every_indication_is_listed_when_several_apply():
    result = recommend(
        {"active_b12": {"value": 10, "unit": "pmol/L"}, "ileal_resection_cm": 100, "bariatric_surgery": True}
    )
    assert set(result["indications"]) == {"deficiency", "ileal_resection", "bariatric_surgery"}
    assert len(result["indications"]) == 3


# Oral option.

ORAL_CASES = [
    # (payload, expected oral option)
    ({"b12": DEFICIENT_B12}, ORAL_AFTER_LOADING),
    ({"b12": DEFICIENT_B12, "severe": True}, ORAL_AFTER_LOADING),
    ({"b12": DEFICIENT_B12, "pregnant": True}, ORAL_AFTER_LOADING),
    ({"b12": DEFICIENT_B12, "ileal_resection_cm": 20}, ORAL_AFTER_LOADING),
    ({"b12": DEFICIENT_B12, "bariatric_surgery": True}, ORAL_AFTER_LOADING),
    ({"b12": DEFICIENT_B12, "neurological_involvement": True}, None),
    ({"b12": DEFICIENT_B12, "malabsorption": True}, None),
    ({"b12": DEFICIENT_B12, "ileal_resection_cm": 20.1}, None),
    ({"b12": DEFICIENT_B12, "bariatric_surgery": True, "malabsorption": True}, None),
    ({"b12": DEFICIENT_B12, "bariatric_surgery": True, "neurological_involvement": True}, None),
    ({"b12": NORMAL_B12, "bariatric_surgery": True}, ORAL_BARIATRIC),
    ({"b12": INDETERMINATE_B12, "bariatric_surgery": True}, ORAL_BARIATRIC),
    ({"b12": NORMAL_B12, "bariatric_surgery": True, "ileal_resection_cm": 20}, ORAL_BARIATRIC),
    ({"b12": NORMAL_B12, "bariatric_surgery": True, "ileal_resection_cm": 20.1}, None),
    ({"b12": NORMAL_B12, "bariatric_surgery": True, "malabsorption": True}, None),
    ({"b12": NORMAL_B12, "ileal_resection_cm": 30}, None),
    ({"b12": NORMAL_B12}, None),
]


@pytest.mark.parametrize(("payload", "oral"), ORAL_CASES)
def test_oral_option(payload, oral):
    assert oral_of(recommend(payload)) == oral


def test_oral_option_for_deficiency_is_only_after_loading():
    result = recommend({"b12": DEFICIENT_B12})
    assert result["loading"] is not None
    assert result["oral_option"]["after_loading"] is True


def test_oral_option_for_bariatric_prophylaxis_is_1_mg_daily_without_loading():
    result = recommend({"b12": NORMAL_B12, "bariatric_surgery": True})
    assert result["loading"] is None
    assert result["oral_option"]["dose_mcg"] == {"min": 1000, "max": 1000}
    assert result["oral_option"]["after_loading"] is False


# Monitoring and ruleset.

MONITORING_KEYS = {
    "every_months_until_stable": 3,
    "every_months_after_stable": 12,
    "homocysteine_target_umol_per_l": 10,
}


@pytest.mark.parametrize(
    "payload",
    [
        {"b12": DEFICIENT_B12},
        {"b12": DEFICIENT_B12, "neurological_involvement": True},
        {"b12": NORMAL_B12, "ileal_resection_cm": 25},
        {"b12": NORMAL_B12, "bariatric_surgery": True},
        {"b12": INDETERMINATE_B12, "mma": {"value": 0.5, "unit": "umol/L"}},
    ],
)
def test_monitoring_when_injections_are_recommended(payload):
    monitoring = recommend(payload)["monitoring"]
    assert monitoring is not None
    for key, value in MONITORING_KEYS.items():
        assert monitoring[key] == value
    tests = [t.lower() for t in monitoring["tests"]]
    assert len(tests) == 2
    assert any("b12" in t for t in tests)
    assert any("homocysteine" in t for t in tests)


@pytest.mark.parametrize(
    "payload",
    [
        {"b12": DEFICIENT_B12},
        {"b12": NORMAL_B12},
        {"b12": INDETERMINATE_B12},
        {"active_b12": {"value": 50, "unit": "pmol/L"}},
        {"b12": NORMAL_B12, "bariatric_surgery": True},
    ],
)
def test_ruleset_is_named(payload):
    ruleset = recommend(payload)["ruleset"]
    assert ruleset["id"] == "seed-2025"
    assert isinstance(ruleset["version"], str)
    assert ruleset["version"]
