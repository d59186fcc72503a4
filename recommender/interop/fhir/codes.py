"""The codes the FHIR resources carry (checked in /work/shared/fhir/README.md): LOINC by result and unit, UCUM
units, SNOMED sites, interpretation and identifier systems. Imports map codes through FhirCodeMapping instead."""

from __future__ import annotations

from django.conf import settings

from recommender.guideline.inputs import EGFR_UNIT
from recommender.guideline.units import NG_PER_L, NMOL_PER_L, PG_PER_ML, PMOL_PER_L, UMOL_PER_L

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
INTERPRETATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
OBSERVATION_CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"

# The engine's units → UCUM codes (the engine's spelling of eGFR's unit is for people).
UCUM_OF = {
    PG_PER_ML: "pg/mL",
    NG_PER_L: "ng/L",
    PMOL_PER_L: "pmol/L",
    UMOL_PER_L: "umol/L",
    NMOL_PER_L: "nmol/L",
    EGFR_UNIT: "mL/min/{1.73_m2}",
}

_B12_MASS = ("2132-9", "Cobalamin (Vitamin B12) [Mass/volume] in Serum or Plasma")
# (assessment input, engine unit) → (LOINC code, display). Total B12 is coded by its unit: mass or moles.
LOINC_OF = {
    ("b12", PG_PER_ML): _B12_MASS,
    ("b12", NG_PER_L): _B12_MASS,
    ("b12", PMOL_PER_L): ("14685-2", "Cobalamin (Vitamin B12) [Moles/volume] in Serum or Plasma"),
    ("active_b12", PMOL_PER_L): ("72160-5", "Holotranscobalamin [Moles/volume] in Serum or Plasma"),
    ("mma", UMOL_PER_L): ("13964-2", "Methylmalonate [Moles/volume] in Serum or Plasma"),
    ("mma", NMOL_PER_L): ("13964-2", "Methylmalonate [Moles/volume] in Serum or Plasma"),
    ("homocysteine", UMOL_PER_L): ("13965-9", "Homocysteine [Moles/volume] in Serum or Plasma"),
    ("egfr", EGFR_UNIT): ("98979-8", "Glomerular filtration rate/1.73 sq M.predicted (CKD-EPI 2021)"),
}
# The order results are listed in, and the id suffix of each one's Observation ("<assessment id>-b12").
RESULT_SUFFIX = {"b12": "b12", "active_b12": "active-b12", "mma": "mma", "homocysteine": "homocysteine", "egfr": "egfr"}
INPUT_OF_SUFFIX = {suffix: name for name, suffix in RESULT_SUFFIX.items()}

# Sites with a verified SNOMED CT code (left / right upper arm); the others go as text only.
SITE_SNOMED = {
    "left_deltoid": ("368208006", "Left upper arm structure"),
    "right_deltoid": ("368209003", "Right upper arm structure"),
}


def hospital_number_system() -> str:
    """The hospital's identifier system (a setting: each trust has its own)."""
    return getattr(settings, "B12_FHIR_HOSPITAL_NUMBER_SYSTEM", "") or "urn:b12:hospital-number"


def ruleset_canonical(ruleset_id: str, version: str) -> str:
    """The ruleset as a canonical reference with its version (CarePlan.instantiatesCanonical)."""
    base = getattr(settings, "B12_FHIR_RULESET_CANONICAL_BASE", "") or "urn:b12:ruleset"
    return f"{base}:{ruleset_id}|{version}"
