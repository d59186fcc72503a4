"""Template context every page gets: the ruleset's facts in words (``rules.drug_dose``, ``rules.dose`` …)."""

from __future__ import annotations

from recommender.ruleset_words import RULESET_WORDS


def ruleset_words(request) -> dict:
    return {"rules": RULESET_WORDS}
