"""Reads for the CDS Hooks service."""

from __future__ import annotations

import functools
from uuid import UUID

from django.conf import settings
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Upper

from recommender.identifiers import NHS_NUMBER_LENGTH, nhs_number_normalise
from recommender.interop.cds.prefetch import patient_identifiers
from recommender.models import CdsCard, Patient

# Stand-ins for the identifiers while the lookup's SQL is compiled, replaced by the real values in its parameters.
_NHS, _HOSPITAL = "\x00nhs-number\x00", "\x00HOSPITAL-NUMBER\x00"


def _lookup_query(nhs_number: str | None, hospital_number: str | None) -> QuerySet:
    """The clinic's patient with this NHS number, else with this hospital number (any case): its id."""
    nhs_match = Q(nhs_number=nhs_number) if nhs_number is not None else Q(pk__in=[])
    hospital_match = Q(hospital_upper=hospital_number) if hospital_number is not None else Q(pk__in=[])
    first_nhs = Case(When(nhs_match, then=Value(0)), default=Value(1), output_field=IntegerField())
    return (
        Patient.objects.alias(hospital_upper=Upper("hospital_number"))
        .filter(nhs_match | hospital_match)
        .order_by(first_nhs, "pk")
        .values_list("pk", flat=True)[:1]
    )


@functools.cache
def _lookup_sql(by_nhs: bool, by_hospital: bool) -> tuple[str, tuple]:
    """The lookup's SQL and parameters, compiled by the ORM once per kind (with stand-ins for the identifiers):
    compiling it on every call cost more than running it."""
    sql, params = _lookup_query(_NHS if by_nhs else None, _HOSPITAL if by_hospital else None).query.sql_with_params()
    return sql, tuple(params)


def patient_lookup(fhir_patient: object) -> tuple[str, tuple] | None:
    """The id of the clinic's patient the EHR's Patient resource names, as one query (SQL and parameters, not run
    yet): by NHS number, else by hospital number (any case) when B12_FHIR_HOSPITAL_NUMBER_SYSTEM names the EHR's
    identifier system for it. None when the resource names neither."""
    found = patient_identifiers(fhir_patient, getattr(settings, "B12_FHIR_HOSPITAL_NUMBER_SYSTEM", ""))
    nhs_number = nhs_number_normalise(found.get("nhs_number", ""))
    by_nhs = len(nhs_number) == NHS_NUMBER_LENGTH and nhs_number.isascii() and nhs_number.isdigit()
    hospital_number = found.get("hospital_number", "").strip()
    by_hospital = bool(hospital_number) and "\x00" not in hospital_number
    if not (by_nhs or by_hospital):
        return None
    sql, params = _lookup_sql(by_nhs, by_hospital)
    values = {_NHS: nhs_number, _HOSPITAL: hospital_number.upper()}
    return sql, tuple(values.get(param, param) if isinstance(param, str) else param for param in params)


def patient_id(found: object) -> UUID | None:
    """A patient id as the lookup's SQL returns it (a UUID, or its hex on SQLite), as a UUID."""
    return None if found is None else Patient._meta.pk.to_python(found)


def cards_issued(*, client, service: str, ids: list) -> dict:
    """The cards of these ids this client was given by this service, by id (as text)."""
    rows = CdsCard.objects.filter(client=client, service=service, pk__in=ids)
    return {str(card.pk): card for card in rows}
