"""System checks: refuse to start with a broken ruleset, clinic calendar or time zone.

Ids are stable (``manage.py check`` output and SILENCED_SYSTEM_CHECKS refer to them):

- E001 a citation id used in a ruleset or in the engine's source is not in ``guideline/citations.py``;
- E002 the maintenance intervals are out of order (neurological involvement never waits longer);
- E003 ``B12_HOLIDAYS`` is not a nation the holidays package knows;
- E004 ``B12_CLINIC_DAYS`` is not a list of distinct weekdays 0–6, enough for the fastest loading course;
- E005 a ruleset's bands are out of order (deficient below ≤ not deficient above; high B12 above both);
- E006 a ruleset's interval, dose or limit is not positive (or its minimum exceeds its maximum);
- E007 ``TIME_ZONE`` is not a time zone zoneinfo knows.
"""

from __future__ import annotations

import ast
import dataclasses
import pkgutil
import re
import zoneinfo
from collections.abc import Iterable, Iterator
from decimal import Decimal
from importlib import import_module
from pathlib import Path

import holidays
from django.conf import settings
from django.core.checks import Error, register

from recommender import guideline
from recommender.guideline import RULESETS
from recommender.guideline.citations import CITATIONS

# The shape of a citation id ("nice-ng239", "praxis-injection-2025"): lower case, words joined by hyphens.
_CITATION_ID = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)+")


# --- The ruleset ---------------------------------------------------------------------------------------------


def _ruleset_citations(node: object, path: str) -> Iterator[tuple[str, str]]:
    """(where, id) for every id in a field named ``citations`` or ``*_citations``, walking nested dataclasses."""
    if not dataclasses.is_dataclass(node) or isinstance(node, type):
        return
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        where = f"{path}.{f.name}"
        if (f.name == "citations" or f.name.endswith("_citations")) and isinstance(value, tuple | list):
            yield from ((where, cid) for cid in value)
        elif dataclasses.is_dataclass(value):
            yield from _ruleset_citations(value, where)


def _source_citations(package=guideline) -> Iterator[tuple[str, str]]:
    """(module:line, id) for every citation-shaped string written in a tuple or list in the engine's source.

    The engine cites sources inline (``Statement(..., ("nice-ng239",))``), wherever its modules are; every such id
    must resolve, or a stored plan would cite a source no one can look up."""
    names = [package.__name__] + [
        info.name for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}.")
    ]
    for name in names:
        if name.endswith(".citations"):
            continue  # the register itself
        module = import_module(name)
        path = Path(module.__file__)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Tuple | ast.List):
                for item in node.elts:
                    if (
                        isinstance(item, ast.Constant)
                        and isinstance(item.value, str)
                        and _CITATION_ID.fullmatch(item.value)
                    ):
                        yield f"{name}:{item.lineno}", item.value


def _unknown_citations(cited: Iterable[tuple[str, str]]) -> list[Error]:
    return [
        Error(
            f"{where} cites {cid!r}, which is not a source in recommender/guideline/citations.py.",
            hint="Add the source to CITATIONS or correct the id.",
            id="recommender.E001",
        )
        for where, cid in cited
        if cid not in CITATIONS
    ]


def _bands_out_of_order(ruleset) -> list[Error]:
    errors = []
    th = ruleset.thresholds
    for name in ("total_b12", "active_b12"):
        bands = getattr(th, name)
        if not (Decimal(0) < bands.deficient_below <= bands.not_deficient_above):
            errors.append(
                Error(
                    f"Ruleset {ruleset.id}: {name} bands out of order (deficient below {bands.deficient_below}, "
                    f"not deficient above {bands.not_deficient_above} {bands.unit}).",
                    hint="Need 0 < deficient_below <= not_deficient_above.",
                    id="recommender.E005",
                )
            )
    if ruleset.high_b12_above_pg_ml <= th.total_b12.not_deficient_above:
        errors.append(
            Error(
                f"Ruleset {ruleset.id}: high_b12_above_pg_ml ({ruleset.high_b12_above_pg_ml}) is not above the "
                f"total B12 'not deficient above' band ({th.total_b12.not_deficient_above}).",
                id="recommender.E005",
            )
        )
    return errors


