"""Reads for the CDS Hooks service."""

from __future__ import annotations

from uuid import UUID

from django.conf import settings

from recommender.identifiers import NHS_NUMBER_LENGTH, nhs_number_normalise
from recommender.interop.cds.prefetch import patient_identifiers
from recommender.models import CdsCard, Patient


def patient_for(fhir_patient: object) -> UUID | None:
    """The id of the clinic's patient the EHR's Patient resource names: by NHS number, else by hospital number when
    B12_FHIR_HOSPITAL_NUMBER_SYSTEM names the EHR's identifier system for it."""
    found = patient_identifiers(fhir_patient, getattr(settings, "B12_FHIR_HOSPITAL_NUMBER_SYSTEM", ""))
    nhs_number = nhs_number_normalise(found.get("nhs_number", ""))
    if len(nhs_number) == NHS_NUMBER_LENGTH and nhs_number.isascii() and nhs_number.isdigit():
        patient_id = Patient.objects.filter(nhs_number=nhs_number).values_list("pk", flat=True).first()
        if patient_id is not None:
            return patient_id
    hospital_number = found.get("hospital_number", "").strip()
    if hospital_number and "\x00" not in hospital_number:
        return Patient.objects.filter(hospital_number__iexact=hospital_number).values_list("pk", flat=True).first()
    return None


def cards_issued(*, client, service: str, ids: list) -> dict:
    """The cards of these ids this client was given by this service, by id (as text)."""
    rows = CdsCard.objects.filter(client=client, service=service, pk__in=ids)
    return {str(card.pk): card for card in rows}
