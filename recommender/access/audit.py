"""The access audit: every look at a patient's record leaves an AccessRecord (who, when, which patient, what, from
where). Views say so with ``@audited(AccessRecord.What.…)``; exports call ``access_record`` themselves.

The log line it writes names the record's id and the account, never the patient."""

from __future__ import annotations

import functools
import logging
from uuid import UUID

from django.db.models import Subquery

from ..models import AccessRecord, Assessment, ContactAttempt, DoseRecord, TreatmentPlan
from ..records import insert_one
from ..web.requests import client_ip

log = logging.getLogger("recommender.access")


def access_record(
    *, patient_id: UUID | Subquery, what: str, request=None, user=None, username: str = ""
) -> AccessRecord:
    """Record one look at one patient's record. ``request`` gives the user, the client address and the request id;
    without one (the management command) ``username`` says who."""
    if request is not None:
        user = user or request.user
    record = AccessRecord(
        user=user if user is not None and user.is_authenticated else None,
        username=username or (user.get_username() if user is not None else ""),
        patient_id=patient_id,
        what=what,
        ip=client_ip(request) if request is not None else None,
        request_id=getattr(request, "id", "") if request is not None else "",
    )
    # One INSERT per page view: the foreign keys are checked by the database, not by a query each. A patient
    # named by a subquery (a plan's, an assessment's) goes through the ORM; an id, through the INSERT compiled once.
    record.full_clean(exclude=["user", "patient"])
    if isinstance(patient_id, Subquery):
        record.save()
    else:
        insert_one(record)
    log.info("access recorded what=%s record=%s user=%s", what, record.pk, record.username)
    return record


def patient_id_of(instance) -> UUID:
    """The patient a clinical record belongs to."""
    if isinstance(instance, DoseRecord):
        return instance.plan.patient_id
    if isinstance(instance, Assessment | TreatmentPlan | ContactAttempt):
        return instance.patient_id
    return instance.pk


def names_patient(request, patient_id: UUID) -> None:
    """An audited view that read the record its URL names (a plan, an assessment) says whose it is: the access is
    then recorded with the patient's id, rather than with a subquery for it (which the ORM compiles every time)."""
    request.audited_patient_id = patient_id


def _patient_from_url(request, kwargs) -> UUID | Subquery | None:
    """The patient the URL names: as the view named it, else as an id or as a subquery the INSERT runs."""
    named = getattr(request, "audited_patient_id", None)
    if named is not None:
        return named
    if "patient_id" in kwargs:
        return kwargs["patient_id"]
    for key, model in (("assessment_id", Assessment), ("plan_id", TreatmentPlan)):
        if key in kwargs:
            return Subquery(model.objects.filter(pk=kwargs[key]).values("patient_id")[:1])
    return None


def audited(what: str):
    """A view decorator: a successful GET of the view is recorded as ``what`` for the patient its URL names
    (``patient_id``, ``assessment_id`` or ``plan_id``). Place it below the permission decorators, so that only a
    view that actually answered is recorded."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            response = view(request, *args, **kwargs)
            if request.method in ("GET", "HEAD") and 200 <= response.status_code < 300:
                patient_id = _patient_from_url(request, kwargs)
                if patient_id is not None:
                    access_record(patient_id=patient_id, what=what, request=request)
            return response

        return wrapper

    return decorator
