from django import template

from recommender.clinic.presenters import INDICATION_WORDS, error_line

register = template.Library()


@register.filter
def indication(code: str) -> str:
    """An indication code in words: ileal_resection → ileal resection."""
    return INDICATION_WORDS.get(code, code.replace("_", " "))


@register.simple_tag
def field_error(label: str, message: str) -> str:
    """A field's error prefixed with its label, once."""
    return error_line(label, message)
