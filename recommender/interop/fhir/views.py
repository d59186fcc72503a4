"""FHIR R4 endpoints under /fhir/r4/: the CapabilityStatement, Patient/$everything, read by id, and lab results
received as a Bundle. An API token (Bearer) or a session, with the pages' roles; every read of a patient's record
leaves an AccessRecord; log lines name the interaction and the account, never the patient."""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from recommender.access import services as access_services
from recommender.access.audit import access_record
from recommender.interop.fhir import reads, resources, selectors, services
from recommender.models import AccessRecord, AccessToken
from recommender.roles import has_clinical_role
from recommender.web.jsonbody import BodyTooLarge, DuplicateKey, read_json

log = logging.getLogger("recommender.fhir")

FHIR_JSON = "application/fhir+json"
SOFTWARE_VERSION = "0.1.0"
# What each resource type needs: the permissions of the pages that show the same rows.
NEEDS = {
    "Patient": ("recommender.view_patient",),
    "Observation": ("recommender.view_assessment",),
    "CarePlan": ("recommender.view_treatmentplan",),
    "MedicationRequest": ("recommender.view_treatmentplan",),
    "MedicationAdministration": ("recommender.view_doserecord",),
}
EVERYTHING_NEEDS = tuple(sorted({perm for perms in NEEDS.values() for perm in perms}))
IMPORT_NEEDS = ("recommender.add_assessment",)


def _respond(resource, status: int = 200, *, interaction: str, user=None) -> HttpResponse:
    username = user.get_username() if user is not None and user.is_authenticated else "-"
    log.info("fhir %s status=%s user=%s", interaction, status, username)
    return HttpResponse(resources.as_json(resource), status=status, content_type=FHIR_JSON)


def _outcome(status: int, code: str, text: str, *, interaction: str, user=None, where: str | None = None):
    outcome = resources.operation_outcome([(code, text, where)])
    return _respond(outcome, status, interaction=interaction, user=user)


def _user(request: HttpRequest):
    """(the account, whether it came with a bearer token): the session's user, else a live API token's, else None."""
    if request.user.is_authenticated:
        return request.user, False
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return access_services.access_token_use(raw=raw.strip(), purpose=AccessToken.Purpose.API), True
    return None, False


def _refused(user, needs: tuple[str, ...], *, interaction: str) -> HttpResponse | None:
    if user is None:
        response = _outcome(
            401, "login", "Sign in, or send an API token as 'Authorization: Bearer <token>'.", interaction=interaction
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="b12"'
        return response
    if not has_clinical_role(user) or not user.has_perms(needs):
        text = "This account's role may not see this: ask an admin for a clinical role."
        return _outcome(403, "forbidden", text, interaction=interaction, user=user)
    return None


def _method_refused(request: HttpRequest, allowed: str, *, interaction: str, user=None) -> HttpResponse | None:
    if request.method == allowed or (allowed == "GET" and request.method == "HEAD"):
        return None
    response = _outcome(405, "not-supported", f"Use {allowed}.", interaction=interaction, user=user)
    response.headers["Allow"] = allowed
    return response


@login_not_required  # a client reads the CapabilityStatement before it signs in: it holds no patient data
@never_cache
def metadata(request: HttpRequest) -> HttpResponse:
    if (refused := _method_refused(request, "GET", interaction="metadata")) is not None:
        return refused
    base = request.build_absolute_uri("/fhir/r4/")
    statement = resources.capability_statement(base=base, software_version=SOFTWARE_VERSION)
    return _respond(statement, interaction="metadata")


@csrf_exempt  # read-only
@login_not_required  # answers 401 as an OperationOutcome rather than redirecting to the login page
@never_cache
def everything(request: HttpRequest, patient_id: str) -> HttpResponse:
    user, _ = _user(request)
    interaction = "Patient/$everything"
    if (refused := _refused(user, EVERYTHING_NEEDS, interaction=interaction)) is not None:
        return refused
    if (refused := _method_refused(request, "GET", interaction=interaction, user=user)) is not None:
        return refused
    record = selectors.patient_record(patient_id=patient_id)
    if record is None:
        return _outcome(404, "not-found", "No patient with this id.", interaction=interaction, user=user)
    bundle = resources.everything_bundle(record, base=request.build_absolute_uri("/fhir/r4/"))
    access_record(patient_id=record.patient.pk, what=AccessRecord.What.FHIR, request=request, user=user)
    return _respond(bundle, interaction=interaction, user=user)


@csrf_exempt  # read-only
@login_not_required
@never_cache
def read(request: HttpRequest, resource_type: str, resource_id: str) -> HttpResponse:
    user, _ = _user(request)
    interaction = f"{resource_type if resource_type in NEEDS else 'unknown'}/read"
    needs = NEEDS.get(resource_type, EVERYTHING_NEEDS)
    if (refused := _refused(user, needs, interaction=interaction)) is not None:
        return refused
    if (refused := _method_refused(request, "GET", interaction=interaction, user=user)) is not None:
        return refused
    if resource_type not in NEEDS:
        text = f"This server serves {', '.join(NEEDS)} (see /fhir/r4/metadata)."
        return _outcome(404, "not-supported", text, interaction=interaction, user=user)
    found = reads.resource_by_id(kind=resource_type, resource_id=resource_id)
    if found is None:
        return _outcome(404, "not-found", f"No {resource_type} with this id.", interaction=interaction, user=user)
    resource, patient_id = found
    access_record(patient_id=patient_id, what=AccessRecord.What.FHIR, request=request, user=user)
    return _respond(resource, interaction=interaction, user=user)


def _csrf_refused(request: HttpRequest) -> bool:
    """A session's POST needs the CSRF token, as a form's would; a bearer token is not sent by a browser by itself."""
    return CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {}) is not None


@csrf_exempt  # checked below for sessions; bearer tokens need none
@login_not_required
@never_cache
def bundle_import(request: HttpRequest) -> HttpResponse:
    user, bearer = _user(request)
    interaction = "Bundle/import"
    if (refused := _refused(user, IMPORT_NEEDS, interaction=interaction)) is not None:
        return refused
    if (refused := _method_refused(request, "POST", interaction=interaction, user=user)) is not None:
        return refused
    if not bearer and _csrf_refused(request):
        return _outcome(403, "security", "A signed-in session posts with its CSRF token.", interaction=interaction)
    try:
        payload = read_json(request)
    except BodyTooLarge as too_large:
        return _outcome(413, "too-costly", str(too_large), interaction=interaction, user=user)
    except DuplicateKey as duplicate:
        return _outcome(400, "structure", str(duplicate), interaction=interaction, user=user)
    except (ValueError, RecursionError):
        return _outcome(400, "structure", "The request body is not valid JSON.", interaction=interaction, user=user)
    try:
        imported = services.result_import_create(payload=payload, by=user)
    except services.BundleRefused as refused:
        outcome = resources.operation_outcome(refused.issues)
        return _respond(outcome, refused.status, interaction=interaction, user=user)
    link = request.build_absolute_uri(
        reverse("assessment-create", kwargs={"patient_id": imported.patient_id}) + f"?import={imported.pk}"
    )
    text = f"Results received. A clinician completes the clinical picture and saves the assessment at {link}"
    outcome = resources.operation_outcome([("informational", text, None)], severity="information")
    response = _respond(outcome, 201, interaction=interaction, user=user)
    response.headers["Location"] = link
    return response
