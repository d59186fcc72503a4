"""A stored decision read back as a typed object. Assessments keep the decision's JSON (``Recommendation.as_dict``)
for traceability, and plans follow the decision they were started from even after the ruleset changes: what a plan
may be is read from that record, here, once, rather than by indexing its dict wherever it is needed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


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


@dataclass(frozen=True, slots=True)
class Cited:
    """A sentence with its sources: a rationale line, an alert (with its ``level``) or a monitoring caveat."""

    text: str
    citations: tuple[str, ...] = ()
    code: str = ""
    level: str = ""

    @classmethod
    def read(cls, item: dict | str, *, default_citations: tuple[str, ...] = ()) -> Cited:
        if isinstance(item, str):  # monitoring caveats were stored as bare sentences
            return cls(item, default_citations)
        return cls(
            item.get("text", ""),
            tuple(item.get("citations") or default_citations),
            item.get("code", ""),
            item.get("level", ""),
        )


@dataclass(frozen=True, slots=True)
class Course:
    """A loading course: its pattern (three times weekly, alternate days), doses and weeks when fixed."""

    pattern: str
    doses: int | None
    weeks: int | None
    text: str

    @classmethod
    def read(cls, item: dict | None) -> Course | None:
        if not item:
            return None
        return cls(item["pattern"], item.get("doses"), item.get("weeks"), item.get("text", ""))


@dataclass(frozen=True, slots=True)
class Maintenance:
    min_months: int
    max_months: int
    lifelong: bool
    text: str

    @classmethod
    def read(cls, item: dict | None) -> Maintenance | None:
        if not item:
            return None
        every = item["every_months"]
        return cls(every["min"], every["max"], bool(item.get("lifelong")), item.get("text", ""))


@dataclass(frozen=True, slots=True)
class OralOption:
    min_mcg: float
    max_mcg: float
    after_loading: bool

    @classmethod
    def read(cls, item: dict | None) -> OralOption | None:
        if not item:
            return None
        return cls(item["dose_mcg"]["min"], item["dose_mcg"]["max"], bool(item.get("after_loading")))


@dataclass(frozen=True, slots=True)
class Monitoring:
    every_months_until_stable: int
    every_months_after_stable: int
    homocysteine_target: float
    first_review_months: int | None
    citations: tuple[str, ...]
    caveats: tuple[Cited, ...]
    tests: tuple[str, ...] = ()

    @classmethod
    def read(cls, item: dict | None, *, rationale: tuple[Cited, ...] = ()) -> Monitoring | None:
        if not item:
            return None
        caveat_sources = _opening_citations(rationale, "Caveat")
        return cls(
            item["every_months_until_stable"],
            item["every_months_after_stable"],
            item["homocysteine_target_umol_per_l"],
            item.get("first_review_months"),
            tuple(item.get("citations") or _opening_citations(rationale, "Monitoring")),
            tuple(Cited.read(c, default_citations=caveat_sources) for c in item.get("caveats", [])),
            tuple(item.get("tests") or ()),
        )


def _opening_citations(rationale: tuple[Cited, ...], opening: str) -> tuple[str, ...]:
    """The sources of the rationale's statement that opens with these words (older monitoring blocks carry none)."""
    return next((line.citations for line in rationale if line.text.startswith(opening)), ())


@dataclass(frozen=True, slots=True)
class PendingTreatment:
    """Treatment that may start before the MMA result (neurological signs, indeterminate B12)."""

    reason: str
    indications: tuple[str, ...]
    loading: Course | None
    maintenance: Maintenance | None
    monitoring: Monitoring | None


@dataclass(frozen=True, slots=True)
class Source:
    id: str
    title: str
    source: str
    year: int | str
    secondary: bool


@dataclass(frozen=True, slots=True)
class Decision:
    """The engine's decision as the project reads it: built once from the JSON an assessment stores (or the engine
    has just given), so nothing past this point indexes the dict. The JSON stays the record and the API's shape."""

    status: str
    basis: str
    headline: str
    next_test: str | None
    im_recommended: bool
    indications: tuple[str, ...]
    loading: Course | None
    maintenance: Maintenance | None
    oral_option: OralOption | None
    pending: PendingTreatment | None
    alerts: tuple[Cited, ...]
    monitoring: Monitoring | None
    rationale: tuple[Cited, ...]
    sources: tuple[Source, ...]
    ruleset_id: str
    ruleset_version: str
    # Numbers per analyte as the engine reported them (values, conversions, bands): read by the panel's lines.
    thresholds: Mapping = field(default_factory=dict)
    measurements: Mapping = field(default_factory=dict)

    @classmethod
    def from_dict(cls, decision: dict) -> Decision:
        rationale = tuple(Cited.read(item) for item in decision.get("rationale", []))
        pending = decision.get("treatment_pending_mma")
        return cls(
            status=decision["status"],
            basis=decision["basis"],
            headline=decision.get("headline", ""),
            next_test=decision.get("next_test"),
            im_recommended=bool(decision.get("im_recommended")),
            indications=tuple(decision.get("indications") or ()),
            loading=Course.read(decision.get("loading")),
            maintenance=Maintenance.read(decision.get("maintenance")),
            oral_option=OralOption.read(decision.get("oral_option")),
            pending=PendingTreatment(
                pending.get("reason", ""),
                tuple(pending.get("indications") or ()),
                Course.read(pending.get("loading")),
                Maintenance.read(pending.get("maintenance")),
                Monitoring.read(pending.get("monitoring"), rationale=rationale),
            )
            if pending
            else None,
            alerts=tuple(Cited.read(item) for item in decision.get("alerts", [])),
            monitoring=Monitoring.read(decision.get("monitoring"), rationale=rationale),
            rationale=rationale,
            sources=tuple(
                Source(
                    c["id"],
                    c["title"],
                    c["source"],
                    c["year"],
                    bool(c.get("secondary")) or c.get("kind") == "secondary",
                )
                for c in decision.get("citations", [])
            ),
            ruleset_id=decision["ruleset"]["id"],
            ruleset_version=decision["ruleset"]["version"],
            thresholds=decision.get("thresholds", {}),
            measurements=decision.get("measurements", {}),
        )

    @property
    def needs_mma(self) -> bool:
        return self.next_test == "mma"

    def offer(self) -> TreatmentOffer | None:
        """The injections this decision offers: IM indicated, or treatment started pending MMA; else None."""
        if self.im_recommended and self.maintenance is not None:
            indications, loading, maintenance, monitoring, pending = (
                self.indications,
                self.loading,
                self.maintenance,
                self.monitoring,
                False,
            )
        elif self.pending is not None and self.pending.maintenance is not None:
            # Deficiency is what is treated, pending its confirmation by the MMA result.
            indications = self.pending.indications or self.indications or ("deficiency",)
            loading, maintenance, pending = self.pending.loading, self.pending.maintenance, True
            monitoring = self.monitoring or self.pending.monitoring
        else:
            return None
        return TreatmentOffer(
            indications=tuple(indications),
            loading_pattern=loading.pattern if loading else "",
            loading_doses=loading.doses if loading else None,
            min_months=maintenance.min_months,
            max_months=maintenance.max_months,
            lifelong=maintenance.lifelong,
            pending_mma=pending,
            first_review_months=monitoring.first_review_months if monitoring else None,
        )
