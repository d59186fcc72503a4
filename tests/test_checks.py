"""recommender/web/checks.py: the app refuses to start with a broken ruleset, clinic calendar or time zone.

Each check is shown to fire on the defect it names, and to stay quiet on the shipped ruleset and settings."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from recommender.guideline import DEFAULT_RULESET
from recommender.web import checks


def unchecked(instance, **changes):
    """A copy of a frozen ruleset part with ``changes``, skipping its own __post_init__ guard (as a ruleset loaded
    some other way, or a guard removed later, might)."""
    copy = object.__new__(type(instance))
    for f in dataclasses.fields(instance):
        object.__setattr__(copy, f.name, changes.get(f.name, getattr(instance, f.name)))
    return copy


def recommender_errors():
    return [e for e in run_checks() if e.id.startswith("recommender.")]


def ruleset_error_ids(monkeypatch, ruleset):
    monkeypatch.setattr(checks, "RULESETS", {ruleset.id: ruleset})
    return [e.id for e in checks.check_rulesets(None)]


@pytest.mark.django_db  # the model checks ask the database what it supports
def test_the_shipped_ruleset_and_settings_pass():
    assert recommender_errors() == []


# --- E001: every citation resolves -------------------------------------------------------------------------


def test_an_unknown_citation_in_a_ruleset_field_is_refused(monkeypatch):
    ruleset = dataclasses.replace(DEFAULT_RULESET, egfr_citations=("nice-ng239", "nowhere-2099"))
    monkeypatch.setattr(checks, "RULESETS", {ruleset.id: ruleset})
    errors = checks.check_rulesets(None)
    assert [e.id for e in errors] == ["recommender.E001"]
    assert "nowhere-2099" in errors[0].msg
    assert "egfr_citations" in errors[0].msg


def test_an_unknown_citation_nested_in_the_ruleset_is_refused(monkeypatch):
    monitoring = dataclasses.replace(DEFAULT_RULESET.monitoring, citations=("made-up-2020",))
    bands = unchecked(DEFAULT_RULESET.thresholds.active_b12, citations=("also-made-up",))
    thresholds = dataclasses.replace(DEFAULT_RULESET.thresholds, active_b12=bands)
    ruleset = dataclasses.replace(DEFAULT_RULESET, monitoring=monitoring, thresholds=thresholds)
    monkeypatch.setattr(checks, "RULESETS", {ruleset.id: ruleset})
    errors = checks.check_rulesets(None)
    assert sorted(e.msg.split("cites ")[1].split(",")[0] for e in errors) == ["'also-made-up'", "'made-up-2020'"]
    assert {e.id for e in errors} == {"recommender.E001"}


def test_the_engines_inline_citations_are_read():
    """The engine cites some sources only in its own text (bsh-2014 for the re-testing caveat): the check reads
    them from the source, wherever the engine's modules are."""
    found = {cid for _, cid in checks._source_citations()}
    assert "bsh-2014" in found
    assert "seed-2025" not in found  # a ruleset id, not written as a citation


