"""Reminder pages: a patient's contact details, consent and reminders (clinicians and nurses, audited), and the
staff list of reminders that could not be sent."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from recommender.access.audit import audited
from recommender.models import AccessRecord, Patient
from recommender.web.http import HtmxHttpRequest, add_errors, can

from . import selectors, services
from .forms import ContactPreferenceForm


@require_GET
@permission_required("recommender.view_contactpreference", raise_exception=True)
@audited(AccessRecord.What.CONTACT)
def patient_contact(request: HtmxHttpRequest, patient_id) -> HttpResponse:
    patient = get_object_or_404(Patient, pk=patient_id)
    return render(
        request,
        "recommender/reminders/contact.html",
        {
            "patient": patient,
            "contact": selectors.patient_contact(patient=patient),
            "sends": selectors.patient_sends(patient=patient),
            "can_edit": can(request, "change_contactpreference"),
        },
    )


@require_http_methods(["GET", "POST"])
@permission_required(
    ["recommender.add_contactpreference", "recommender.change_contactpreference"], raise_exception=True
)
@audited(AccessRecord.What.CONTACT)
def patient_contact_edit(request: HtmxHttpRequest, patient_id) -> HttpResponse:
    patient = get_object_or_404(Patient, pk=patient_id)
    contact = selectors.patient_contact(patient=patient)
    initial = (
        {"consent": contact.consent, "email": contact.email, "mobile": contact.mobile, "window": contact.window}
        if contact
        else {"consent": "none", "window": "any"}
    )
    form = ContactPreferenceForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.contact_preference_save(patient=patient, **form.cleaned_data, by=request.user)
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, "Contact details and reminder choices saved.")
            return redirect("patient-contact", patient_id=patient.pk)
    return render(request, "recommender/reminders/contact_form.html", {"patient": patient, "form": form})


@require_GET
@permission_required(["recommender.view_remindersend", "recommender.view_contactpreference"], raise_exception=True)
def reminders_failed(request: HtmxHttpRequest) -> HttpResponse:
    unconfirmed = selectors.sends_stuck(before=timezone.now() - selectors.SENDING_CONFIRMED_WITHIN)
    return render(
        request,
        "recommender/reminders/failed.html",
        {"sends": selectors.sends_failed(), "unconfirmed": unconfirmed.select_related("patient")},
    )
