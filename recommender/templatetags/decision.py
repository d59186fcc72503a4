from django import template

register = template.Library()


@register.filter
def level(alerts, name: str) -> list:
    """The alerts of one level: red_flag, caution or advice."""
    return [alert for alert in alerts or () if alert.get("level") == name]


@register.filter
def unit(value: str) -> str:
    """A unit as clinicians write it (umol/L → µmol/L)."""
    return (value or "").replace("umol", "µmol")
