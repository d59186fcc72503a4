"""The one path from a request in the contract's shape to a decision, for every machine front door (the JSON API,
CDS Hooks): the lab profile named (or the default), the engine's own validation, then the engine."""

from __future__ import annotations

from recommender.clinic import selectors as clinic_selectors
from recommender.guideline import InvalidAssessment, Recommendation, decide, parse_assessment


def recommendation_for(payload: object) -> Recommendation:
    """The decision for a contract-shaped payload (an optional "profile" key chooses the lab thresholds), or
    InvalidAssessment naming each bad field."""
    errors: dict[str, list[str]] = {}
    profile = clinic_selectors.lab_profile_default()
    if isinstance(payload, dict) and "profile" in payload:
        payload = dict(payload)
        ref = payload.pop("profile")
        profile = clinic_selectors.lab_profile_by_ref(ref) if isinstance(ref, str) and ref else None
        if profile is None:
            errors["profile"] = ["No lab profile by that name or id; leave it out to use the default thresholds."]
    try:
        assessment = parse_assessment(payload)
    except InvalidAssessment as invalid:
        errors = {**invalid.errors, **errors}
    if errors:
        raise InvalidAssessment(errors)
    return decide(assessment, thresholds=clinic_selectors.thresholds_for(profile))
