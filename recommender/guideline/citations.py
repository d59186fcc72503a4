"""The sources the ruleset cites. Ids are stable: stored plans refer to them.

Each source says what kind it is and whether its details were checked against the source itself. The seed
summary (an AI-assisted web page "pending human review") cites three web summaries of its own kind: those are
``secondary`` and unverified, and a statement resting on them alone says so (``secondary_only``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

GUIDELINE = "guideline"  # a national guideline, formulary or product licence
REVIEW = "review"  # a peer-reviewed review article
STUDY = "study"  # a peer-reviewed primary study
SECONDARY = "secondary"  # a summary of other sources, not peer reviewed

# The formulary's monograph of the ruleset's drug (its id names the drug).
BNF_MONOGRAPH = "bnf-hydroxocobalamin"


@dataclass(frozen=True, slots=True)
class Citation:
    id: str
    title: str
    source: str
    year: int
    kind: str
    # True when the source is identified in full (body or authors, publication, year) in the project's clinical
    # notes (/work/shared/guideline/README.md) and what is cited to it matches what those notes record of it. The
    # seed's web summaries name no author and could not be traced to what they summarise.
    verified: bool

    @property
    def primary(self) -> bool:
        """A source a clinician can rely on as cited: not a secondary summary, and checked."""
        return self.kind != SECONDARY and self.verified

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "source": self.source,
            "year": self.year,
            "kind": self.kind,
            "verified": self.verified,
        }


_ALL = (
    # The six references of the seed summary, in its own order.
    Citation(
        "afp-2025",
        "Vitamin B12 Deficiency: Common Questions and Answers",
        "American Family Physician (Patel & McGuirk)",
        2025,
        kind=REVIEW,
        verified=True,
    ),
    Citation(
        "praxis-replacement-2025",
        "Vitamin B12 Replacement Therapy",
        "Praxis Medical Insights: Practical Summaries of Clinical Guidelines",
        2025,
        kind=SECONDARY,
        verified=False,
    ),
    Citation(
        "praxis-injection-2025",
        "Vitamin B12 Injection Guidelines",
        "Praxis Medical Insights: Practical Summaries of Clinical Guidelines",
        2025,
        kind=SECONDARY,
        verified=False,
    ),
    Citation(
        "droracle-overview-2025",
        "Guideline Directed Topic Overview",
        "Dr.Oracle Medical Advisory Board & Editors",
        2025,
        kind=SECONDARY,
        verified=False,
    ),
    Citation(
        "afp-2017",
        "Vitamin B12 Deficiency: Recognition and Management",
        "American Family Physician (Langan & Goodbred)",
        2017,
        kind=REVIEW,
        verified=True,
    ),
    Citation(
        "ric-2020",
        "Comparison of Sublingual and Intramuscular Administration of Vitamin B12 "
        "for the Treatment of Vitamin B12 Deficiency in Children",
        "Revista de Investigación Clínica",
        2020,
        kind=STUDY,
        verified=True,
    ),
    # Primary sources behind the seed (shown beside it, never silently changing it).
    Citation(
        "nice-ng239",
        "Vitamin B12 deficiency in over 16s: diagnosis and management (NG239)",
        "National Institute for Health and Care Excellence",
        2024,
        kind=GUIDELINE,
        verified=True,
    ),
    Citation(
        BNF_MONOGRAPH,
        "Hydroxocobalamin (drug monograph)",
        "British National Formulary",
        2021,
        kind=GUIDELINE,
        verified=True,
    ),
    Citation(
        "smpc-neo-cytamen",
        "Neo-Cytamen 1000 micrograms/ml solution for injection: Summary of Product Characteristics",
        "Medicines and Healthcare products Regulatory Agency",
        2021,
        kind=GUIDELINE,
        verified=True,
    ),
    Citation(
        "bsh-2014",
        "Guidelines for the diagnosis and treatment of cobalamin and folate disorders",
        "British Society for Haematology (superseded by NICE NG239)",
        2014,
        kind=GUIDELINE,
        verified=True,
    ),
)

CITATIONS: dict[str, Citation] = {c.id: c for c in _ALL}


def secondary_only(citation_ids: Iterable[str]) -> bool:
    """True when a statement rests only on secondary or unverified sources (and should say so)."""
    return _secondary_only(tuple(citation_ids))


@lru_cache(maxsize=1024)
def _secondary_only(ids: tuple[str, ...]) -> bool:
    # A statement's sources are a handful of fixed tuples: answered once each (the engine asks on every decision).
    return bool(ids) and not any(CITATIONS[c].primary for c in ids)