def _numbers_not_positive(ruleset) -> list[Error]:
    rs = ruleset
    positive = {
        "dose_mg": rs.dose_mg,
        "thresholds.mma_upper_limit_umol_l": rs.thresholds.mma_upper_limit_umol_l,
        "egfr_renal_below": rs.egfr_renal_below,
        "individualised_max_months": rs.individualised_max_months,
        "neuro_loading_review_days": rs.neuro_loading_review_days,
        "pregnancy_first_review_months": rs.pregnancy_first_review_months,
        "monitoring.every_months_until_stable": rs.monitoring.every_months_until_stable,
        "monitoring.every_months_after_stable": rs.monitoring.every_months_after_stable,
        "monitoring.homocysteine_target_umol_l": rs.monitoring.homocysteine_target_umol_l,
    }
    ranges = {}
    for f in dataclasses.fields(rs):
        value = getattr(rs, f.name)
        if f.name.startswith("loading_"):
            for part in ("doses_per_week", "weeks"):
                if getattr(value, part) is not None:
                    positive[f"{f.name}.{part}"] = getattr(value, part)
        elif f.name.startswith("maintenance_"):
            ranges[f.name] = (value.min_months, value.max_months)
        elif f.name.startswith("oral_"):
            ranges[f.name] = (value.min_mcg, value.max_mcg)
    errors = [
        Error(f"Ruleset {rs.id}: {name} is {value}; it must be positive.", id="recommender.E006")
        for name, value in positive.items()
        if not value > 0
    ]
    errors += [
        Error(f"Ruleset {rs.id}: {name} runs from {low} to {high}; need 0 < min <= max.", id="recommender.E006")
        for name, (low, high) in ranges.items()
        if not (0 < low <= high)
    ]
    if rs.ileal_resection_above_cm < 0:
        errors.append(
            Error(f"Ruleset {rs.id}: ileal_resection_above_cm is negative.", id="recommender.E006"),
        )
    return errors


@register()
def check_rulesets(app_configs, **kwargs):
    errors = _unknown_citations((where, cid) for where, cid in _source_citations() if cid not in RULESETS)
    for ruleset in RULESETS.values():
        errors += _unknown_citations(_ruleset_citations(ruleset, ruleset.id))
        if ruleset.maintenance_with_neuro.max_months > ruleset.maintenance_without_neuro.max_months:
            errors.append(Error(f"Ruleset {ruleset.id}: maintenance intervals out of order.", id="recommender.E002"))
        errors += _bands_out_of_order(ruleset)
        errors += _numbers_not_positive(ruleset)
    return errors


# --- The settings --------------------------------------------------------------------------------------------


@register()
def check_holidays(app_configs, **kwargs):
    """B12_HOLIDAYS names a nation the holidays package knows ("GB-ENG", "GB-SCT", "GB-NIR", "FR"…) or is empty."""
    code = getattr(settings, "B12_HOLIDAYS", "")
    if not code:
        return []
    country, _, subdiv = code.strip().upper().partition("-")
    try:
        holidays.country_holidays(country, subdiv=subdiv or None)
    except (NotImplementedError, ValueError, KeyError) as error:
        return [
            Error(
                f"B12_HOLIDAYS={code!r} is not a nation the holidays package knows: {error}.",
                hint='Use e.g. "GB-ENG" (England and Wales), "GB-SCT", "GB-NIR", "FR", or "" for none.',
                id="recommender.E003",
            )
        ]
    return []


def _days_needed() -> int:
    """The most doses a week any ruleset's loading course gives (three-times-weekly: 3), each on its own day."""
    return max(
        (
            course.doses_per_week
            for ruleset in RULESETS.values()
            for course in (ruleset.loading_without_neuro, ruleset.loading_with_neuro)
            if course.doses_per_week
        ),
        default=1,
    )


@register()
def check_clinic_days(app_configs, **kwargs):
    """B12_CLINIC_DAYS: distinct weekdays 0 (Monday) to 6 (Sunday), as many as the loading course gives a week."""
    days = list(getattr(settings, "B12_CLINIC_DAYS", []))
    hint = "Give weekdays as integers, 0 (Monday) to 6 (Sunday), each once, e.g. B12_CLINIC_DAYS=0,1,2,3,4."
    bad = [day for day in days if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6]
    if bad:
        return [
            Error(
                f"B12_CLINIC_DAYS={days!r}: {bad!r} not a weekday from 0 (Monday) to 6 (Sunday).",
                hint=hint,
                id="recommender.E004",
            )
        ]
    errors = []
    repeated = sorted({day for day in days if days.count(day) > 1})
    if repeated:
        errors.append(Error(f"B12_CLINIC_DAYS={days!r}: {repeated!r} given twice.", hint=hint, id="recommender.E004"))
    needed = _days_needed()
    if len(set(days)) < needed:
        errors.append(
            Error(
                f"B12_CLINIC_DAYS={days!r}: give at least {needed} distinct weekdays; the loading course gives "
                f"{needed} doses a week, each on its own clinic day.",
                hint=hint,
                id="recommender.E004",
            )
        )
    return errors


@register()
def check_time_zone(app_configs, **kwargs):
    """TIME_ZONE names a zone zoneinfo knows: dose days and 'today' are the clinic's local dates."""
    name = getattr(settings, "TIME_ZONE", None)
    try:
        if not isinstance(name, str) or not name:
            raise ValueError("not a name")
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as error:
        return [
            Error(
                f"TIME_ZONE={name!r} is not a time zone zoneinfo knows ({error}).",
                hint='Set DJANGO_TIME_ZONE to an IANA name such as "Europe/London".',
                id="recommender.E007",
            )
        ]
    return []
