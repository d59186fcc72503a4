"""No state in a process: whatever a process keeps between requests must be a pure function of the code and the
settings, never of the database, or two workers (two nodes) would disagree after a change made on one of them.
A new per-process cache is added here with the reason it cannot go stale, or goes through Django's cache (shared
by every node with REDIS_URL)."""

from __future__ import annotations

import ast
from pathlib import Path

RECOMMENDER = Path(__file__).resolve().parent.parent / "recommender"
PROCESS_CACHES = {"lru_cache", "cache"}  # cached_property lives on an instance, for one request

# (module, function): why it cannot go stale.
ALLOWED = {
    ("recommender/injections/selectors.py", "public_holidays"): "the holidays package's data for a code and year",
    ("recommender/guideline/schedule.py", "_loading_offsets"): "pure arithmetic on its arguments",
    ("recommender/guideline/citations.py", "_secondary_only"): "the citations are constants in the code",
    ("recommender/clinic/presenters.py", "citation_refs"): "links for a set of citation ids, constants in the code",
    ("recommender/interop/cds/cards.py", "_regimen_json"): "FHIR JSON of a regimen and a coding, both the key",
    ("recommender/interop/cds/cards.py", "_medication_for"): "the medication coding of the settings given as the key",
    ("recommender/interop/cds/selectors.py", "_lookup_sql"): "SQL compiled from the models, values kept out of it",
    ("recommender/records.py", "_one_row_insert"): "an INSERT's SQL and fields from the model and vendor given",
    ("recommender/web/context_processors.py", "_shell"): "the routes and static files' names, fixed for a deployment",
    ("recommender/web/widgets.py", "blank_form"): "an empty form's HTML: its fields, no data, no initial values",
    ("recommender/web/formats.py", "_names"): "month and weekday names of a language, from Django's catalogues",
}
# Not a decorated cache, and no data either: recommender/prebuilt.py keeps querysets' shapes per process, never
# evaluated (tests/test_prebuilt.py), each use a fresh query.


def _decorator_name(node: ast.expr) -> str:
    node = node.func if isinstance(node, ast.Call) else node
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")


def process_caches(root: Path) -> set[tuple[str, str]]:
    """(module, function) for every function of the app decorated with a per-process cache."""
    found = set()
    for path in root.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            is_function = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            if is_function and any(_decorator_name(d) in PROCESS_CACHES for d in node.decorator_list):
                found.add((f"recommender/{path.relative_to(root).as_posix()}", node.name))
    return found


def test_every_per_process_cache_is_a_pure_function_of_code_and_settings():
    assert process_caches(RECOMMENDER) <= set(ALLOWED), sorted(process_caches(RECOMMENDER) - set(ALLOWED))


def test_the_scan_finds_per_process_caches(tmp_path):
    app = tmp_path / "recommender"
    app.mkdir()
    (app / "selectors.py").write_text(
        "import functools\nfrom functools import lru_cache\n"
        "@lru_cache(maxsize=1)\ndef default_profile(): ...\n"
        "@functools.cache\ndef closures(): ...\n"
        "def plain(): ...\n",
        encoding="utf-8",
    )
    assert process_caches(app) == {
        ("recommender/selectors.py", "default_profile"),
        ("recommender/selectors.py", "closures"),
    }
