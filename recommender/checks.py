"""System checks: refuse to start with a broken ruleset."""

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
