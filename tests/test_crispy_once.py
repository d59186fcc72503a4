"""Crispy fields of an unbound form are rendered once and reused (issue 14, item 8: crispy stays, made cheap); what
a user typed is never kept, and a change to a field's definition (a new lab profile) shows at once."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from recommender.models import LabProfile
from recommender.templatetags import crispy_once
from recommender.web import layouts

from .factories import assessment_form, make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def pack_renders(monkeypatch):
    """Counts the renders of the template pack's own field template."""
    crispy_once._cache.clear()
    crispy_once._pack_templates.clear()
    layouts._forms.clear()
    calls = []
    original = crispy_once._pack_template

    class Counting:
        def __init__(self, template):
            self.template = template

        def render(self, context):
            calls.append(context.get("field").name)
            return self.template.render(context)

    monkeypatch.setattr(crispy_once, "_pack_template", lambda origin: Counting(original(origin)))
    yield calls
    crispy_once._cache.clear()
    layouts._forms.clear()


def _without_tokens(html: str) -> str:
    return re.sub(r"(csrfmiddlewaretoken\" value=\"|X-CSRFToken\": \"|nonce=\")[^\"]+", r"\1-", html)


def test_second_page_reuses_the_fields_and_is_the_same_html(clinician_client, clinician, pack_renders):
    url = reverse("assessment-create", args=[make_patient(by=clinician).pk])
    first = clinician_client.get(url).content.decode()
    rendered = len(pack_renders)
    assert rendered > 10  # every field of the form went through the pack once
    second = clinician_client.get(url).content.decode()
    assert len(pack_renders) == rendered  # and not again
    assert _without_tokens(second) == _without_tokens(first)
    assert 'name="b12_value"' in second


def test_a_form_shown_again_with_what_was_typed_is_rendered_afresh_and_never_kept(
    clinician_client, clinician, pack_renders
):
    url = reverse("assessment-create", args=[make_patient(by=clinician).pk])
    clinician_client.get(url)
    before = len(crispy_once._cache)
    typed = assessment_form(action="save", b12_value="987.6", sample_date="31/02/2026")
    answer = clinician_client.post(url, typed).content.decode()
    assert "987.6" in answer  # the form shows what was typed, with its error
    assert len(crispy_once._cache) == before
    assert not any("987.6" in html for html in crispy_once._cache.values())
    assert "987.6" not in clinician_client.get(url).content.decode()


def test_a_new_lab_profile_appears_in_the_choices_at_once(clinician_client, clinician, pack_renders):
    url = reverse("assessment-create", args=[make_patient(by=clinician).pk])
    assert "Lab Z assay" not in clinician_client.get(url).content.decode()
    LabProfile.objects.create(name="Lab Z assay")
    assert "Lab Z assay" in clinician_client.get(url).content.decode()


def test_the_cache_is_bounded(clinician_client, clinician, pack_renders, monkeypatch):
    monkeypatch.setattr(crispy_once, "MAX_ENTRIES", 5)
    clinician_client.get(reverse("assessment-create", args=[make_patient(by=clinician).pk]))
    assert len(crispy_once._cache) == 5
