"""The import contracts in pyproject.toml (run by `make test` as `lint-imports`): kept by today's code, and each
broken by the import it forbids (checked on a copy of the code, so the real tree is never touched)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONTRACTS = {
    "engine-pure": "The engine imports no Django",
    "views-only-from-urls": "Only the URL configuration imports the views",
    "layers": "Layers: rooms import only the rooms below them",
    "room-layers": "Inside each room:",
    "no-cycles": "No import cycles",
}


def lint(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - a fixed command: the venv's lint-imports, no user input
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=cwd,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_todays_code_keeps_every_contract():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in CONTRACTS.values():
        assert any(name in line and line.endswith("KEPT") for line in result.stdout.splitlines()), name


@pytest.mark.parametrize(
    ("module", "offence", "broken"),
    [
        ("recommender/guideline/units.py", "from django.conf import settings", ["engine-pure"]),
        ("recommender/guideline/engine.py", "from recommender import models", ["engine-pure", "layers", "no-cycles"]),
        (
            "recommender/clinic/selectors.py",
            "from recommender.clinic import views",
            ["views-only-from-urls", "room-layers", "no-cycles"],
        ),
        (
            "recommender/clinic/forms.py",
            "from recommender.interop import api",
            ["views-only-from-urls", "layers", "no-cycles"],
        ),
        ("recommender/injections/services.py", "from recommender.clinic import services", ["layers", "no-cycles"]),
        (
            "recommender/models.py",
            "from recommender.clinic import services",
            ["layers", "room-layers", "no-cycles"],
        ),
    ],
)
def test_each_contract_is_broken_by_the_import_it_forbids(tmp_path, module, offence, broken):
    for part in ("recommender", "b12site"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__", "migrations"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with (tmp_path / module).open("a") as source:
        source.write(f"\n{offence}  # noqa\n")
    result = lint(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for contract, name in CONTRACTS.items():
        verdict = "BROKEN" if contract in broken else "KEPT"
        assert any(name in line and line.endswith(verdict) for line in lines), (contract, verdict, result.stdout)
