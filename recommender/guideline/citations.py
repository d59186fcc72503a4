"""The sources the ruleset cites. Ids are stable: stored plans refer to them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Citation:
    id: str
    title: str
    source: str
    year: int

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "source": self.source,
            "year": self.year,
        }


_ALL = (
    # The six references of the seed summary, in its own order.
    Citation(
        "afp-2025",
        "Vitamin B12 Deficiency: Common Questions and Answers",
        "American Family Physician (Patel & McGuirk)",
        2025,
    ),
    Citation(
        "praxis-replacement-2025",
        "Vitamin B12 Replacement Therapy",
        "Praxis Medical Insights: Practical Summaries of Clinical Guidelines",
        2025,
    ),
    Citation(
        "praxis-injection-2025",
        "Vitamin B12 Injection Guidelines",
        "Praxis Medical Insights: Practical Summaries of Clinical Guidelines",
        2025,
    ),
    Citation(
        "droracle-overview-2025",
        "Guideline Directed Topic Overview",
        "Dr.Oracle Medical Advisory Board & Editors",
        2025,
    ),
    Citation(
        "afp-2017",
        "Vitamin B12 Deficiency: Recognition and Management",
        "American Family Physician (Langan & Goodbred)",
        2017,
    ),
    Citation(
        "ric-2020",
        "Comparison of Sublingual and Intramuscular Administration of Vitamin B12 "
        "for the Treatment of Vitamin B12 Deficiency in Children",
        "Revista de Investigación Clínica",
        2020,
    ),
    # Primary sources behind the seed (shown beside it, never silently changing it).
    Citation(
        "nice-ng239",
        "Vitamin B12 deficiency in over 16s: diagnosis and management (NG239)",
        "National Institute for Health and Care Excellence",
        2024,
    ),
    Citation(
        "bnf-hydroxocobalamin",
        "Hydroxocobalamin (drug monograph)",
        "British National Formulary",
        2021,
    ),
    Citation(
        "smpc-neo-cytamen",
        "Neo-Cytamen 1000 micrograms/ml solution for injection: Summary of Product Characteristics",
        "Medicines and Healthcare products Regulatory Agency",
        2021,
    ),
    Citation(
        "bsh-2014",
        "Guidelines for the diagnosis and treatment of cobalamin and folate disorders",
        "British Society for Haematology (superseded by NICE NG239)",
        2014,
    ),
)

CITATIONS: dict[str, Citation] = {c.id: c for c in _ALL}
