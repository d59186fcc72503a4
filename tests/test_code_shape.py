"""Small functions (issue 12, item 5): the engine's decision, the plan's calendar and dose recording are split into
named steps, none of them longer than about 60 lines of body (signature and docstring aside)."""

from __future__ import annotations

import ast
import inspect

import pytest

from recommender.guideline import engine
from recommender.injections import calendars
from recommender.injections import services as injection_services

MAX_BODY_LINES = 60


def _long_functions(module) -> list[tuple[str, int]]:
    long = []
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body[1:] if ast.get_docstring(node) else node.body
            if body and (lines := body[-1].end_lineno - body[0].lineno + 1) > MAX_BODY_LINES:
                long.append((node.name, lines))
    return long


@pytest.mark.parametrize("module", [engine, calendars], ids=lambda m: m.__name__)
def test_no_function_is_long(module):
    assert _long_functions(module) == []


def test_dose_recording_is_split_into_named_steps():
    """Its keyword-only signature lists every detail of a dose: count it too, within a little more room."""
    for service in (injection_services.dose_record, injection_services.dose_correct):
        assert len(inspect.getsource(service).splitlines()) <= MAX_BODY_LINES + 10, service.__name__


# The engine's decision is a typed object inside the project (guideline/stored.py's Decision); its JSON is the stored
# record and the API's shape, read by key only where it is made into that object or written as the record.
DECISION_EDGES = {"guideline/stored.py", 'clinic/services.py:thresholds=decision["thresholds"],'}


def test_the_decisions_json_is_read_by_key_only_at_its_edges():
    import re
    from pathlib import Path

    root = Path(inspect.getfile(engine)).parent.parent
    found = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith("migrations/") or relative in DECISION_EDGES:
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if (
                re.search(r"decision(\.decision)?(\[|\.get\()", line)
                and f"{relative}:{line.strip()}" not in DECISION_EDGES
            ):
                found.append(f"{relative}: {line.strip()}")
    assert found == []
