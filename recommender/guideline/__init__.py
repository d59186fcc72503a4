"""The clinical engine: pure Python, no Django. One decision for the HTML form and the JSON API."""

from .engine import Alert, PendingTreatment, Recommendation, Statement, decide
from .inputs import (
    Assessment,
    InvalidAssessment,
    Measurement,
    MmaResult,
    parse_assessment,
)
from .ruleset import DEFAULT_RULESET, RULESETS, Ruleset, Thresholds

__all__ = [
    "DEFAULT_RULESET",
    "RULESETS",
    "Alert",
    "Assessment",
    "InvalidAssessment",
    "Measurement",
    "MmaResult",
    "PendingTreatment",
    "Recommendation",
    "Ruleset",
    "Statement",
    "Thresholds",
    "decide",
    "parse_assessment",
]
