"""Every clinical number once: the ruleset's numbers appear as literals only in ``guideline/ruleset.py``.

The grep reads the string literals of the app's Python (not comments, not docstrings) and the text of the templates
(not template comments), and looks for the ruleset's facts in the form a screen would show them: a threshold with
its unit, the dose ("1 mg"), the drug's name, the monitoring interval ("every 3 months"), the eGFR cut-off
("below 60"), the lockout limit and the worklist horizon. Unrelated numbers (a page size, a port) do not trip it.
"""

from __future__ import annotations

import ast
import re
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from recommender import models
from recommender.clinic import presenters as clinic_presenters
from recommender.guideline import schedule
from recommender.guideline.ruleset import DEFAULT_RULESET, Ruleset
from recommender.injections import views as injections_views
from recommender.models import LabProfile
from recommender.ruleset_words import ruleset_words
from recommender.web import context_processors
from tests.conftest import PASSWORD
from tests.factories import make_plan

ROOT = Path(__file__).resolve().parent.parent

# The ruleset itself, its bibliography (titles name the drug) and the migrations (history) state the facts.
EXEMPT = {
    "recommender/guideline/ruleset.py",
    "recommender/guideline/citations.py",
}


def _number(value: Decimal | int) -> str:
    """A regex for the number as written, with or without trailing zeros (0.4, 0.40, 0.400)."""
    text = f"{Decimal(value).normalize():f}"
    return re.escape(text) + (r"0*" if "." in text else r"(?:\.0+)?")


