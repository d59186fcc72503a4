"""Ruleset ``seed-2025``: every threshold and interval of the guideline, once, beside its citation.

Numbers are ``Decimal`` so that a boundary is compared exactly (179.6 pg/mL is below 180; nothing is rounded
before it is compared). Total-B12 thresholds are in pg/mL (= ng/L); active B12 in pmol/L; MMA in µmol/L.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

from .citations import CITATIONS
from .units import PMOL_PER_L_PER_PG_PER_ML


@dataclass(frozen=True, slots=True)
class Bands:
    """Three bands: below ``deficient_below`` → deficient; up to ``not_deficient_above`` inclusive →
    indeterminate; above it → not deficient."""

    deficient_below: Decimal
    not_deficient_above: Decimal
    unit: str
    citations: tuple[str, ...]

    def __post_init__(self) -> None:
        if not (Decimal(0) < self.deficient_below <= self.not_deficient_above):
            raise ValueError(f"bands out of order: {self.deficient_below} / {self.not_deficient_above}")


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The part of the ruleset a lab or assay profile may replace."""

    total_b12: Bands
    active_b12: Bands
    mma_upper_limit_umol_l: Decimal
    mma_citations: tuple[str, ...]
    profile: str = "seed-2025 default"

    def __post_init__(self) -> None:
        if self.mma_upper_limit_umol_l <= 0:
            raise ValueError("the MMA upper limit must be positive")

    def as_dict(self) -> dict:
        return {
            "profile": self.profile,
            "total_b12_pg_per_ml": {
                "deficient_below": float(self.total_b12.deficient_below),
                "not_deficient_above": float(self.total_b12.not_deficient_above),
            },
            # For display beside the pg/mL bands; rounded here only, never for comparing.
            "total_b12_pmol_per_l": {
                "deficient_below": round(float(self.total_b12.deficient_below * PMOL_PER_L_PER_PG_PER_ML), 1),
                "not_deficient_above": round(float(self.total_b12.not_deficient_above * PMOL_PER_L_PER_PG_PER_ML), 1),
            },
            "active_b12_pmol_per_l": {
                "deficient_below": float(self.active_b12.deficient_below),
                "not_deficient_above": float(self.active_b12.not_deficient_above),
            },
            "mma_upper_limit_umol_per_l": float(self.mma_upper_limit_umol_l),
        }

    def with_values(
        self,
        *,
        profile: str,
        total_deficient_below: Decimal,
        total_not_deficient_above: Decimal,
        active_deficient_below: Decimal,
        active_not_deficient_above: Decimal,
        mma_upper_limit_umol_l: Decimal,
    ) -> Thresholds:
        """A lab or assay profile: the same structure with the lab's own numbers."""
        return replace(
            self,
            profile=profile,
            total_b12=replace(
                self.total_b12,
                deficient_below=total_deficient_below,
                not_deficient_above=total_not_deficient_above,
            ),
            active_b12=replace(
                self.active_b12,
                deficient_below=active_deficient_below,
                not_deficient_above=active_not_deficient_above,
            ),
            mma_upper_limit_umol_l=mma_upper_limit_umol_l,
        )


@dataclass(frozen=True, slots=True)
class LoadingCourse:
    pattern: str  # "three_times_weekly" | "alternate_days"
    doses_per_week: int | None
    weeks: int | None
    until: str  # "fixed_course" | "no_further_improvement"
    citations: tuple[str, ...]

    @property
    def total_doses(self) -> int | None:
        if self.weeks is None or self.doses_per_week is None:
            return None
        return self.weeks * self.doses_per_week


@dataclass(frozen=True, slots=True)
class MaintenanceInterval:
    min_months: int
    max_months: int
    lifelong: bool
    citations: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OralDose:
    min_mcg: int
    max_mcg: int
    after_loading: bool
    citations: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Monitoring:
    every_months_until_stable: int
    every_months_after_stable: int
    tests: tuple[str, ...]
    homocysteine_target_umol_l: Decimal
    citations: tuple[str, ...]


# How a route code reads in a sentence.
ROUTE_WORDS = {"IM": "intramuscular"}


