"""parse_assessment: every bad input is refused with an error naming the field; units are never guessed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from recommender.guideline import InvalidAssessment, decide, parse_assessment

B12 = {"value": 250, "unit": "pg/mL"}


def errors_of(payload) -> dict[str, list[str]]:
    with pytest.raises(InvalidAssessment) as caught:
        parse_assessment(payload)
    errors = caught.value.errors
    assert isinstance(errors, dict)
    assert errors, "an invalid request must say what is wrong"
    for field, messages in errors.items():
        assert isinstance(field, str)
        assert messages, f"no message for {field}"
        assert all(isinstance(m, str) and m.strip() for m in messages)
    return errors


def assert_only_field(payload, field: str) -> list[str]:
    errors = errors_of(payload)
    assert set(errors) == {field}, errors
    return errors[field]


def test_invalid_assessment_is_a_value_error():
    assert issubclass(InvalidAssessment, ValueError)


@pytest.mark.parametrize("payload", [None, [], [B12], "b12=150", 150, 1.5, b"{}", True])
def test_body_that_is_not_a_mapping(payload):
    errors = errors_of(payload)
    assert len(errors) == 1, errors


@pytest.mark.parametrize("field", ["b_12", "B12", "vitamin_b12", "folate", "age", "b12_unit"])
def test_unknown_top_level_field_is_named(field):
    errors = errors_of({"b12": B12, field: 1})
    assert set(errors) == {field}
    assert field in " ".join(errors[field])


def test_several_bad_fields_are_all_named():
    errors = errors_of({"b12": {"value": "low", "unit": "pg/mL"}, "egfr": -1, "severe": "yes", "colour": "red"})
    assert {"b12", "egfr", "severe", "colour"} <= set(errors)


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"mma": {"value": 0.5, "unit": "umol/L"}},
        {"b12": None},
        {"b12": None, "active_b12": None},
        {"severe": True, "neurological_involvement": True},
        {"homocysteine": {"value": 12, "unit": "umol/L"}},
    ],
)
def test_missing_both_total_and_active_b12(payload):
    errors = errors_of(payload)
    assert "b12" in errors
    assert "active" in " ".join(errors["b12"]).lower()


def test_active_b12_alone_is_enough():
    assessment = parse_assessment({"active_b12": {"value": 50, "unit": "pmol/L"}})
    assert assessment.b12 is None
    assert assessment.active_b12.value == Decimal(50)


MEASUREMENT_FIELDS = [
    ("b12", "pg/mL"),
    ("active_b12", "pmol/L"),
    ("mma", "umol/L"),
    ("homocysteine", "umol/L"),
]


def with_measurement(field: str, measurement) -> dict:
    payload = {field: measurement}
    if field not in {"b12", "active_b12"}:
        payload["b12"] = B12
    return payload


@pytest.mark.parametrize(("field", "unit"), MEASUREMENT_FIELDS)
@pytest.mark.parametrize("value_key", ["missing", "null"])
def test_value_missing(field, unit, value_key):
    measurement = {"unit": unit} if value_key == "missing" else {"value": None, "unit": unit}
    assert_only_field(with_measurement(field, measurement), field)


BAD_VALUES = [
    ("string", "150"),
    ("word", "low"),
    ("empty string", ""),
    ("true", True),
    ("false", False),
    ("list", [150]),
    ("mapping", {"value": 150}),
    ("nan", float("nan")),
    ("inf", float("inf")),
    ("-inf", float("-inf")),
    ("decimal nan", Decimal("NaN")),
    ("decimal inf", Decimal("Infinity")),
    ("negative", -1),
    ("negative float", -0.01),
    ("negative decimal", Decimal("-150")),
    ("absurdly large", 10**12),
    ("absurdly large float", 1e300),
    ("huge int", 10**400),
]


@pytest.mark.parametrize(("field", "unit"), MEASUREMENT_FIELDS)
@pytest.mark.parametrize(("label", "value"), BAD_VALUES, ids=[label for label, _ in BAD_VALUES])
def test_bad_measurement_value(field, unit, label, value):
    assert_only_field(with_measurement(field, {"value": value, "unit": unit}), field)


@pytest.mark.parametrize("field", ["egfr", "ileal_resection_cm"])
@pytest.mark.parametrize(("label", "value"), BAD_VALUES, ids=[label for label, _ in BAD_VALUES])
def test_bad_plain_number(field, label, value):
    assert_only_field({"b12": B12, field: value}, field)


@pytest.mark.parametrize(("field", "unit"), MEASUREMENT_FIELDS)
def test_measurement_that_is_a_bare_number(field, unit):
    assert_only_field(with_measurement(field, 150), field)


@pytest.mark.parametrize(("field", "unit"), MEASUREMENT_FIELDS)
@pytest.mark.parametrize("value", [0.05, 1, 12.5, Decimal("99.999999")])
def test_plausible_values_are_accepted(field, unit, value):
    assessment = parse_assessment(with_measurement(field, {"value": value, "unit": unit}))
    assert getattr(assessment, field).value == Decimal(str(value))


# Plausibility: each input's range, defined once (recommender.guideline.inputs.INPUTS), in the unit entered.


@pytest.mark.parametrize(
    ("field", "measurement", "words"),
    [
        # A B12 of 0 was decided "deficient, IM indicated".
        (
            "b12",
            {"value": 0, "unit": "pg/mL"},
            "0 pg/mL is not a plausible total B12: a real result is above 0 and up to 20,000 pg/mL",
        ),
        ("b12", {"value": 0.0, "unit": "ng/L"}, "above 0 and up to 20,000 ng/L"),
        ("b12", {"value": 999_999, "unit": "pg/mL"}, "999,999 pg/mL is not a plausible total B12"),
        ("b12", {"value": Decimal("20000.01"), "unit": "pg/mL"}, "up to 20,000 pg/mL"),
        # The same ceiling converted exactly: 20,000 pg/mL = 14,756 pmol/L.
        ("b12", {"value": Decimal("14756.01"), "unit": "pmol/L"}, "up to 14,756 pmol/L"),
        ("active_b12", {"value": 0, "unit": "pmol/L"}, "above 0 and up to 500 pmol/L"),
        ("active_b12", {"value": 501, "unit": "pmol/L"}, "up to 500 pmol/L"),
        ("mma", {"value": 0, "unit": "umol/L"}, "from 0.01 to 100 µmol/L"),
        ("mma", {"value": 100_001, "unit": "nmol/L"}, "from 10 to 100,000 nmol/L"),
        ("homocysteine", {"value": 0, "unit": "umol/L"}, "above 0 and up to 500 µmol/L"),
        ("homocysteine", {"value": 501, "unit": "umol/L"}, "up to 500 µmol/L"),
    ],
)
def test_an_implausible_measurement_is_refused_with_its_range(field, measurement, words):
    messages = " ".join(assert_only_field(with_measurement(field, measurement), field))
    assert words in messages


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("ileal_resection_cm", 99_999, "99,999 cm is not a plausible length of distal ileum resected"),
        ("ileal_resection_cm", Decimal("600.01"), "from 0 to 600 cm"),
        ("egfr", 0, "from 1 to 200 mL/min/1.73m²"),
        ("egfr", 201, "from 1 to 200 mL/min/1.73m²"),
    ],
)
def test_an_implausible_plain_number_is_refused_with_its_range(field, value, words):
    assert words in " ".join(assert_only_field({"b12": B12, field: value}, field))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("b12", "20000"),
        ("b12", "0.000001"),
        ("active_b12", "500"),
        ("mma", "100"),
        ("mma", "0.01"),
        ("homocysteine", "500"),
    ],
)
def test_the_ends_of_each_range_are_accepted(field, value):
    unit = dict(MEASUREMENT_FIELDS)[field]
    assert getattr(parse_assessment(with_measurement(field, {"value": Decimal(value), "unit": unit})), field)


@pytest.mark.parametrize(
    ("field", "value"), [("egfr", 1), ("egfr", 200), ("ileal_resection_cm", 0), ("ileal_resection_cm", 600)]
)
def test_the_ends_of_each_plain_range_are_accepted(field, value):
    assert getattr(parse_assessment({"b12": B12, field: value}), field) == value


@pytest.mark.parametrize("huge", [1e308, Decimal("1e308"), 10**400])
def test_a_huge_number_is_out_of_the_plausible_range_not_too_many_digits(huge):
    message = " ".join(assert_only_field({"b12": {"value": huge, "unit": "pg/mL"}}, "b12"))
    assert "not a plausible total B12" in message
    assert "up to 20,000 pg/mL" in message
    assert "digits" not in message
    assert len(message) < 200, "the number is not printed in full"


@pytest.mark.parametrize(
    ("mma", "said"),
    [
        ({"value": 280, "unit": "µmol/L"}, "280 µmol/L is not a plausible MMA; did you mean 280 nmol/L?"),
        ({"value": 280, "unit": "umol/L"}, "did you mean 280 nmol/L?"),
        ({"value": Decimal("0.45"), "unit": "nmol/L"}, "0.45 nmol/L is not a plausible MMA; did you mean 0.45 µmol/L?"),
    ],
)
def test_an_mma_in_the_wrong_unit_asks_rather_than_decides(mma, said):
    assert said in " ".join(assert_only_field({"b12": {"value": 250, "unit": "pg/mL"}, "mma": mma}, "mma"))


@pytest.mark.parametrize(
    ("mma", "said"),
    [
        ({"value": 0.5, "unit": "umol/L", "upper_limit": 400}, "did you mean 0.40 µmol/L?"),
        ({"value": Decimal("0.5"), "unit": "µmol/L", "upper_limit": 470}, "did you mean 0.47 µmol/L?"),
        ({"value": 500, "unit": "nmol/L", "upper_limit": Decimal("0.4")}, "did you mean 400 nmol/L?"),
    ],
)
def test_an_mma_upper_limit_in_the_other_unit_asks_rather_than_decides(mma, said):
    messages = " ".join(assert_only_field({"b12": {"value": 250, "unit": "pg/mL"}, "mma": mma}, "mma"))
    assert said in messages
    assert "upper reference limit" in messages


@pytest.mark.parametrize("limit", [Decimal("0.05"), 5, 50_000])
def test_an_mma_upper_limit_implausible_in_both_units_gives_the_range(limit):
    messages = " ".join(
        assert_only_field({"b12": B12, "mma": {"value": 0.3, "unit": "umol/L", "upper_limit": limit}}, "mma")
    )
    assert "from 0.1 to 1 µmol/L" in messages
    assert "did you mean" not in messages


def test_more_decimal_places_than_a_lab_reports_is_refused_the_same_way_everywhere():
    assert parse_assessment({"b12": B12, "mma": {"value": Decimal("0.41234"), "unit": "umol/L"}}).mma.value == Decimal(
        "0.41234"
    )
    messages = " ".join(assert_only_field({"b12": {"value": Decimal("1e-300"), "unit": "pmol/L"}}, "b12"))
    assert "decimal places" in messages


@pytest.mark.parametrize(
    "payload",
    [
        {"b12": {"value": 150}},
        {"b12": {"value": 0, "unit": "pg/mL"}},
        {"b12": B12, "egfr": 0},
        {"b12": B12, "mma": {"value": 280, "unit": "umol/L"}},
        {"b12": {"value": "x", "unit": "pg/mL"}},
    ],
)
def test_messages_do_not_begin_with_the_fields_label(payload):
    """Shown beside a field labelled "Total B12", a message starting "Total B12:" would read twice."""
    from recommender.guideline.inputs import INPUTS

    for field, messages in errors_of(payload).items():
        for message in messages:
            assert not message.lower().startswith(INPUTS[field].label.lower()), message
            assert not message.startswith(f"{INPUTS[field].noun}:"), message


def test_float_values_are_kept_as_entered():
    assessment = parse_assessment({"b12": {"value": 179.6, "unit": "pg/mL"}})
    assert assessment.b12.value == Decimal("179.6")


# Units.


@pytest.mark.parametrize(
    ("field", "unit"),
    [
        ("b12", "mg/dL"),
        ("b12", "ng/mL"),
        ("b12", "pmol"),
        ("b12", "nmol/L"),
        ("b12", "umol/L"),
        ("b12", "pg/ml/L"),
        ("active_b12", "pg/mL"),
        ("active_b12", "ng/L"),
        ("active_b12", "nmol/L"),
        ("mma", "mg/dL"),
        ("mma", "pmol/L"),
        ("mma", "mmol/L"),
        ("mma", "umol"),
        ("homocysteine", "nmol/L"),
        ("homocysteine", "mg/L"),
    ],
)
def test_unknown_unit_is_refused_not_guessed(field, unit):
    messages = assert_only_field(with_measurement(field, {"value": 50, "unit": unit}), field)
    assert unit in " ".join(messages)


def test_active_b12_in_pg_per_ml_says_pmol_per_l():
    messages = assert_only_field({"active_b12": {"value": 50, "unit": "pg/mL"}}, "active_b12")
    assert "pmol/L" in " ".join(messages)


@pytest.mark.parametrize(("field", "unit"), MEASUREMENT_FIELDS)
@pytest.mark.parametrize("bad_unit", ["missing", None, "", 1, True, ["pg/mL"]])
def test_unit_missing_or_not_text(field, unit, bad_unit):
    measurement = {"value": 50} if bad_unit == "missing" else {"value": 50, "unit": bad_unit}
    assert_only_field(with_measurement(field, measurement), field)


@pytest.mark.parametrize(
    ("field", "spelling", "canonical"),
    [
        ("b12", "pg/mL", "pg/mL"),
        ("b12", "PG/ML", "pg/mL"),
        ("b12", "ng/l", "ng/L"),
        ("b12", "pmol/l", "pmol/L"),
        ("b12", " pmol/L ", "pmol/L"),
        ("active_b12", "pmol/L", "pmol/L"),
        ("active_b12", "pmol/l", "pmol/L"),
        ("active_b12", "PMOL/L", "pmol/L"),
        ("mma", "umol/L", "umol/L"),
        ("mma", "µmol/L", "umol/L"),  # micro sign U+00B5
        ("mma", "μmol/L", "umol/L"),  # Greek mu U+03BC
        ("mma", "µmol/l", "umol/L"),
        ("mma", "nmol/L", "nmol/L"),
        ("mma", "nmol/l", "nmol/L"),
        ("homocysteine", "µmol/L", "umol/L"),
        ("homocysteine", "μmol/L", "umol/L"),
    ],
)
def test_accepted_unit_spellings(field, spelling, canonical):
    assessment = parse_assessment(with_measurement(field, {"value": 10, "unit": spelling}))
    assert getattr(assessment, field).unit == canonical


def test_micro_spellings_of_mma_decide_like_umol_per_l():
    decisions = {
        spelling: decide(parse_assessment({"b12": B12, "mma": {"value": 0.5, "unit": spelling}})).as_dict()["status"]
        for spelling in ("umol/L", "µmol/L", "μmol/L")
    }
    assert set(decisions.values()) == {"deficient"}


# Keys inside a measurement.


@pytest.mark.parametrize(
    ("field", "unit", "extra"),
    [
        ("b12", "pg/mL", "upper_limit"),
        ("b12", "pg/mL", "units"),
        ("b12", "pg/mL", "lower_limit"),
        ("active_b12", "pmol/L", "upper_limit"),
        ("mma", "umol/L", "lower_limit"),
        ("mma", "umol/L", "upperlimit"),
        ("homocysteine", "umol/L", "target"),
    ],
)
def test_unknown_key_inside_a_measurement(field, unit, extra):
    messages = assert_only_field(with_measurement(field, {"value": 50, "unit": unit, extra: 1}), field)
    assert extra in " ".join(messages)


# Flags.

FLAG_FIELDS = [
    "neurological_involvement",
    "severe",
    "bariatric_surgery",
    "malabsorption",
    "folic_acid",
    "pregnant",
]


@pytest.mark.parametrize("field", FLAG_FIELDS)
@pytest.mark.parametrize("value", ["true", "yes", 1, 0, 1.0, [], {}, "false"])
def test_flag_must_be_a_bool(field, value):
    assert_only_field({"b12": B12, field: value}, field)


@pytest.mark.parametrize("field", FLAG_FIELDS)
@pytest.mark.parametrize("value", [True, False])
def test_flags_accept_bools(field, value):
    assert getattr(parse_assessment({"b12": B12, field: value}), field) is value


def test_flags_default_to_false_and_resection_to_zero():
    assessment = parse_assessment({"b12": B12})
    for field in FLAG_FIELDS:
        assert getattr(assessment, field) is False
    assert assessment.ileal_resection_cm == 0
    assert assessment.egfr is None


# MMA upper limit.


@pytest.mark.parametrize("limit", [0, 0.0, Decimal(0), -0.4, -400, Decimal("-0.01")])
def test_mma_upper_limit_must_be_positive(limit):
    assert_only_field({"b12": B12, "mma": {"value": 0.3, "unit": "umol/L", "upper_limit": limit}}, "mma")


@pytest.mark.parametrize("limit", ["0.4", True, float("nan"), float("inf"), [0.4], 10**9])
def test_mma_upper_limit_must_be_a_finite_number(limit):
    assert_only_field({"b12": B12, "mma": {"value": 0.3, "unit": "umol/L", "upper_limit": limit}}, "mma")


def test_mma_upper_limit_is_kept_as_entered():
    assessment = parse_assessment({"b12": B12, "mma": {"value": 300, "unit": "nmol/L", "upper_limit": 280}})
    assert assessment.mma.upper_limit == Decimal(280)
    assert assessment.mma.unit == "nmol/L"


# The errors read in a clinician's words and name the field.


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        ({"b12": {"value": "abc", "unit": "pg/mL"}}, "b12", "number"),
        ({"b12": {"value": -5, "unit": "pg/mL"}}, "b12", "negative"),
        ({"b12": {"value": float("nan"), "unit": "pg/mL"}}, "b12", "finite"),
        ({"b12": {"value": 150}}, "b12", "unit"),
        ({"b12": {"value": 150, "unit": "mg/dL"}}, "b12", "mg/dL"),
        ({"b12": B12, "egfr": "sixty"}, "egfr", "egfr"),
        ({"b12": B12, "pregnant": "no"}, "pregnant", "true or false"),
    ],
)
def test_error_messages_are_readable(payload, field, words):
    messages = " ".join(assert_only_field(payload, field))
    assert words.lower() in messages.lower()
    assert "Traceback" not in messages
    assert "Decimal" not in messages