def test_an_unknown_citation_written_in_the_engine_is_refused(monkeypatch, tmp_path):
    package = tmp_path / "fake_engine_for_checks"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "rules.py").write_text('CAVEAT = ("Text.", ("nice-ng239", "nice-ng999"))\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    fake = __import__("fake_engine_for_checks")
    read = checks._source_citations
    monkeypatch.setattr(checks, "_source_citations", lambda: read(fake))
    errors = checks.check_rulesets(None)
    assert [e.id for e in errors] == ["recommender.E001"]
    assert "fake_engine_for_checks.rules:1" in errors[0].msg
    assert "nice-ng999" in errors[0].msg


# --- E002, E005, E006: the ruleset's numbers --------------------------------------------------------------


def test_maintenance_intervals_out_of_order_are_refused(monkeypatch):
    slower = dataclasses.replace(DEFAULT_RULESET.maintenance_with_neuro, min_months=2, max_months=4)
    ruleset = dataclasses.replace(DEFAULT_RULESET, maintenance_with_neuro=slower)
    assert ruleset_error_ids(monkeypatch, ruleset) == ["recommender.E002"]


@pytest.mark.parametrize(
    ("band", "low", "high"),
    [("total_b12", "400", "350"), ("active_b12", "80", "70"), ("total_b12", "0", "350"), ("active_b12", "-1", "70")],
)
def test_bands_out_of_order_are_refused(monkeypatch, band, low, high):
    bands = unchecked(
        getattr(DEFAULT_RULESET.thresholds, band), deficient_below=Decimal(low), not_deficient_above=Decimal(high)
    )
    thresholds = unchecked(DEFAULT_RULESET.thresholds, **{band: bands})
    ruleset = dataclasses.replace(DEFAULT_RULESET, thresholds=thresholds)
    monkeypatch.setattr(checks, "RULESETS", {ruleset.id: ruleset})
    errors = checks.check_rulesets(None)
    assert [e.id for e in errors] == ["recommender.E005"]
    assert band in errors[0].msg


def test_a_high_b12_limit_inside_the_bands_is_refused(monkeypatch):
    ruleset = dataclasses.replace(DEFAULT_RULESET, high_b12_above_pg_ml=Decimal("300"))
    assert ruleset_error_ids(monkeypatch, ruleset) == ["recommender.E005"]


@pytest.mark.parametrize(
    ("field", "make"),
    [
        ("monitoring", lambda rs: dataclasses.replace(rs.monitoring, every_months_until_stable=0)),
        ("monitoring", lambda rs: dataclasses.replace(rs.monitoring, every_months_after_stable=-12)),
        ("loading_without_neuro", lambda rs: dataclasses.replace(rs.loading_without_neuro, weeks=0)),
        ("loading_without_neuro", lambda rs: dataclasses.replace(rs.loading_without_neuro, doses_per_week=0)),
        ("maintenance_bariatric", lambda rs: dataclasses.replace(rs.maintenance_bariatric, min_months=0)),
        ("maintenance_bariatric", lambda rs: dataclasses.replace(rs.maintenance_bariatric, min_months=4)),
        ("oral_after_loading", lambda rs: dataclasses.replace(rs.oral_after_loading, min_mcg=3000)),
        ("neuro_loading_review_days", lambda rs: 0),
        ("pregnancy_first_review_months", lambda rs: 0),
        ("individualised_max_months", lambda rs: 0),
        ("dose_mg", lambda rs: 0),
        ("ileal_resection_above_cm", lambda rs: Decimal("-1")),
    ],
)
def test_intervals_and_doses_that_are_not_positive_are_refused(monkeypatch, field, make):
    ruleset = dataclasses.replace(DEFAULT_RULESET, **{field: make(DEFAULT_RULESET)})
    monkeypatch.setattr(checks, "RULESETS", {ruleset.id: ruleset})
    errors = checks.check_rulesets(None)
    assert [e.id for e in errors] == ["recommender.E006"]
    assert field in errors[0].msg


def test_a_non_positive_mma_limit_is_refused(monkeypatch):
    thresholds = unchecked(DEFAULT_RULESET.thresholds, mma_upper_limit_umol_l=Decimal("0"))
    ruleset = dataclasses.replace(DEFAULT_RULESET, thresholds=thresholds)
    assert ruleset_error_ids(monkeypatch, ruleset) == ["recommender.E006"]


# --- E004: clinic days -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "words"),
    [
        ([7], "not a weekday"),
        ([0, 1, 2, 7], "not a weekday"),
        ([-1, 0, 1, 2], "not a weekday"),
        (["Mon", "Tue", "Wed"], "not a weekday"),
        ([0, 0, 1, 2], "given twice"),
        ([0, 1], "at least 3 distinct weekdays"),
        ([0, 0, 1], "at least 3 distinct weekdays"),
        ([], "at least 3 distinct weekdays"),
    ],
)
def test_bad_clinic_days_are_refused(settings, days, words):
    settings.B12_CLINIC_DAYS = days
    errors = checks.check_clinic_days(None)
    assert errors
    assert {e.id for e in errors} == {"recommender.E004"}
    assert any(words in e.msg for e in errors)
    assert all("B12_CLINIC_DAYS" in e.msg for e in errors)


@pytest.mark.django_db
def test_manage_py_check_refuses_a_sunday_numbered_7(settings):
    """The issue's case: B12_CLINIC_DAYS=7 passed `manage.py check` and the schedule then raised OverflowError."""
    settings.B12_CLINIC_DAYS = [0, 1, 2, 3, 7]
    with pytest.raises(SystemCheckError, match="B12_CLINIC_DAYS"):
        call_command("check")


def test_the_number_of_days_needed_comes_from_the_ruleset(monkeypatch, settings):
    faster = dataclasses.replace(DEFAULT_RULESET.loading_without_neuro, doses_per_week=4)
    ruleset = dataclasses.replace(DEFAULT_RULESET, loading_without_neuro=faster)
    monkeypatch.setattr(checks, "RULESETS", {ruleset.id: ruleset})
    settings.B12_CLINIC_DAYS = [0, 2, 4]
    assert [e.id for e in checks.check_clinic_days(None)] == ["recommender.E004"]
    settings.B12_CLINIC_DAYS = [0, 1, 2, 4]
    assert checks.check_clinic_days(None) == []


@given(st.lists(st.integers(0, 6), min_size=3, max_size=7, unique=True))
def test_any_three_or_more_distinct_weekdays_pass(days):
    with override_settings(B12_CLINIC_DAYS=days):
        assert checks.check_clinic_days(None) == []


@given(
    st.lists(st.integers(0, 6), max_size=6, unique=True),
    st.integers().filter(lambda day: not 0 <= day <= 6),
)
def test_any_day_outside_0_to_6_is_refused(days, bad):
    with override_settings(B12_CLINIC_DAYS=[*days, bad]):
        assert [e.id for e in checks.check_clinic_days(None)] == ["recommender.E004"]


# --- E007: time zone ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "Europe", "../etc/passwd", ""])
def test_an_unknown_time_zone_is_refused(settings, zone):
    settings.TIME_ZONE = zone
    errors = checks.check_time_zone(None)
    assert [e.id for e in errors] == ["recommender.E007"]
    assert "TIME_ZONE" in errors[0].msg


@pytest.mark.parametrize("zone", ["Europe/London", "Europe/Paris", "UTC", "America/New_York"])
def test_known_time_zones_pass(settings, zone):
    settings.TIME_ZONE = zone
    assert checks.check_time_zone(None) == []
