"""Reads for the CDS Hooks service."""

from __future__ import annotations

from uuid import UUID

from django.conf import settings
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from recommender.identifiers import NHS_NUMBER_LENGTH, nhs_number_normalise
from recommender.interop.cds.prefetch import patient_identifiers
from recommender.models import CdsCard, Patient


def patient_lookup(fhir_patient: object) -> QuerySet | None:
    """The id of the clinic's patient the EHR's Patient resource names, as one query (not run yet): by NHS number,
    else by hospital number when B12_FHIR_HOSPITAL_NUMBER_SYSTEM names the EHR's identifier system for it. None
    when the resource names neither."""
    found = patient_identifiers(fhir_patient, getattr(settings, "B12_FHIR_HOSPITAL_NUMBER_SYSTEM", ""))
    nhs_number = nhs_number_normalise(found.get("nhs_number", ""))
    by_nhs = len(nhs_number) == NHS_NUMBER_LENGTH and nhs_number.isascii() and nhs_number.isdigit()
    hospital_number = found.get("hospital_number", "").strip()
    by_hospital = bool(hospital_number) and "\x00" not in hospital_number
    if not (by_nhs or by_hospital):
        return None
    nhs_match = Q(nhs_number=nhs_number) if by_nhs else Q(pk__in=[])
    hospital_match = Q(hospital_number__iexact=hospital_number) if by_hospital else Q(pk__in=[])
    first_nhs = Case(When(nhs_match, then=Value(0)), default=Value(1), output_field=IntegerField())
    return Patient.objects.filter(nhs_match | hospital_match).order_by(first_nhs, "pk").values_list("pk", flat=True)[:1]


def patient_for(fhir_patient: object) -> UUID | None:
    """The id of the clinic's patient the EHR's Patient resource names (``patient_lookup``, run), or None."""
    lookup = patient_lookup(fhir_patient)
    return None if lookup is None else lookup.first()


def cards_issued(*, client, service: str, ids: list) -> dict:
    """The cards of these ids this client was given by this service, by id (as text)."""
    rows = CdsCard.objects.filter(client=client, service=service, pk__in=ids)
    return {str(card.pk): card for card in rows}