@dataclass(frozen=True, slots=True)
class Ruleset:
    id: str
    version: str
    title: str
    thresholds: Thresholds
    dose_mg: int
    drug: str
    route: str  # a key of ROUTE_WORDS
    # Distal ileal resection strictly longer than this (cm) is an indication; exactly 20 cm is not.
    ileal_resection_above_cm: Decimal
    ileal_resection_citations: tuple[str, ...]
    bariatric_citations: tuple[str, ...]
    deficiency_im_citations: tuple[str, ...]
    loading_without_neuro: LoadingCourse
    loading_with_neuro: LoadingCourse
    maintenance_without_neuro: MaintenanceInterval
    maintenance_with_neuro: MaintenanceInterval
    maintenance_ileal_resection: MaintenanceInterval
    maintenance_bariatric: MaintenanceInterval
    oral_after_loading: OralDose
    oral_bariatric: OralDose
    malabsorption_citations: tuple[str, ...]
    monitoring: Monitoring
    # Below this eGFR (mL/min/1.73m²) an elevated MMA may be renal rather than B12 deficiency.
    egfr_renal_below: Decimal
    egfr_citations: tuple[str, ...]
    # A total B12 above this (pg/mL) is a finding to investigate, not to treat.
    high_b12_above_pg_ml: Decimal
    high_b12_citations: tuple[str, ...]
    # Individualised regimens the plan may set, from daily up to this many months.
    individualised_max_months: int
    individualised_citations: tuple[str, ...]
    # While open-ended (neurological) loading runs, a clinician review is prompted this often.
    neuro_loading_review_days: int
    neuro_loading_review_citations: tuple[str, ...]
    # NICE: first review 1 month after starting in pregnancy or breastfeeding (3 months otherwise).
    pregnancy_first_review_months: int
    citations: dict = field(default_factory=lambda: CITATIONS)

    def identity(self) -> dict:
        return {"id": self.id, "version": self.version}


SEED_2025 = Ruleset(
    id="seed-2025",
    version="1.0.0",
    title="Vitamin B12 injection thresholds and treatment (seed summary, 2025)",
    thresholds=Thresholds(
        total_b12=Bands(
            deficient_below=Decimal("180"),
            not_deficient_above=Decimal("350"),
            unit="pg/mL",
            citations=("afp-2025", "nice-ng239"),
        ),
        # NICE NG239 bands; the seed names active B12 as a first test without numbers.
        active_b12=Bands(
            deficient_below=Decimal("25"),
            not_deficient_above=Decimal("70"),
            unit="pmol/L",
            citations=("nice-ng239", "praxis-replacement-2025"),
        ),
        # No agreed MMA cut-off (0.21–0.47 µmol/L published); the lab's own upper limit wins when given.
        mma_upper_limit_umol_l=Decimal("0.40"),
        mma_citations=("afp-2025", "praxis-replacement-2025", "nice-ng239"),
    ),
    dose_mg=1,
    drug="hydroxocobalamin",
    route="IM",
    ileal_resection_above_cm=Decimal("20"),
    ileal_resection_citations=("droracle-overview-2025", "praxis-injection-2025"),
    bariatric_citations=("praxis-injection-2025",),
    # The seed's route for deficiency (IM), beside the reviews that weigh oral against IM.
    deficiency_im_citations=("afp-2025", "afp-2017"),
    loading_without_neuro=LoadingCourse(
        pattern="three_times_weekly",
        doses_per_week=3,
        weeks=2,
        until="fixed_course",
        citations=(
            "praxis-injection-2025",
            "praxis-replacement-2025",
            "bnf-hydroxocobalamin",
        ),
    ),
    loading_with_neuro=LoadingCourse(
        pattern="alternate_days",
        doses_per_week=None,
        weeks=None,
        until="no_further_improvement",
        citations=(
            "praxis-injection-2025",
            "praxis-replacement-2025",
            "bnf-hydroxocobalamin",
        ),
    ),
    maintenance_without_neuro=MaintenanceInterval(
        2,
        3,
        True,
        ("praxis-injection-2025", "praxis-replacement-2025", "bnf-hydroxocobalamin"),
    ),
    maintenance_with_neuro=MaintenanceInterval(
        2,
        2,
        True,
        ("praxis-injection-2025", "praxis-replacement-2025", "bnf-hydroxocobalamin"),
    ),
    maintenance_ileal_resection=MaintenanceInterval(1, 1, True, ("droracle-overview-2025", "praxis-injection-2025")),
    # The seed gives no end to bariatric prophylaxis; it is lifelong in bariatric aftercare.
    maintenance_bariatric=MaintenanceInterval(3, 3, True, ("praxis-injection-2025", "afp-2017")),
    oral_after_loading=OralDose(1000, 2000, True, ("praxis-injection-2025", "afp-2017")),
    oral_bariatric=OralDose(1000, 1000, False, ("praxis-injection-2025", "afp-2017")),
    malabsorption_citations=("praxis-replacement-2025", "nice-ng239"),
    monitoring=Monitoring(
        every_months_until_stable=3,
        every_months_after_stable=12,
        tests=("serum_b12", "total_homocysteine"),
        homocysteine_target_umol_l=Decimal("10"),
        citations=("praxis-injection-2025",),
    ),
    egfr_renal_below=Decimal("60"),
    egfr_citations=("nice-ng239",),
    high_b12_above_pg_ml=Decimal("1000"),
    high_b12_citations=("afp-2025",),
    individualised_max_months=3,
    individualised_citations=("bnf-hydroxocobalamin", "nice-ng239"),
    neuro_loading_review_days=14,
    neuro_loading_review_citations=("smpc-neo-cytamen", "nice-ng239"),
    pregnancy_first_review_months=1,
)

RULESETS: dict[str, Ruleset] = {SEED_2025.id: SEED_2025}
DEFAULT_RULESET = SEED_2025
