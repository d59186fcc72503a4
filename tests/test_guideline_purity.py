"""The clinical engine is pure Python: no module under recommender/guideline may import Django."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import recommender.guideline

PACKAGE = Path(recommender.guideline.__file__).resolve().parent
PROJECT_ROOT = PACKAGE.parent.parent
MODULES = sorted(PACKAGE.rglob("*.py"))


def imported_names(tree: ast.AST) -> list[tuple[int, str]]:
    """Every module name an import statement in the tree refers to (relative imports are inside the package)."""
    names: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append((node.lineno, node.module))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, (ast.Name, ast.Attribute))
            and (node.func.id if isinstance(node.func, ast.Name) else node.func.attr) in {"__import__", "import_module"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.append((node.lineno, node.args[0].value))
    return names


def is_django(name: str) -> bool:
    return name == "django" or name.startswith("django.")


def test_the_package_has_modules():
    names = {path.name for path in MODULES}
    assert {"__init__.py", "engine.py", "inputs.py", "ruleset.py", "units.py"} <= names


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_module_does_not_import_django(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    offending = [(line, name) for line, name in imported_names(tree) if is_django(name)]
    assert not offending, f"{path.relative_to(PROJECT_ROOT)} imports Django: {offending}"


def test_the_import_checker_would_catch_django():
    tree = ast.parse(
        "import django\nfrom django.conf import settings\nimport os, django.db\n"
        "from . import engine\nimportlib.import_module('django.apps')\n"
    )
    assert [name for _, name in imported_names(tree) if is_django(name)] == [
        "django",
        "django.conf",
        "django.db",
        "django.apps",
    ]


def test_importing_the_engine_loads_no_django():
    code = (
        "import sys\n"
        "import recommender.guideline as g\n"
        "g.decide(g.parse_assessment({'b12': {'value': 150, 'unit': 'pg/mL'}})).as_dict()\n"
        "loaded = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "print(loaded)\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    completed = subprocess.run(  # noqa: S603 - a fixed command: this interpreter and a literal script
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, f"Django was imported: {completed.stdout}{completed.stderr}"
    assert completed.stdout.strip() == "[]"
