"""The results panel's view model: typed, built once from the decision, rendered by a template partial."""

from __future__ import annotations

import dataclasses
import inspect
import re

import pytest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html as django_format_html

from recommender.clinic import presenters
from recommender.clinic.presenters import CitedLine, DecisionPanel, Measurement, MonitoringPlan, decision_panel
from recommender.guideline import decide, parse_assessment
from recommender.guideline.stored import Decision
from tests.factories import assessment_form, htmx_headers, make_assessment, make_patient

NEURO_SEVERE = {"b12": {"value": 150, "unit": "pg/mL"}, "neurological_involvement": True, "severe": True}


def _panel(payload: dict) -> DecisionPanel:
    return decision_panel(Decision.from_dict(decide(parse_assessment(payload)).as_dict()))


def test_the_panel_is_a_frozen_typed_view_model():
    panel = _panel({**NEURO_SEVERE, "homocysteine": {"value": 12, "unit": "umol/L"}})
    assert dataclasses.is_dataclass(panel)
    with pytest.raises(dataclasses.FrozenInstanceError):
        panel.status = "not_deficient"
    assert panel.status_words == "B12 deficient" and panel.treatment == "im"
    assert all(isinstance(m, Measurement) for m in panel.measurements)
    assert [m.name for m in panel.measurements] == ["Total B12", "Homocysteine"]
    assert all(isinstance(line, CitedLine) and line.code for line in panel.red_flags + panel.cautions + panel.advice)
    assert isinstance(panel.monitoring, MonitoringPlan) and panel.monitoring.citations
    assert [row.css_id for row in panel.regimen] == ["loading-text", "maintenance-text"]


def test_an_indeterminate_result_without_symptoms_has_no_regimen_and_asks_to_consider_mma():
    panel = _panel({"b12": {"value": 150, "unit": "pmol/L"}})
    assert (panel.treatment, panel.regimen, panel.needs_mma) == ("none", (), True)


def test_the_presenters_write_no_html_of_their_own():
    """Only Django's format_html (which honours __html__), and no markup for the panel in Python."""
    source = inspect.getsource(presenters)
    assert presenters.format_html is django_format_html
    assert not re.search(r"<(section|div|dl|dt|dd|ul|li|p|strong|details)\b", source)


def test_sources_are_escaped_by_django_and_keep_their_links():
    html = render_to_string(
        "recommender/_decision.html#sources",
        {"panel": dataclasses.replace(_panel(NEURO_SEVERE), ruleset_id='<b>"x"</b>')},
    )
    assert "<b>" not in html and "&lt;b&gt;&quot;x&quot;&lt;/b&gt;" in html
    assert re.search(r'<li id="cite-nice-ng239"><strong>nice-ng239</strong>', html)


def test_the_live_fragment_and_the_stored_assessment_show_the_same_panel(clinician_client, clinician):
    patient = make_patient(by=clinician)
    path = reverse("assessment-create", args=[patient.pk])
    fragment = clinician_client.post(
        reverse("assessment-preview", args=[patient.pk]), assessment_form(NEURO_SEVERE), headers=htmx_headers(path)
    )
    assert fragment.status_code == 200
    assert isinstance(fragment.context["panel"], DecisionPanel)
    live = fragment.content.decode()
    assert 'id="loading-text"' in live and 'class="alert alert-danger red-flag' in live
    assert '<div id="decision-sources" hx-swap-oob="true"><details class="rationale' in live
    assessment = make_assessment(by=clinician, patient=patient, payload=NEURO_SEVERE)
    page = clinician_client.get(reverse("assessment-detail", args=[assessment.pk])).content.decode()
    panel = re.search(r'<section class="decision".*?</section>', live, re.S).group(0)
    assert panel in page


def test_a_stored_decision_reads_back_as_a_typed_treatment_offer():
    from recommender.guideline.stored import TreatmentOffer

    def treatment_offer(decision: dict):
        return Decision.from_dict(decision).offer()

    im = treatment_offer(decide(parse_assessment(NEURO_SEVERE)).as_dict())
    assert isinstance(im, TreatmentOffer) and not im.pending_mma
    assert (im.loading_pattern, im.min_months, im.max_months, im.lifelong) == ("alternate_days", 2, 2, True)
    assert im.indications == ("deficiency",) and im.first_review_months
    pending = treatment_offer(
        decide(parse_assessment({"b12": {"value": 250, "unit": "pg/mL"}, "neurological_involvement": True})).as_dict()
    )
    assert pending.pending_mma and pending.indications == ("deficiency",) and pending.loading_pattern
    assert treatment_offer(decide(parse_assessment({"b12": {"value": 600, "unit": "pg/mL"}})).as_dict()) is None


def test_an_individualised_plan_started_pending_mma_states_its_guideline_range_in_the_calendar():
    from types import SimpleNamespace

    from recommender.injections.calendars import _maintenance_description

    decision = decide(
        parse_assessment({"b12": {"value": 250, "unit": "pg/mL"}, "neurological_involvement": True})
    ).as_dict()
    plan = SimpleNamespace(
        interval_text="every 4 weeks",
        individualised=True,
        individualised_reason="Symptoms return after 3 weeks.",
        assessment=SimpleNamespace(decided=Decision.from_dict(decision)),
    )
    text = _maintenance_description(plan)
    assert "None" not in text
    assert "The guideline's range for this plan: every 2 months." in text
