"""Issue 13 item 9: control characters refused in free text (batch, reasons, names...) by one rule in the forms'
shared path, with a message naming the field; nothing saved. Tab and line breaks stay allowed."""

from __future__ import annotations

import pytest
from django import forms
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from recommender.access import views as access_views
from recommender.clinic import forms as clinic_forms
from recommender.injections import forms as injections_forms
from recommender.models import DoseRecord, Patient
from recommender.web.plaintext import CONTROL_IN_TEXT, PlainTextForm, PlainTextModelForm

from .factories import make_patient, make_plan
from .test_doses import form_post, record_url

# DEL, C1 (NEL, CSI), bidi override and isolate, line separator, and the C0 controls the old guard knew.
CONTROLS = ["\x7f", "\x85", "\x9b", "\u202e", "\u2066", "\u2028", "\x00", "\x1b"]


@pytest.mark.parametrize("char", CONTROLS)
def test_batch_with_a_control_character_is_refused_naming_the_field(nurse_client, clinician, char):
    plan = make_plan(clinician)
    response = nurse_client.post(record_url(plan), form_post(plan, batch=f"HX{char}2025"))
    assert response.status_code == 200
    assert "“Batch number” contains a control character" in response.content.decode()
    assert not DoseRecord.objects.exists()


@pytest.mark.parametrize("char", CONTROLS)
def test_patient_names_with_a_control_character_are_refused(clinician_client, char):
    data = {
        "hospital_number": "N77",
        "family_name": "Okafor",
        "given_name": f"A{char}da",
        "date_of_birth": "1950-01-01",
    }
    response = clinician_client.post(reverse("patient-create"), data)
    assert response.status_code == 200
    assert "“Given name” contains a control character" in response.content.decode()
    assert not Patient.objects.exists()


def test_a_reason_with_a_bidi_override_is_refused(clinician_client, clinician):
    plan = make_plan(clinician)
    response = clinician_client.post(
        reverse("plan-end", args=[plan.pk]), {"reason": "Moved \u202eaway", "confirm": "on"}, follow=True
    )
    plan.refresh_from_db()
    assert plan.end_reason in ("", None)
    assert "contains a control character" in response.content.decode()


def test_the_admin_still_refuses_control_characters(admin_client_, clinician):
    patient = make_patient(by=clinician)
    url = reverse("admin:recommender_patient_change", args=[patient.pk])
    response = admin_client_.post(url, {"family_name": "X\x7fY"})
    assert response.status_code == 400
    assert "contains a control character" in response.content.decode()


def test_every_form_of_the_app_takes_the_shared_rule():
    found = [
        obj
        for module in (clinic_forms, injections_forms, access_views)
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, forms.BaseForm) and obj.__module__ == module.__name__
    ]
    assert found
    for form_class in found:
        assert issubclass(form_class, (PlainTextForm, PlainTextModelForm)), form_class.__name__


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30))
def test_the_rule_refuses_exactly_the_listed_characters(text):
    class F(PlainTextForm):
        note = forms.CharField(required=False, strip=False)

    form = F({"note": text})
    bad = any(
        (0x00 <= ord(c) <= 0x1F and c not in "\t\n\r")
        or 0x7F <= ord(c) <= 0x9F
        or c in "\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
        for c in text
    )
    assert form.is_valid() is not bad
    assert bool(CONTROL_IN_TEXT.search(text)) is bad