def clinical_patterns(ruleset: Ruleset = DEFAULT_RULESET) -> dict[str, re.Pattern]:
    t = ruleset.thresholds
    m = ruleset.monitoring
    unit = {"pg/mL": r"(?:pg/mL|ng/L)", "pmol/L": r"pmol/L"}
    pats = {
        "total B12 band": rf"\b(?:{_number(t.total_b12.deficient_below)}|{_number(t.total_b12.not_deficient_above)})"
        rf"\s*{unit['pg/mL']}",
        "active B12 band": rf"\b(?:{_number(t.active_b12.deficient_below)}|{_number(t.active_b12.not_deficient_above)})"
        rf"\s*{unit['pmol/L']}",
        "MMA upper limit": rf"(?<![\d.]){_number(t.mma_upper_limit_umol_l)}\s*(?:µ|u|&micro;)mol/L",
        "homocysteine target": rf"\b{_number(m.homocysteine_target_umol_l)}\s*(?:µ|u|&micro;)mol/L",
        "dose": rf"(?<![\d.]){_number(ruleset.dose_mg)}\s*mg\b",
        "drug": rf"\b{re.escape(ruleset.drug)}\b",
        "monitoring interval": rf"\bevery\s+{m.every_months_until_stable}\s+months?\b",
        "eGFR cut-off": rf"\bbelow\s+{_number(ruleset.egfr_renal_below)}\b",
        "high B12": rf"\b{_number(ruleset.high_b12_above_pg_ml)}\s*{unit['pg/mL']}",
        # Settings, not the ruleset, but the same rule: shown from the setting, never as a literal.
        "lockout limit": r"\b\d+\s+failed\s+(?:attempts|sign-ins)\b",
        "worklist horizon": r"\bnext\s+\d+\s+days\b",
    }
    return {name: re.compile(p, re.IGNORECASE) for name, p in pats.items()}


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def python_strings(source: str) -> list[tuple[int, str]]:
    """The string literals of a module (f-strings' literal parts included), without its docstrings."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
    ]


_TEMPLATE_COMMENTS = re.compile(r"\{#.*?#\}|\{%\s*comment\s*%\}.*?\{%\s*endcomment\s*%\}", re.DOTALL)


def template_text(source: str) -> list[tuple[int, str]]:
    text = _TEMPLATE_COMMENTS.sub(lambda m: "\n" * m.group().count("\n"), source)
    return list(enumerate(text.splitlines(), start=1))


def threshold_values(ruleset: Ruleset = DEFAULT_RULESET) -> set[Decimal]:
    t = ruleset.thresholds
    return {
        t.total_b12.deficient_below,
        t.total_b12.not_deficient_above,
        t.active_b12.deficient_below,
        t.active_b12.not_deficient_above,
        t.mma_upper_limit_umol_l,
    }


# Keys under which the ruleset's facts travel (the API's JSON, the OpenAPI schema): their value is never a literal.
RULESET_KEYS = {"dose_mg", "route", "drug", "deficient_below", "not_deficient_above", "mma_upper_limit_umol_per_l"}


def python_numbers(source: str, values: set[Decimal]) -> list[tuple[int, str]]:
    """``Decimal(180)``/``Decimal("0.40")`` with a ruleset threshold, the route's code ("IM") as a string, or a
    literal under a ruleset key."""
    found = []
    tree = ast.parse(source)
    # A vocabulary's keys (code → words) name the code; they do not choose it.
    keys = {id(k) for node in ast.walk(tree) if isinstance(node, ast.Dict) for k in node.keys}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and node.value == DEFAULT_RULESET.route and id(node) not in keys:
            found.append((node.lineno, repr(node.value)))
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "Decimal"
            and len(node.args) == 1
            and isinstance(node.args[0], ast.Constant)
            and Decimal(str(node.args[0].value)) in values
        ):
            found.append((node.lineno, f"Decimal({node.args[0].value!r})"))
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if not (isinstance(key, ast.Constant) and key.value in RULESET_KEYS):
                    continue
                literal = value
                if isinstance(value, ast.Dict) and value.keys and isinstance(value.keys[0], ast.Constant):
                    literal = value.values[0] if value.keys[0].value == "const" else None
                if isinstance(literal, ast.Constant) and isinstance(literal.value, int | float | str):
                    found.append((node.lineno, f"{key.value}: {literal.value!r}"))
    return found


def leaks(root: Path, patterns: dict[str, re.Pattern] | None = None) -> list[str]:
    """Every clinical literal outside the ruleset, as ``path:line: what: 'text'``."""
    patterns = patterns or clinical_patterns()
    values = threshold_values()
    found = []
    files = [(p, python_strings) for p in sorted((root / "recommender").rglob("*.py"))]
    files += [(p, template_text) for p in sorted((root / "templates").rglob("*.html"))]
    files += [(p, template_text) for p in sorted((root / "recommender").rglob("templates/**/*.html"))]
    for path, pieces in files:
        rel = path.relative_to(root).as_posix()
        if rel in EXEMPT or "/migrations/" in rel:
            continue
        source = path.read_text(encoding="utf-8")
        for line, text in pieces(source):
            for name, pattern in patterns.items():
                if match := pattern.search(text):
                    found.append(f"{rel}:{line}: {name}: {match.group()!r}")
        if path.suffix == ".py":
            found += [f"{rel}:{line}: literal: {text}" for line, text in python_numbers(source, values)]
    return found


def test_no_clinical_number_outside_the_ruleset():
    assert leaks(ROOT) == []


def test_the_grep_finds_a_planted_literal_and_ignores_docstrings_comments_and_other_numbers(tmp_path):
    (tmp_path / "recommender").mkdir()
    (tmp_path / "templates").mkdir()
    (tmp_path / "recommender" / "leaky.py").write_text(
        '"""Docstring: every 3 months, 1 mg hydroxocobalamin."""\n'
        "# comment: 180 pg/mL\n"
        "PAGE_SIZE = 25\n"
        'PORT = "587"\n'
        'LABEL = f"reviews every 3 months for {name}"\n'
        'BAND = "below 180 pg/mL"\n'
        "LIMIT = Decimal(180)\n"
        'SCHEMA = {"dose_mg": {"const": 1}, "pages": Decimal(3)}\n'
        'ROUTE = "IM"\n',
        encoding="utf-8",
    )
    (tmp_path / "templates" / "leaky.html").write_text(
        "{# Hydroxocobalamin 1 mg #}\n<td>25 rows</td>\n<p>Hydroxocobalamin 1 mg intramuscular</p>\n"
        "<p>Active B12 below 25 pmol/L; MMA above 0.40 µmol/L; target 10 µmol/L; eGFR below 60.</p>\n"
        "<p>Locked after 5 failed attempts. Next 7 days.</p>\n",
        encoding="utf-8",
    )
    found = leaks(tmp_path)
    assert {f.split(": ")[0] for f in found} == {
        "recommender/leaky.py:5",
        "recommender/leaky.py:6",
        "recommender/leaky.py:7",
        "recommender/leaky.py:8",
        "recommender/leaky.py:9",
        "templates/leaky.html:3",
        "templates/leaky.html:4",
        "templates/leaky.html:5",
    }
    kinds = {f.split(": ")[1] for f in found}
    assert {"drug", "dose", "monitoring interval", "total B12 band", "active B12 band", "MMA upper limit"} <= kinds
    assert {"homocysteine target", "eGFR cut-off", "lockout limit", "worklist horizon"} <= kinds


def _other_ruleset() -> Ruleset:
    thresholds = DEFAULT_RULESET.thresholds.with_values(
        profile="test",
        total_deficient_below=Decimal("150"),
        total_not_deficient_above=Decimal("400"),
        active_deficient_below=Decimal("30"),
        active_not_deficient_above=Decimal("75"),
        mma_upper_limit_umol_l=Decimal("0.45"),
    )
    monitoring = replace(DEFAULT_RULESET.monitoring, homocysteine_target_umol_l=Decimal("12"))
    return replace(DEFAULT_RULESET, thresholds=thresholds, drug="cyanocobalamin", dose_mg=5, monitoring=monitoring)


@pytest.mark.django_db
def test_a_new_lab_profile_starts_from_the_ruleset_in_force(monkeypatch):
    assert LabProfile(name="x").total_b12_deficient_below == DEFAULT_RULESET.thresholds.total_b12.deficient_below
    monkeypatch.setattr(models, "DEFAULT_RULESET", _other_ruleset())
    profile = LabProfile(name="Other lab")
    assert (
        profile.total_b12_deficient_below,
        profile.total_b12_not_deficient_above,
        profile.active_b12_deficient_below,
        profile.active_b12_not_deficient_above,
        profile.mma_upper_limit_umol_l,
    ) == (Decimal("150"), Decimal("400"), Decimal("30"), Decimal("75"), Decimal("0.45"))


def test_the_ruleset_words():
    words = ruleset_words(DEFAULT_RULESET)
    assert (words.drug_dose, words.dose_route) == ("Hydroxocobalamin 1 mg", "1 mg IM")
    assert (words.homocysteine_target, words.monitoring_until_stable, words.monitoring_after_stable) == (
        "10 µmol/L",
        "every 3 months",
        "yearly",
    )
    other = ruleset_words(_other_ruleset())
    assert (other.drug_dose, other.dose_route, other.homocysteine_target) == (
        "Cyanocobalamin 5 mg",
        "5 mg IM",
        "12 µmol/L",
    )


@pytest.mark.django_db
def test_the_plan_pages_show_the_drug_and_dose_of_the_ruleset(clinician, nurse_client, monkeypatch):
    plan = make_plan(by=clinician)
    other = ruleset_words(_other_ruleset())
    monkeypatch.setattr(context_processors, "RULESET_WORDS", other)
    monkeypatch.setattr(clinic_presenters, "RULESET_WORDS", other)
    detail = nurse_client.get(reverse("plan-detail", args=[plan.pk])).content.decode()
    assert "Cyanocobalamin 5 mg intramuscular" in detail
    assert "12 µmol/L" in detail
    # The plan's own summary (the decision panel beside it quotes the engine's decision as it was made).
    assert 'id="plan-loading">5 mg IM three times a week' in detail
    assert 'id="plan-maintenance">5 mg IM every 2 months' in detail
    dose_form = nurse_client.get(reverse("dose-record", args=[plan.pk])).content.decode()
    assert "cyanocobalamin 5 mg intramuscular" in dose_form


@pytest.mark.django_db
def test_the_worklist_names_its_own_horizon(clinician, clinician_client, monkeypatch):
    plan = make_plan(by=clinician, start=timezone.localdate() + timedelta(days=10))
    monkeypatch.setattr(injections_views, "WORKLIST_DAYS_AHEAD", 14)
    page = clinician_client.get(reverse("worklist")).content.decode()
    assert "Next 14 days" in page
    assert "Next 7 days" not in page
    assert plan.patient.hospital_number in page


@pytest.mark.django_db
def test_the_lockout_page_states_the_configured_limit(client, nurse, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for i in range(3):
        client.post("/login/", {"username": nurse.username, "password": f"wrong-{i}"})
    locked = client.post("/login/", {"username": nurse.username, "password": PASSWORD})
    assert locked.status_code == 429
    assert "after 3 failed attempts" in locked.content.decode()


@pytest.mark.parametrize("loading_doses", [3, 6, 9])
def test_the_three_times_weekly_course_is_as_long_as_the_plan_says(loading_doses):
    """The schedule takes the course's length from the plan's facts, not from a course of 2 weeks written into it."""
    monday = date(2027, 1, 4)
    plan = schedule.PlanFacts(
        monday, schedule.THREE_TIMES_WEEKLY, schedule.Interval(3, schedule.MONTHS), loading_doses=loading_doses
    )
    records: list[schedule.DoseEvent] = []
    while (due := schedule.next_dose(plan, records)).phase == schedule.LOADING:
        records.append(schedule.DoseEvent(schedule.LOADING, due.number, due.due))
    assert len(records) == loading_doses
    # Monday, Wednesday, Friday, week after week.
    assert [r.on.weekday() for r in records] == [0, 2, 4] * (loading_doses // 3)
    assert records[-1].on == monday + timedelta(days=7 * (loading_doses // 3 - 1) + 4)


def test_the_engine_words_its_sentences_from_the_ruleset_drug_dose_and_route():
    from recommender.guideline import decide, parse_assessment

    other = replace(DEFAULT_RULESET, drug="cyanocobalamin", dose_mg=2, route="SC")
    payloads = [
        {"b12": {"value": 150, "unit": "pg/mL"}, "neurological_involvement": True, "severe": True},
        {"b12": {"value": 150, "unit": "pg/mL"}, "bariatric_surgery": True},
        {"b12": {"value": 150, "unit": "pg/mL"}},
        {"b12": {"value": 250, "unit": "pg/mL"}, "neurological_involvement": True},
        {"b12": {"value": 150, "unit": "pmol/L"}},
    ]
    for payload in payloads:
        decision = decide(parse_assessment(payload), ruleset=other).as_dict()
        sentences = [decision["headline"], *(r["text"] for r in decision["rationale"])]
        sentences += [a["text"] for a in decision["alerts"]]
        sentences += [(decision.get(k) or {}).get("text", "") for k in ("loading", "maintenance")]
        words = " ".join(sentences)
        # "intramuscular treatment gives faster improvement" is the evidence on routes, not the ruleset's route
        assert not re.search(r"hydroxocobalamin|\bIM\b|\b1 mg\b", words, re.I), words
        assert "cyanocobalamin" in words.lower()
        if decision["loading"]:
            assert decision["loading"]["text"].startswith("Cyanocobalamin 2 mg SC ")
            assert decision["loading"]["route"] == "SC"
