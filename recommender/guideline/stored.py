"""A stored decision read back as a typed object. Assessments keep the decision's JSON (``Recommendation.as_dict``)
for traceability, and plans follow the decision they were started from even after the ruleset changes: what a plan
may be is read from that record, here, once, rather than by indexing its dict wherever it is needed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TreatmentOffer:
    """The injections a decision offers: IM indicated, or treatment started pending MMA (``pending_mma``)."""

    indications: tuple[str, ...]
    loading_pattern: str  # "" without a loading course
    loading_doses: int | None
    min_months: int
    max_months: int
    lifelong: bool
    pending_mma: bool
    first_review_months: int | None

    def allows_months(self, months: int) -> bool:
        return self.min_months <= months <= self.max_months


def treatment_offer(decision: dict) -> TreatmentOffer | None:
    """The treatment a stored (or just made) decision offers, or None when it offers no injections."""
    if decision.get("im_recommended") and decision.get("maintenance") is not None:
        source, pending = decision, False
        indications = decision.get("indications") or []
    elif decision.get("treatment_pending_mma"):
        source, pending = decision["treatment_pending_mma"], True
        # Deficiency is what is treated, pending its confirmation by the MMA result.
        indications = source.get("indications") or decision.get("indications") or ["deficiency"]
    else:
        return None
    maintenance, loading = source.get("maintenance"), source.get("loading")
    if maintenance is None:
        return None
    monitoring = decision.get("monitoring") or (source.get("monitoring") if pending else None) or {}
    return TreatmentOffer(
        indications=tuple(indications),
        loading_pattern=loading["pattern"] if loading else "",
        loading_doses=loading.get("doses") if loading else None,
        min_months=maintenance["every_months"]["min"],
        max_months=maintenance["every_months"]["max"],
        lifelong=maintenance["lifelong"],
        pending_mma=pending,
        first_review_months=monitoring.get("first_review_months"),
    )
