"""Status, basis and next test: every threshold of ruleset seed-2025, compared exactly, in every accepted unit.

Requests are built in the contract's shape and go through ``parse_assessment`` then ``decide(...).as_dict()``.
Each boundary value is sent both as a JSON-style float (as ``json.loads`` would give) and as a ``Decimal`` (as
the API parses it), so that neither path may round a result across a threshold.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from recommender.guideline import InvalidAssessment, decide, parse_assessment

DEFICIENT = "deficient"
INDETERMINATE = "indeterminate"
NOT_DEFICIENT = "not_deficient"


def recommend(payload: dict) -> dict:
    return decide(parse_assessment(payload)).as_dict()


def as_float(text: str) -> float:
    return float(text)


def as_decimal(text: str) -> Decimal:
    return Decimal(text)


NUMBER_TYPES = pytest.mark.parametrize("number", [as_float, as_decimal], ids=["float", "decimal"])


# Total B12 in pg/mL and ng/L (the same quantity): < 180 deficient, 180–350 inclusive indeterminate, > 350 not.
TOTAL_B12_MASS_BOUNDARIES = [
    ("0.1", DEFICIENT),  # 0 itself is refused: no real result is 0
    ("100", DEFICIENT),
    ("179.6", DEFICIENT),  # never rounded up to 180
    ("179.9", DEFICIENT),
    ("179.99", DEFICIENT),
    ("180", INDETERMINATE),
    ("180.0", INDETERMINATE),
    ("250", INDETERMINATE),
    ("350", INDETERMINATE),
    ("350.0", INDETERMINATE),
    ("350.01", NOT_DEFICIENT),
    ("350.1", NOT_DEFICIENT),
    ("351", NOT_DEFICIENT),
    ("900", NOT_DEFICIENT),
]


@NUMBER_TYPES
@pytest.mark.parametrize("unit", ["pg/mL", "ng/L"])
@pytest.mark.parametrize(("value", "expected"), TOTAL_B12_MASS_BOUNDARIES)
def test_total_b12_bands_in_mass_units(value, expected, unit, number):
    result = recommend({"b12": {"value": number(value), "unit": unit}})
    assert result["status"] == expected
    assert result["basis"] == "b12"


def test_integer_values_are_accepted_at_the_boundary():
    assert recommend({"b12": {"value": 179, "unit": "pg/mL"}})["status"] == DEFICIENT
    assert recommend({"b12": {"value": 180, "unit": "pg/mL"}})["status"] == INDETERMINATE
    assert recommend({"b12": {"value": 350, "unit": "ng/L"}})["status"] == INDETERMINATE
    assert recommend({"b12": {"value": 351, "unit": "ng/L"}})["status"] == NOT_DEFICIENT


# pmol/L = pg/mL × 0.7378: 180 pg/mL = 132.804 pmol/L and 350 pg/mL = 258.23 pmol/L, exactly.
TOTAL_B12_PMOL_BOUNDARIES = [
    ("100", DEFICIENT),
    ("132.8", DEFICIENT),
    ("132.803", DEFICIENT),
    ("132.8039", DEFICIENT),
    ("132.804", INDETERMINATE),
    ("132.8040", INDETERMINATE),
    ("132.805", INDETERMINATE),
    ("150", INDETERMINATE),  # the trap: 150 pmol/L is about 203 pg/mL, not deficient
    ("200", INDETERMINATE),
    ("258.229", INDETERMINATE),
    ("258.23", INDETERMINATE),
    ("258.2300", INDETERMINATE),
    ("258.2301", NOT_DEFICIENT),
    ("258.231", NOT_DEFICIENT),
    ("300", NOT_DEFICIENT),
]


@NUMBER_TYPES
@pytest.mark.parametrize(("value", "expected"), TOTAL_B12_PMOL_BOUNDARIES)
def test_total_b12_bands_in_pmol_per_litre(value, expected, number):
    result = recommend({"b12": {"value": number(value), "unit": "pmol/L"}})
    assert result["status"] == expected
    assert result["basis"] == "b12"


@pytest.mark.parametrize("unit", ["pmol/L", "pmol/l", "PMOL/L"])
def test_150_pmol_per_litre_is_indeterminate_not_deficient(unit):
    """The commonest unit error: reading 150 pmol/L as if it were pg/mL."""
    result = recommend({"b12": {"value": 150, "unit": unit}})
    assert result["status"] == INDETERMINATE
    assert result["status"] != DEFICIENT
    assert result["next_test"] == "mma"
    assert "deficiency" not in result["indications"]
    assert result["im_recommended"] is False
    assert result["loading"] is None


def test_150_pg_per_ml_is_deficient():
    result = recommend({"b12": {"value": 150, "unit": "pg/mL"}})
    assert result["status"] == DEFICIENT
    assert result["indications"] == ["deficiency"]


@pytest.mark.parametrize("unit", ["pg/mL", "ng/L"])
def test_179_6_is_below_180_without_rounding(unit):
    result = recommend({"b12": {"value": 179.6, "unit": unit}})
    assert result["status"] == DEFICIENT
    assert result["next_test"] is None
    assert result["im_recommended"] is True


@pytest.mark.parametrize(
    ("unit", "value"),
    [("pg/mL", "179.99999"), ("ng/L", "179.99999"), ("pmol/L", "132.80399")],
)
def test_values_a_hair_below_the_lower_threshold_are_deficient(unit, value):
    assert recommend({"b12": {"value": Decimal(value), "unit": unit}})["status"] == DEFICIENT


@pytest.mark.parametrize(
    ("unit", "value"),
    [("pg/mL", "350.00001"), ("ng/L", "350.00001"), ("pmol/L", "258.23001")],
)
def test_values_a_hair_above_the_upper_threshold_are_not_deficient(unit, value):
    assert recommend({"b12": {"value": Decimal(value), "unit": unit}})["status"] == NOT_DEFICIENT


# Active B12 (holotranscobalamin), pmol/L only: < 25 deficient, 25–70 inclusive indeterminate, > 70 not.
ACTIVE_B12_BOUNDARIES = [
    ("0.1", DEFICIENT),  # 0 itself is refused: no real result is 0
    ("10", DEFICIENT),
    ("24.9", DEFICIENT),
    ("24.99", DEFICIENT),
    ("25", INDETERMINATE),
    ("25.0", INDETERMINATE),
    ("50", INDETERMINATE),
    ("70", INDETERMINATE),
    ("70.0", INDETERMINATE),
    ("70.01", NOT_DEFICIENT),
    ("70.1", NOT_DEFICIENT),
    ("120", NOT_DEFICIENT),
]


@NUMBER_TYPES
@pytest.mark.parametrize(("value", "expected"), ACTIVE_B12_BOUNDARIES)
def test_active_b12_bands(value, expected, number):
    result = recommend({"active_b12": {"value": number(value), "unit": "pmol/L"}})
    assert result["status"] == expected
    assert result["basis"] == "active_b12"
    assert result["next_test"] == ("mma" if expected == INDETERMINATE else None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (20, DEFICIENT),  # ÷ 0.7378 would read 27.1: indeterminate
        (30, INDETERMINATE),  # × 0.7378 would read 22.1: deficient
        (60, INDETERMINATE),  # ÷ 0.7378 would read 81.3: not deficient
    ],
)
def test_active_b12_is_not_converted_with_the_total_b12_factor(value, expected):
    assert recommend({"active_b12": {"value": value, "unit": "pmol/L"}})["status"] == expected


def test_the_same_number_means_different_things_for_active_and_total_b12():
    # 60 pmol/L of active B12 is indeterminate; 60 pmol/L of total B12 (about 81 pg/mL) is deficient.
    assert recommend({"active_b12": {"value": 60, "unit": "pmol/L"}})["status"] == INDETERMINATE
    assert recommend({"b12": {"value": 60, "unit": "pmol/L"}})["status"] == DEFICIENT


# Both total and active B12: the more abnormal result decides, and basis names it.
BOTH_MEASURED = [
    # (total pg/mL, active pmol/L, status, basis)
    ("400", "20", DEFICIENT, "active_b12"),
    ("400", "50", INDETERMINATE, "active_b12"),
    ("200", "20", DEFICIENT, "active_b12"),
    ("150", "100", DEFICIENT, "b12"),
    ("150", "50", DEFICIENT, "b12"),
    ("250", "100", INDETERMINATE, "b12"),
    ("179.9", "25", DEFICIENT, "b12"),
    ("180", "24.9", DEFICIENT, "active_b12"),
    ("350.1", "70", INDETERMINATE, "active_b12"),
    ("350", "70.1", INDETERMINATE, "b12"),
]


@pytest.mark.parametrize(("total", "active", "status", "basis"), BOTH_MEASURED)
def test_more_abnormal_of_total_and_active_b12_decides(total, active, status, basis):
    result = recommend(
        {
            "b12": {"value": Decimal(total), "unit": "pg/mL"},
            "active_b12": {"value": Decimal(active), "unit": "pmol/L"},
        }
    )
    assert result["status"] == status
    assert result["basis"] == basis


@pytest.mark.parametrize(
    ("total", "active", "status"),
    [("100", "10", DEFICIENT), ("250", "50", INDETERMINATE), ("500", "100", NOT_DEFICIENT)],
)
def test_total_and_active_b12_agreeing(total, active, status):
    result = recommend(
        {
            "b12": {"value": Decimal(total), "unit": "ng/L"},
            "active_b12": {"value": Decimal(active), "unit": "pmol/L"},
        }
    )
    assert result["status"] == status
    assert result["basis"] in {"b12", "active_b12"}


def test_both_measured_with_total_in_pmol_per_litre():
    # 150 pmol/L total (indeterminate) with active 20 pmol/L (deficient): active decides.
    result = recommend({"b12": {"value": 150, "unit": "pmol/L"}, "active_b12": {"value": 20, "unit": "pmol/L"}})
    assert (result["status"], result["basis"]) == (DEFICIENT, "active_b12")
    # 150 pmol/L total (indeterminate) with active 80 pmol/L (not deficient): total decides, still indeterminate.
    result = recommend({"b12": {"value": 150, "unit": "pmol/L"}, "active_b12": {"value": 80, "unit": "pmol/L"}})
    assert (result["status"], result["basis"]) == (INDETERMINATE, "b12")
    assert result["next_test"] == "mma"


# MMA decides an indeterminate result: above the upper limit (default 0.40 µmol/L = 400 nmol/L) → deficient.
MMA_DEFAULT_LIMIT = [
    # (value, unit, status)
    ("0.10", "umol/L", NOT_DEFICIENT),
    ("0.39", "umol/L", NOT_DEFICIENT),
    ("0.399", "umol/L", NOT_DEFICIENT),
    ("0.40", "umol/L", NOT_DEFICIENT),  # "above" is strictly greater
    ("0.4", "umol/L", NOT_DEFICIENT),
    ("0.400", "umol/L", NOT_DEFICIENT),
    ("0.401", "umol/L", DEFICIENT),
    ("0.41", "umol/L", DEFICIENT),
    ("1.5", "umol/L", DEFICIENT),
    ("100", "nmol/L", NOT_DEFICIENT),
    ("399", "nmol/L", NOT_DEFICIENT),
    ("399.9", "nmol/L", NOT_DEFICIENT),
    ("400", "nmol/L", NOT_DEFICIENT),
    ("400.0", "nmol/L", NOT_DEFICIENT),
    ("400.1", "nmol/L", DEFICIENT),
    ("401", "nmol/L", DEFICIENT),
    ("1500", "nmol/L", DEFICIENT),
]


@NUMBER_TYPES
@pytest.mark.parametrize("b12_value", ["180", "265", "350"])
@pytest.mark.parametrize(("value", "unit", "status"), MMA_DEFAULT_LIMIT)
def test_mma_decides_an_indeterminate_total_b12(value, unit, status, b12_value, number):
    result = recommend(
        {
            "b12": {"value": number(b12_value), "unit": "pg/mL"},
            "mma": {"value": number(value), "unit": unit},
        }
    )
    assert result["status"] == status
    assert result["basis"] == "mma"
    assert result["next_test"] is None
    assert ("deficiency" in result["indications"]) is (status == DEFICIENT)


@pytest.mark.parametrize(("value", "unit", "status"), MMA_DEFAULT_LIMIT)
def test_mma_decides_an_indeterminate_active_b12(value, unit, status):
    result = recommend(
        {
            "active_b12": {"value": 40, "unit": "pmol/L"},
            "mma": {"value": Decimal(value), "unit": unit},
        }
    )
    assert (result["status"], result["basis"], result["next_test"]) == (status, "mma", None)


def test_mma_decides_150_pmol_per_litre():
    elevated = recommend({"b12": {"value": 150, "unit": "pmol/L"}, "mma": {"value": 0.55, "unit": "umol/L"}})
    assert (elevated["status"], elevated["basis"]) == (DEFICIENT, "mma")
    normal = recommend({"b12": {"value": 150, "unit": "pmol/L"}, "mma": {"value": 250, "unit": "nmol/L"}})
    assert (normal["status"], normal["basis"]) == (NOT_DEFICIENT, "mma")


@pytest.mark.parametrize("unit", ["µmol/L", "μmol/L", "umol/l", "UMOL/L"])
def test_mma_micro_spellings_are_micromoles_not_nanomoles(unit):
    # 0.5 µmol/L is elevated; were it read as nmol/L it would be far below 400.
    result = recommend({"b12": {"value": 250, "unit": "pg/mL"}, "mma": {"value": 0.5, "unit": unit}})
    assert (result["status"], result["basis"]) == (DEFICIENT, "mma")


def test_mma_units_are_a_factor_of_1000_apart():
    # 500 nmol/L is 0.5 µmol/L: elevated either way it is written.
    assert recommend({"b12": {"value": 250, "unit": "pg/mL"}, "mma": {"value": 500, "unit": "nmol/L"}})["status"] == (
        DEFICIENT
    )
    assert recommend({"b12": {"value": 250, "unit": "pg/mL"}, "mma": {"value": 0.3, "unit": "umol/L"}})["status"] == (
        NOT_DEFICIENT
    )


@pytest.mark.parametrize(
    ("value", "unit", "meant"),
    [("0.5", "nmol/L", "0.5 µmol/L"), ("300", "umol/L", "300 nmol/L"), ("280", "µmol/L", "280 nmol/L")],
)
def test_an_mma_implausible_in_its_unit_asks_about_the_other_unit_and_is_not_decided(value, unit, meant):
    """0.5 nmol/L is surely 0.5 µmol/L, and 300 "µmol/L" surely 300 nmol/L: neither is decided on."""
    with pytest.raises(InvalidAssessment) as refused:
        parse_assessment({"b12": {"value": 250, "unit": "pg/mL"}, "mma": {"value": Decimal(value), "unit": unit}})
    assert set(refused.value.errors) == {"mma"}
    assert f"did you mean {meant}?" in " ".join(refused.value.errors["mma"])


# A lab's own upper reference limit (same unit as the value) replaces the default.
LAB_LIMIT = [
    # (value, unit, upper_limit, status)
    ("0.30", "umol/L", "0.28", DEFICIENT),  # below the default 0.40, above this lab's limit
    ("0.28", "umol/L", "0.28", NOT_DEFICIENT),  # at the lab's limit: not above
    ("0.281", "umol/L", "0.28", DEFICIENT),
    ("0.45", "umol/L", "0.47", NOT_DEFICIENT),  # above the default, within this lab's limit
    ("0.47", "umol/L", "0.47", NOT_DEFICIENT),
    ("0.471", "umol/L", "0.47", DEFICIENT),
    ("300", "nmol/L", "210", DEFICIENT),
    ("210", "nmol/L", "210", NOT_DEFICIENT),
    ("210.1", "nmol/L", "210", DEFICIENT),
    ("450", "nmol/L", "470", NOT_DEFICIENT),
    ("470.5", "nmol/L", "470", DEFICIENT),
]


@pytest.mark.parametrize(("value", "unit", "limit", "status"), LAB_LIMIT)
def test_lab_upper_limit_overrides_the_default(value, unit, limit, status):
    result = recommend(
        {
            "b12": {"value": 250, "unit": "pg/mL"},
            "mma": {"value": Decimal(value), "unit": unit, "upper_limit": Decimal(limit)},
        }
    )
    assert (result["status"], result["basis"]) == (status, "mma")


def test_null_upper_limit_means_the_default():
    result = recommend(
        {"b12": {"value": 250, "unit": "pg/mL"}, "mma": {"value": 0.41, "unit": "umol/L", "upper_limit": None}}
    )
    assert result["status"] == DEFICIENT


# MMA never overrides a clear B12 band.
CLEAR_BAND_IGNORES_MMA = [
    # (b12 payload, mma payload, status, basis)
    ({"value": 150, "unit": "pg/mL"}, {"value": 0.10, "unit": "umol/L"}, DEFICIENT, "b12"),
    ({"value": 179.9, "unit": "ng/L"}, {"value": 100, "unit": "nmol/L"}, DEFICIENT, "b12"),
    ({"value": 100, "unit": "pmol/L"}, {"value": 0.2, "unit": "umol/L"}, DEFICIENT, "b12"),
    ({"value": 400, "unit": "pg/mL"}, {"value": 0.90, "unit": "umol/L"}, NOT_DEFICIENT, "b12"),
    ({"value": 350.1, "unit": "pg/mL"}, {"value": 900, "unit": "nmol/L"}, NOT_DEFICIENT, "b12"),
    ({"value": 300, "unit": "pmol/L"}, {"value": 2, "unit": "umol/L"}, NOT_DEFICIENT, "b12"),
]


@pytest.mark.parametrize(("b12", "mma", "status", "basis"), CLEAR_BAND_IGNORES_MMA)
def test_mma_is_ignored_for_status_when_total_b12_is_clear(b12, mma, status, basis):
    result = recommend({"b12": b12, "mma": mma})
    assert (result["status"], result["basis"], result["next_test"]) == (status, basis, None)


@pytest.mark.parametrize(
    ("active", "mma", "status"),
    [(20, {"value": 0.1, "unit": "umol/L"}, DEFICIENT), (80, {"value": 900, "unit": "nmol/L"}, NOT_DEFICIENT)],
)
def test_mma_is_ignored_for_status_when_active_b12_is_clear(active, mma, status):
    result = recommend({"active_b12": {"value": active, "unit": "pmol/L"}, "mma": mma})
    assert (result["status"], result["basis"], result["next_test"]) == (status, "active_b12", None)


def test_mma_decides_when_both_b12_results_leave_it_indeterminate():
    result = recommend(
        {
            "b12": {"value": 250, "unit": "pg/mL"},
            "active_b12": {"value": 50, "unit": "pmol/L"},
            "mma": {"value": 500, "unit": "nmol/L"},
        }
    )
    assert (result["status"], result["basis"]) == (DEFICIENT, "mma")


def test_mma_does_not_decide_when_active_b12_already_shows_deficiency():
    result = recommend(
        {
            "b12": {"value": 250, "unit": "pg/mL"},
            "active_b12": {"value": 20, "unit": "pmol/L"},
            "mma": {"value": 100, "unit": "nmol/L"},
        }
    )
    assert (result["status"], result["basis"]) == (DEFICIENT, "active_b12")


# next_test: "mma" only when the result is indeterminate and no MMA was given.
NEXT_TEST = [
    ({"b12": {"value": 180, "unit": "pg/mL"}}, "mma"),
    ({"b12": {"value": 350, "unit": "ng/L"}}, "mma"),
    ({"b12": {"value": 150, "unit": "pmol/L"}}, "mma"),
    ({"active_b12": {"value": 25, "unit": "pmol/L"}}, "mma"),
    ({"b12": {"value": 250, "unit": "pg/mL"}, "bariatric_surgery": True}, "mma"),
    ({"b12": {"value": 250, "unit": "pg/mL"}, "mma": {"value": 0.3, "unit": "umol/L"}}, None),
    ({"b12": {"value": 250, "unit": "pg/mL"}, "mma": {"value": 0.5, "unit": "umol/L"}}, None),
    ({"b12": {"value": 179.9, "unit": "pg/mL"}}, None),
    ({"b12": {"value": 350.1, "unit": "pg/mL"}}, None),
    ({"active_b12": {"value": 24.9, "unit": "pmol/L"}}, None),
    ({"active_b12": {"value": 70.1, "unit": "pmol/L"}}, None),
    ({"b12": {"value": 400, "unit": "pg/mL"}, "active_b12": {"value": 20, "unit": "pmol/L"}}, None),
]


@pytest.mark.parametrize(("payload", "next_test"), NEXT_TEST)
def test_next_test_only_when_indeterminate_without_mma(payload, next_test):
    result = recommend(payload)
    assert result["next_test"] == next_test
    if next_test == "mma":
        assert result["status"] == INDETERMINATE
    else:
        assert result["status"] in {DEFICIENT, NOT_DEFICIENT}
