"""System checks: refuse to start with a broken ruleset or clinic calendar."""

import holidays
from django.conf import settings
from django.core.checks import Error, register

from .guideline import RULESETS
from .guideline.citations import CITATIONS


@register()
def check_rulesets(app_configs, **kwargs):
    errors = []
    for ruleset in RULESETS.values():
        cited = [
            *ruleset.thresholds.total_b12.citations,
            *ruleset.thresholds.active_b12.citations,
            *ruleset.thresholds.mma_citations,
            *ruleset.loading_with_neuro.citations,
            *ruleset.loading_without_neuro.citations,
            *ruleset.monitoring.citations,
        ]
        for cid in cited:
            if cid not in CITATIONS:
                errors.append(Error(f"Ruleset {ruleset.id} cites unknown source {cid!r}.", id="recommender.E001"))
        if ruleset.maintenance_with_neuro.max_months > ruleset.maintenance_without_neuro.max_months:
            errors.append(Error(f"Ruleset {ruleset.id}: maintenance intervals out of order.", id="recommender.E002"))
    return errors


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


@register()
def check_clinic_days(app_configs, **kwargs):
    """B12_CLINIC_DAYS: weekdays 0 (Monday) to 6, at least three (three-times-weekly loading needs them)."""
    days = set(getattr(settings, "B12_CLINIC_DAYS", []))
    if not days <= set(range(7)) or len(days) < 3:
        return [
            Error(
                f"B12_CLINIC_DAYS={sorted(days)!r}: give at least three weekdays from 0 (Monday) to 6 (Sunday).",
                id="recommender.E004",
            )
        ]
    return []
