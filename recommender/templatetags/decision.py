from django import template

from recommender.presenters import decision_panel

register = template.Library()


@register.filter
def panel(decision: dict) -> dict:
    """The results panel's words for a decision (the API's dict)."""
    return decision_panel(decision)
