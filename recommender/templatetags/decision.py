from django import template

from recommender.presenters import INDICATION_WORDS, decision_panel

register = template.Library()


@register.filter
def panel(decision: dict) -> dict:
    """The results panel's words for a decision (the API's dict)."""
    return decision_panel(decision)


@register.filter
def indication(code: str) -> str:
    """An indication code in words: ileal_resection → ileal resection."""
    return INDICATION_WORDS.get(code, code.replace("_", " "))
