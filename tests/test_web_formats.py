"""The cheap formats long lists use say exactly what Django's date filter and url tag say."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from django.template import Context, Template
from django.urls import reverse
from django.utils.dateformat import format as date_format
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.web import formats

dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31))


@given(day=dates, this_year=st.integers(1900, 2200))
def test_clinic_date_is_djangos_with_the_year_only_in_another_year(day, this_year):
    expected = date_format(day, "D d M" if day.year == this_year else "D d M Y")
    assert formats.clinic_date(day, this_year=this_year) == expected


@given(day=dates)
def test_a_date_of_birth_always_has_its_year(day):
    assert formats.clinic_dob(day) == date_format(day, "d M Y")


@settings(deadline=None)  # the first call loads the URLconf
@given(pk=st.uuids())
def test_a_url_for_each_row_is_the_url_reverse_gives(pk: uuid.UUID):
    for name in ("plan-detail", "dose-record", "patient-detail", "recall-dna"):
        assert formats.url_for_each(name)(pk) == reverse(name, args=[pk])


@given(day=dates)
def test_a_weekday_date_is_djangos(day):
    assert formats.weekday_date(day) == date_format(day, "D d M Y")


@settings(deadline=None)
@given(moment=st.datetimes(min_value=datetime(1950, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)))
def test_the_template_filters_say_what_the_date_filter_says_of_dates_and_moments(moment):
    """An aware moment is shown on its day in the clinic's time zone, as Django's date filter shows it."""
    rendered = Template(
        '{% load clinic %}{{ m|day_month_year }}|{{ m|date:"d M Y" }}|{{ m|weekday_date }}|{{ m|date:"D d M Y" }}|'
        '{{ d|day_month_year }}|{{ d|date:"d M Y" }}'
    ).render(Context({"m": moment, "d": moment.date()}))
    ours_moment, django_moment, ours_weekday, django_weekday, ours_day, django_day = rendered.split("|")
    assert (ours_moment, ours_weekday, ours_day) == (django_moment, django_weekday, django_day)


@given(text=st.text())
def test_html_text_prints_what_autoescaping_prints(text: str):
    """Text escaped once by the presenter prints exactly as the template would have escaped it, never twice."""
    template = Template("{{ value }}|{{ value|lower }}")
    assert template.render(Context({"value": formats.html_text(text)})) == template.render(Context({"value": text}))


@given(pk=st.uuids())
def test_a_url_for_each_row_is_printed_as_the_url_tag_prints_it(pk: uuid.UUID):
    url = formats.url_for_each("plan-detail")(pk)
    printed = Template("{% url 'plan-detail' pk %}|{{ url }}").render(Context({"pk": pk, "url": url}))
    assert printed == f"{url}|{url}"


def test_a_template_row_is_read_by_key_as_by_attribute():
    from dataclasses import dataclass

    @dataclass(frozen=True, slots=True)
    class Row(formats.TemplateRow):
        name: str
        note: str = "<b>"

    row = Row("O'Brien")
    assert row["name"] == row.name
    assert Template("{{ row.name }} {{ row.note }} [{{ row.missing }}]").render(Context({"row": row})) == (
        "O&#x27;Brien &lt;b&gt; []"
    )
