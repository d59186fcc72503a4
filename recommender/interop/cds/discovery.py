"""The services this CDS Hooks endpoint offers (CDS Hooks 2.0.1 discovery), with their prefetch templates built
from the one table of LOINC codes the service reads (prefetch.RESULT_CODES)."""

from __future__ import annotations

from dataclasses import dataclass

from recommender.guideline.ruleset import DEFAULT_RULESET
from recommender.interop.cds.prefetch import LOINC, PREFETCH_KEYS, RESULT_CODES

REVIEW = "b12-review"
ORDER_CHECK = "b12-order-check"


def _search(field: str, count: int) -> str:
    codes = ",".join(f"{LOINC}|{code.loinc}" for code in RESULT_CODES if code.field == field)
    return f"Observation?patient={{{{context.patientId}}}}&code={codes}&_sort=-date&_count={count}"


# The latest results by LOINC (a few of each: the service takes the latest final one).
PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    **{key: _search(field, 3) for field, key in PREFETCH_KEYS.items()},
}
_NOT_IN_FHIR = (
    "Neurological involvement, pregnancy, malabsorption, ileal resection, bariatric surgery and folic acid are not "
    "reliably in FHIR data: without them the card says so and links to the full assessment, pre-filled."
)


@dataclass(frozen=True, slots=True)
class Service:
    id: str
    hook: str
    title: str
    description: str

    def as_dict(self) -> dict:
        return {
            "hook": self.hook,
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "prefetch": PREFETCH,
            "usageRequirements": _NOT_IN_FHIR,
        }


_RS = DEFAULT_RULESET
SERVICES = {
    service.id: service
    for service in (
        Service(
            REVIEW,
            "patient-view",
            "Vitamin B12 deficiency: treatment and monitoring",
            "Interprets the latest total B12, active B12, MMA, homocysteine and eGFR results (NICE NG239 bands, or "
            f"the clinic's lab profile) and says whether {_RS.route} {_RS.drug} is indicated and which regimen.",
        ),
        Service(
            ORDER_CHECK,
            "order-sign",
            f"{_RS.drug.capitalize()} order check",
            f"Checks a draft {_RS.drug} MedicationRequest against the regimen the B12 results support (the loading "
            "course, alternate days being accepted as neurological involvement is not in the record, then maintenance "
            "within the guideline's interval).",
        ),
    )
}


def discovery_document() -> dict:
    return {"services": [service.as_dict() for service in SERVICES.values()]}
