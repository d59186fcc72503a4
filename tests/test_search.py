"""The search box in the header of every staff page: hospital number, NHS number, family name, date of birth."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from tests import factories

SEARCH = "/search/"


@pytest.fixture
def ada(clinician):
    return factories.make_patient(
        by=clinician,
        hospital_number="RX7001",
        family_name="Quibble",
        given_name="Ada",
        date_of_birth=date(1951, 3, 14),
        nhs_number="9990000018",
    )


@pytest.fixture
def namesake(clinician):
    return factories.make_patient(
        by=clinician, hospital_number="RX7002", family_name="Quibble", given_name="Bo", date_of_birth=date(1960, 1, 2)
    )


def test_every_staff_page_has_the_search_box(nurse_client):
    for url in (reverse("home"), reverse("worklist"), reverse("patient-list")):
        body = nurse_client.get(url).content.decode()
        assert 'id="header-q"' in body and f'action="{SEARCH}"' in body, url
        assert 'hx-trigger="input changed delay:300ms, search"' in body


def test_signed_out_pages_have_no_search_box(client):
    assert 'id="header-q"' not in client.get(reverse("login")).content.decode()


@pytest.mark.parametrize("typed", ["RX7001", "rx7001", " RX7001 ", "999 000 0018", "9990000018"])
def test_an_exact_hospital_or_nhs_number_goes_straight_to_the_patient(clinician_client, ada, namesake, typed):
    response = clinician_client.get(SEARCH, {"q": typed})
    assert response.status_code == 302
    assert response["Location"] == reverse("patient-detail", args=[ada.pk])


def test_a_family_name_lists_every_match_without_javascript(clinician_client, ada, namesake):
    response = clinician_client.get(SEARCH, {"q": "quibble"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "QUIBBLE, Ada" in body and "QUIBBLE, Bo" in body
    assert "14 Mar 1951" in body


@pytest.mark.parametrize("typed", ["14/3/1951", "14/03/1951", "1951-03-14", "quibble 14/3/1951"])
def test_a_date_of_birth_finds_the_patient(clinician_client, ada, namesake, typed):
    body = clinician_client.get(SEARCH, {"q": typed}).content.decode()
    assert "QUIBBLE, Ada" in body and "QUIBBLE, Bo" not in body


def test_a_hospital_number_prefix_lists_rather_than_jumps(clinician_client, ada, namesake):
    response = clinician_client.get(SEARCH, {"q": "RX700"})
    assert response.status_code == 200
    assert "QUIBBLE, Ada" in response.content.decode() and "QUIBBLE, Bo" in response.content.decode()


def test_live_results_are_a_fragment_and_never_a_redirect(clinician_client, ada):
    response = clinician_client.get(SEARCH, {"q": "RX7001"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body and "QUIBBLE, Ada" in body
    assert reverse("patient-detail", args=[ada.pk]) in body
    assert "Vary" in response and "HX-Request" in response["Vary"]


def test_no_match_says_so(clinician_client, ada):
    body = clinician_client.get(SEARCH, {"q": "Zzyzx"}).content.decode()
    assert "No patient matches “Zzyzx”" in body


@pytest.mark.parametrize("typed", ["", "   ", "x" * 5000])
def test_odd_input_is_a_page_not_an_error(clinician_client, ada, typed):
    assert clinician_client.get(SEARCH, {"q": typed}).status_code == 200


def test_search_needs_a_signed_in_user_who_may_see_patients(client, django_user_model):
    assert client.get(SEARCH, {"q": "RX7001"}).status_code == 302  # to the sign-in page
    client.force_login(django_user_model.objects.create_user(username="norole", password="x"))
    assert client.get(SEARCH, {"q": "RX7001"}).status_code == 403
