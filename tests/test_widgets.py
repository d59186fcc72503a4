"""Dates are entered and shown day/month/year whatever the browser's locale; ISO is accepted too."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from recommender.web.widgets import DayMonthYearField, DayMonthYearInput

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
