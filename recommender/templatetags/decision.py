from django import template

from recommender.presenters import INDICATION_WORDS, decision_html, plan_fields_html

register = template.Library()


@register.simple_tag
def decision_panel(decision: dict):
    """The results panel for a decision (the API's dict): live, stored or printed."""
    return decision_html(decision)


@register.filter
def indication(code: str) -> str:
    """An indication code in words: ileal_resection → ileal resection."""
    return INDICATION_WORDS.get(code, code.replace("_", " "))


@register.simple_tag
def plan_fields(form):
    """The plan's choices in the live panel."""
    return plan_fields_html(form)
