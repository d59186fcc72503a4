"""The ruleset's clinical facts in the words the screens, forms and calendars show.

Templates, forms, the ``.ics`` and the OpenAPI take the drug, the dose and the monitoring numbers from here
(and so from the ruleset), never as literals: a ruleset edit shows everywhere at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from recommender.guideline.ruleset import DEFAULT_RULESET, ROUTE_WORDS, Ruleset


def plain_number(value: Decimal | int) -> str:
    """A number as written in prose: 10, 0.4, 1000 (never 1E+3)."""
    return f"{Decimal(value).normalize():f}"


def every_months(months: int) -> str:
    if months == 12:
        return "yearly"
    return "every month" if months == 1 else f"every {months} months"


@dataclass(frozen=True, slots=True)
class RulesetWords:
    drug: str  # "hydroxocobalamin"
    dose: str  # "1 mg"
    route: str  # "intramuscular"
    route_short: str  # "IM"
    homocysteine_target: str  # "10 µmol/L"
    monitoring_until_stable: str  # "every 3 months"
    monitoring_after_stable: str  # "yearly"
    egfr_renal_below: str  # "60"

    @property
    def drug_dose(self) -> str:
        """ "Hydroxocobalamin 1 mg", as the start of a sentence."""
        return f"{self.drug.capitalize()} {self.dose}"

    @property
    def dose_route(self) -> str:
        """ "1 mg IM"."""
        return f"{self.dose} {self.route_short}"


def ruleset_words(ruleset: Ruleset = DEFAULT_RULESET) -> RulesetWords:
    monitoring = ruleset.monitoring
    return RulesetWords(
        drug=ruleset.drug,
        dose=f"{plain_number(ruleset.dose_mg)} mg",
        route=ROUTE_WORDS.get(ruleset.route, ruleset.route),
        route_short=ruleset.route,
        homocysteine_target=f"{plain_number(monitoring.homocysteine_target_umol_l)} µmol/L",
        monitoring_until_stable=every_months(monitoring.every_months_until_stable),
        monitoring_after_stable=every_months(monitoring.every_months_after_stable),
        egfr_renal_below=plain_number(ruleset.egfr_renal_below),
    )


RULESET_WORDS = ruleset_words()
