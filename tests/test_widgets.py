"""Dates are entered and shown day/month/year whatever the browser's locale; ISO is accepted too. Blank forms
rendered once print what the form prints."""

from datetime import date

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.template import Context, Template
from hypothesis import given
from hypothesis import strategies as st

from recommender.clinic.forms import MarkStableForm, PlanEndForm
from recommender.web.widgets import DayMonthYearField, DayMonthYearInput, blank_form

DATES = st.dates(min_value=date(1900, 1, 1), max_value=date(2999, 12, 31))


@given(DATES)
def test_a_date_shown_reads_back_as_the_same_date(day):
    field = DayMonthYearField()
    shown = DayMonthYearInput().format_value(day)
    assert shown == f"{day:%d/%m/%Y}"
    assert field.clean(shown) == day
    assert field.clean(day.isoformat()) == day


def test_day_first_never_month_first():
    assert DayMonthYearField().clean("03/04/2026") == date(2026, 4, 3)


def test_an_impossible_date_is_refused_with_the_format():
    with pytest.raises(ValidationError) as refused:
        DayMonthYearField().clean("31/02/2026")
    assert "day/month/year" in " ".join(refused.value.messages)


@pytest.mark.parametrize("form_class", [PlanEndForm, MarkStableForm])
def test_a_blank_form_rendered_once_prints_what_the_form_itself_prints(form_class):
    form, blank = form_class(), blank_form(form_class)
    assert set(blank) == set(form.fields)
    for name in form.fields:
        assert str(blank[name]) == str(form[name])
        assert Template("{{ f." + name + " }}").render(Context({"f": blank})) == str(form[name])
        assert (blank[name].auto_id, blank[name].label, blank[name].help_text) == (
            form[name].auto_id,
            form[name].label,
            form[name].help_text,
        )
    assert blank_form(form_class) is blank  # rendered once


def test_a_form_with_initial_values_is_not_rendered_once():
    class WithInitial(forms.Form):
        on = forms.DateField(initial=date(2026, 1, 1))

    with pytest.raises(ValueError, match="initial values"):
        blank_form(WithInitial)
