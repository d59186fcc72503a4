from django import template

from recommender.clinic.presenters import (
    INDICATION_WORDS,
    STATUS_WORDS,
    decision_html,
    decision_main_html,
    decision_sources_html,
    error_line,
)

register = template.Library()


@register.simple_tag
def decision_panel(decision: dict):
    """The results panel for a decision (the API's dict): stored or printed, with its reasons and sources."""
    return decision_html(decision)


@register.simple_tag
def decision_main(decision: dict):
    """The live panel: status, alerts, regimen, monitoring and advice (the reasons go below the save action)."""
    return decision_main_html(decision)


@register.simple_tag
def decision_sources(decision: dict):
    return decision_sources_html(decision)


@register.filter
def indication(code: str) -> str:
    """An indication code in words: ileal_resection → ileal resection."""
    return INDICATION_WORDS.get(code, code.replace("_", " "))


@register.simple_tag
def field_error(label: str, message: str) -> str:
    """A field's error prefixed with its label, once."""
    return error_line(label, message)


@register.filter
def status_words(status: str) -> str:
    """A decision's status in words: not_deficient → Not deficient."""
    return STATUS_WORDS.get(status, status)
