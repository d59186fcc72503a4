"""Positive patient identification (issue 10, item 9) and plausible plan dates (item 10): the NHS number and its
check digit, dates of birth, search by date of birth and NHS number, clinicians' corrections with history, dates
that carry their year, and plan start dates within the clinic's window."""

from __future__ import annotations

import importlib
import re
from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from recommender.clinic import services as clinic_services
from recommender.identifiers import age_on, nhs_number_display, nhs_number_is_valid
from recommender.models import Patient, TreatmentPlan
from recommender.templatetags.clinic import clinic_date
from tests.factories import (
    DEFICIENT,
    make_assessment,
    make_location,
    make_patient,
    make_plan,
    save_with_plan,
)
from tests.test_views_clinician import assert_field_error_shown

VALID_NHS = "9434765919"  # the NHS's own example number
OTHER_VALID_NHS = "4010232137"


def new_patient_form(**overrides) -> dict:
    data = {"hospital_number": "RX7001", "family_name": "Okafor", "given_name": "Ada", "date_of_birth": "1948-05-17"}
    return data | overrides


def weighted_check(first_nine: str) -> int:
    """Modulus 11 written out the long way, for the property below: weights 10 down to 2, 11 − remainder."""
    total = sum(int(first_nine[i]) * (10 - i) for i in range(9))
    return (11 - total % 11) % 11


# The NHS number's check digit -------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", [VALID_NHS, OTHER_VALID_NHS, "1234567881"])
def test_a_valid_nhs_number_passes(number):
    assert nhs_number_is_valid(number)


@pytest.mark.parametrize(
    "number",
    [
        pytest.param("9434765918", id="wrong-check-digit"),
        pytest.param("9434765910", id="check-digit-0-instead-of-9"),
        pytest.param("1234567890", id="check-would-be-10"),
        pytest.param("943476591", id="nine-digits"),
        pytest.param("94347659190", id="eleven-digits"),
        pytest.param("943476591X", id="a-letter"),
        pytest.param("９４３４７６５９１９", id="full-width-digits"),
        pytest.param("", id="empty"),
    ],
)
def test_an_invalid_nhs_number_fails(number):
    assert not nhs_number_is_valid(number)


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_exactly_one_check_digit_completes_nine_digits_unless_the_check_is_10(first_nine):
    passing = [d for d in "0123456789" if nhs_number_is_valid(first_nine + d)]
    check = weighted_check(first_nine)
    assert passing == ([] if check == 10 else [str(check)])


@given(
    st.text(alphabet="0123456789", min_size=9, max_size=9).filter(lambda p: weighted_check(p) != 10),
    st.integers(0, 9),
    st.integers(1, 9),
)
def test_any_single_mistyped_digit_is_caught(first_nine, position, shift):
    number = first_nine + str(weighted_check(first_nine))
    typo = number[:position] + str((int(number[position]) + shift) % 10) + number[position + 1 :]
    assert nhs_number_is_valid(number)
    assert not nhs_number_is_valid(typo)


def test_an_nhs_number_is_shown_in_groups_of_3_3_4():
    assert nhs_number_display(VALID_NHS) == "943 476 5919"


# Registering: NHS number and date of birth ------------------------------------------------------------------------


def test_an_nhs_number_typed_in_groups_is_stored_as_digits_and_shown_grouped(clinician_client):
    response = clinician_client.post(reverse("patient-create"), new_patient_form(nhs_number=" 943 476 5919 "))
    assert response.status_code == 302
    patient = Patient.objects.get(hospital_number="RX7001")
    assert patient.nhs_number == VALID_NHS
    page = clinician_client.get(response["Location"]).content.decode()
    banner = re.search(r'<div class="patient-banner.*?</div>', page, re.S).group(0)
    assert "NHS no. <strong>943 476 5919</strong>" in banner


@pytest.mark.parametrize(
    ("nhs_number", "message"),
    [
        pytest.param("943 476 5918", "not a valid NHS number", id="check-digit"),
        pytest.param("94347", "not a valid NHS number", id="too-short"),
    ],
)
def test_an_invalid_nhs_number_is_a_field_error_and_nothing_is_saved(clinician_client, nhs_number, message):
    response = clinician_client.post(reverse("patient-create"), new_patient_form(nhs_number=nhs_number))
    assert response.status_code == 200
    assert_field_error_shown(response, "nhs_number", message)
    assert not Patient.objects.exists()


def test_an_nhs_number_belongs_to_one_patient(clinician_client, clinician):
    make_patient(by=clinician, nhs_number=VALID_NHS)
    response = clinician_client.post(reverse("patient-create"), new_patient_form(nhs_number="9434765919"))
    assert response.status_code == 200
    assert_field_error_shown(response, "nhs_number", "already exists")
    assert Patient.objects.count() == 1
    with pytest.raises(ValidationError) as refused:
        make_patient(by=clinician, nhs_number="943-476-5919")
    assert "nhs_number" in refused.value.message_dict


def test_patients_without_an_nhs_number_do_not_collide(clinician_client):
    for number in ("RX7001", "RX7002"):
        response = clinician_client.post(reverse("patient-create"), new_patient_form(hospital_number=number))
        assert response.status_code == 302
    assert list(Patient.objects.values_list("nhs_number", flat=True)) == [None, None]


@pytest.mark.parametrize(
    ("born", "message"),
    [
        pytest.param("1899-12-31", "cannot be before 01 Jan 1900", id="before-1900"),
        pytest.param("0201-05-17", "cannot be before 01 Jan 1900", id="year-201"),
    ],
)
def test_a_date_of_birth_before_1900_is_a_field_error(clinician_client, clinician, born, message):
    response = clinician_client.post(reverse("patient-create"), new_patient_form(date_of_birth=born))
    assert response.status_code == 200
    assert_field_error_shown(response, "date_of_birth", message)
    assert not Patient.objects.exists()
    with pytest.raises(ValidationError) as refused:  # every front door: the service refuses it too
        make_patient(by=clinician, date_of_birth=date.fromisoformat(born))
    assert "date_of_birth" in refused.value.message_dict


def test_1_january_1900_is_accepted(clinician_client):
    response = clinician_client.post(reverse("patient-create"), new_patient_form(date_of_birth="1900-01-01"))
    assert response.status_code == 302
    assert Patient.objects.get().date_of_birth == date(1900, 1, 1)


@pytest.mark.parametrize(
    ("born", "on", "years"),
    [
        (date(1950, 5, 17), date(2026, 5, 16), 75),
        (date(1950, 5, 17), date(2026, 5, 17), 76),
        (date(2000, 2, 29), date(2025, 2, 28), 24),
        (date(2000, 2, 29), date(2025, 3, 1), 25),
    ],
)
def test_age_counts_completed_years(born, on, years):
    assert age_on(born, on) == years


# Search by date of birth and NHS number ---------------------------------------------------------------------------


@pytest.fixture
def registry(clinician):
    return {
        "okafor": make_patient(
            by=clinician,
            hospital_number="RX7001",
            family_name="Okafor",
            given_name="Ada",
            date_of_birth=date(1948, 5, 17),
            nhs_number=VALID_NHS,
        ),
        "okafor_junior": make_patient(
            by=clinician,
            hospital_number="RX7002",
            family_name="Okafor",
            given_name="Ben",
            date_of_birth=date(1975, 3, 2),
            nhs_number=OTHER_VALID_NHS,
        ),
        "same_birthday": make_patient(
            by=clinician,
            hospital_number="QX1001",
            family_name="Smith",
            given_name="Cara",
            date_of_birth=date(1948, 5, 17),
        ),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("17/05/1948", {"okafor", "same_birthday"}),
        ("1948-05-17", {"okafor", "same_birthday"}),
        ("17/5/1948", {"okafor", "same_birthday"}),
        ("okafor 17/05/1948", {"okafor"}),
        ("02/03/1975", {"okafor_junior"}),
        ("03/02/1975", set()),  # day first, as written in the UK
        ("9434765919", {"okafor"}),
        ("943 476 5919", {"okafor"}),
        ("401 023 2137", {"okafor_junior"}),
        ("943 476 5918", set()),
        ("31/02/1948", set()),  # not a date: searched as a name, which matches no one
    ],
)
def test_patient_search_by_date_of_birth_and_nhs_number(clinician_client, registry, query, expected):
    response = clinician_client.get(reverse("patient-list"), {"q": query})
    assert response.status_code == 200
    found = {key for key, patient in registry.items() if patient in response.context["patients"]}
    assert found == expected
    page = response.content.decode()
    if expected:
        assert "17 May 1948" in page or "02 Mar 1975" in page
    if "okafor" in expected:
        assert "943 476 5919" in page


# Clinicians correct demographics, with a reason and history -------------------------------------------------------


def edit_form(patient: Patient, **overrides) -> dict:
    data = {
        "hospital_number": patient.hospital_number,
        "family_name": patient.family_name,
        "given_name": patient.given_name,
        "date_of_birth": patient.date_of_birth.isoformat(),
        "nhs_number": patient.nhs_number or "",
        "usual_location": patient.usual_location_id or "",
        "reason": "Checked against the hospital record.",
    }
    return data | overrides


def test_a_clinician_corrects_the_name_and_date_of_birth_and_the_history_keeps_both(clinician_client, clinician):
    patient = make_patient(by=clinician, family_name="Okafr", given_name="Ada", date_of_birth=date(1948, 5, 7))
    url = reverse("patient-edit", args=[patient.pk])
    form_page = clinician_client.get(url).content.decode()
    assert 'value="Okafr"' in form_page and "Up to 100 characters" in form_page
    response = clinician_client.post(
        url,
        edit_form(patient, family_name="Okafor", date_of_birth="1948-05-17", nhs_number="943 476 5919",
                  reason="Typing error at registration."),
    )  # fmt: skip
    assert response.status_code == 302
    assert response["Location"] == reverse("patient-detail", args=[patient.pk])
    patient.refresh_from_db()
    assert (patient.family_name, patient.date_of_birth, patient.nhs_number) == ("Okafor", date(1948, 5, 17), VALID_NHS)
    before, after = patient.history.order_by("history_date")
    assert (before.family_name, before.date_of_birth) == ("Okafr", date(1948, 5, 7))
    assert (after.history_user, after.history_change_reason) == (clinician, "Typing error at registration.")
    page = clinician_client.get(response["Location"]).content.decode()
    assert "Details corrected 1 time" in page and "Typing error at registration." in page
    assert f"by {clinician.get_full_name() or clinician.username}: Typing error at registration." in page
    assert "OKAFOR, Ada" in page


def test_each_patient_page_lists_its_own_corrections_and_results(clinician_client, clinician):
    """The patient page's reads are built once per process and filtered for each page (recommender/prebuilt.py):
    one patient's corrections and results never show on another's page."""
    first, second = make_patient(by=clinician, family_name="Ash"), make_patient(by=clinician, family_name="Birch")
    for patient, reason in ((first, "First patient's typo."), (second, "Second patient's typo.")):
        response = clinician_client.post(
            reverse("patient-edit", args=[patient.pk]),
            edit_form(patient, given_name="Corrected", reason=reason),
        )
        assert response.status_code == 302
    make_assessment(first, by=clinician, payload={"b12": {"value": 150, "unit": "pg/mL"}})
    pages = {p: clinician_client.get(reverse("patient-detail", args=[p.pk])).content.decode() for p in (first, second)}
    assert "First patient&#x27;s typo." in pages[first] and "Second patient" not in pages[first]
    assert "Second patient&#x27;s typo." in pages[second] and "First patient" not in pages[second]
    assert "150" in pages[first] and "No assessments" in pages[second]


def test_a_nurse_cannot_correct_demographics(nurse_client, clinician):
    patient = make_patient(by=clinician, family_name="Okafr")
    url = reverse("patient-edit", args=[patient.pk])
    assert nurse_client.get(url).status_code == 403
    assert nurse_client.post(url, edit_form(patient, family_name="Okafor")).status_code == 403
    patient.refresh_from_db()
    assert patient.family_name == "Okafr"
    page = nurse_client.get(reverse("patient-detail", args=[patient.pk])).content.decode()
    assert url not in page


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        pytest.param({"reason": ""}, "reason", "Give the reason for the correction", id="no-reason"),
        pytest.param({"reason": "x" * 101}, "reason", "at most 100 characters", id="reason-too-long"),
        pytest.param({"date_of_birth": "1899-12-31"}, "date_of_birth", "cannot be before 01 Jan 1900", id="1899"),
        pytest.param({"nhs_number": "9434765918"}, "nhs_number", "not a valid NHS number", id="bad-nhs"),
        pytest.param({"family_name": ""}, "family_name", "This field is required", id="no-family-name"),
    ],
)
def test_a_correction_with_a_bad_field_changes_nothing(clinician_client, clinician, overrides, field, message):
    patient = make_patient(by=clinician, family_name="Okafr")
    response = clinician_client.post(
        reverse("patient-edit", args=[patient.pk]), edit_form(patient, **({"family_name": "Okafor"} | overrides))
    )
    assert response.status_code == 200
    assert_field_error_shown(response, field, message)
    patient.refresh_from_db()
    assert patient.family_name == "Okafr"
    assert patient.history.count() == 1


def test_a_too_long_reason_is_never_reported_as_missing(clinician_client, clinician):
    patient = make_patient(by=clinician, family_name="Okafr")
    response = clinician_client.post(
        reverse("patient-edit", args=[patient.pk]), edit_form(patient, family_name="Okafor", reason="x" * 101)
    )
    page = response.content.decode()
    assert "at most 100 characters" in page
    assert "Give the reason" not in page


def test_a_date_of_birth_after_a_blood_sample_is_refused(clinician_client, clinician):
    patient = make_patient(by=clinician, date_of_birth=date(1990, 1, 1))
    make_assessment(patient, clinician, sample_date=date(2025, 6, 1))
    response = clinician_client.post(
        reverse("patient-edit", args=[patient.pk]), edit_form(patient, date_of_birth="2025-07-01")
    )
    assert_field_error_shown(response, "date_of_birth", "after the blood sample of 01 Jun 2025")
    patient.refresh_from_db()
    assert patient.date_of_birth == date(1990, 1, 1)


def test_a_correction_that_changes_nothing_says_so(clinician_client, clinician):
    patient = make_patient(by=clinician)
    response = clinician_client.post(reverse("patient-edit", args=[patient.pk]), edit_form(patient))
    assert response.status_code == 200
    assert "Nothing was changed." in response.content.decode()
    assert patient.history.count() == 1


def test_the_nhs_number_of_another_patient_is_refused_on_correction(clinician_client, clinician):
    make_patient(by=clinician, nhs_number=VALID_NHS)
    patient = make_patient(by=clinician)
    response = clinician_client.post(
        reverse("patient-edit", args=[patient.pk]), edit_form(patient, nhs_number=VALID_NHS)
    )
    assert_field_error_shown(response, "nhs_number", "already exists")
    patient.refresh_from_db()
    assert patient.nhs_number is None


# The patient header on every clinical page ------------------------------------------------------------------------


def test_the_patient_header_shows_name_date_of_birth_with_age_hospital_and_nhs_number(clinician_client, clinician):
    patient = make_patient(
        by=clinician,
        hospital_number="RX7001",
        family_name="Okafor",
        given_name="Ada",
        date_of_birth=date(1948, 5, 17),
        nhs_number=VALID_NHS,
    )
    plan = make_plan(by=clinician, patient=patient)
    years = age_on(date(1948, 5, 17), timezone.localdate())
    for url in (reverse("patient-detail", args=[patient.pk]), reverse("plan-detail", args=[plan.pk])):
        page = clinician_client.get(url).content.decode()
        banner = re.search(r'<div class="patient-banner.*?</div>', page, re.S).group(0)
        text = re.sub(r"<[^>]+>", "", banner)
        for shown in ("OKAFOR, Ada", f"Born 17 May 1948 (aged {years})", "Hospital no. RX7001", "NHS no. 943 476 5919"):
            assert shown in text, (url, text)


def test_no_nhs_number_no_nhs_label(clinician_client, clinician):
    patient = make_patient(by=clinician)
    page = clinician_client.get(reverse("patient-detail", args=[patient.pk])).content.decode()
    assert "NHS no." not in re.search(r'<div class="patient-banner.*?</div>', page, re.S).group(0)


# Dates outside the current year carry their year ------------------------------------------------------------------


def test_a_date_in_this_year_shows_no_year_and_any_other_year_shows_it():
    this_year = timezone.localdate().year
    assert clinic_date(date(this_year, 1, 2)) == date(this_year, 1, 2).strftime("%a %d %b")
    for year in (this_year - 1, this_year + 1, 1900, 2028):
        day = date(year, 1, 2)
        assert clinic_date(day) == day.strftime("%a %d %b %Y")


# Plausible plan start dates (item 10) -----------------------------------------------------------------------------


@pytest.fixture
def default_window(settings):
    """The default window, one year (tests elsewhere widen it to pin calendar dates)."""
    settings.B12_PLAN_START_WINDOW_DAYS = 365


def test_the_window_is_a_year_by_default_and_read_from_the_environment(monkeypatch):
    import b12site.settings as site_settings

    monkeypatch.delenv("B12_PLAN_START_WINDOW_DAYS", raising=False)
    assert importlib.reload(site_settings).B12_PLAN_START_WINDOW_DAYS == 365
    monkeypatch.setenv("B12_PLAN_START_WINDOW_DAYS", "90")
    assert importlib.reload(site_settings).B12_PLAN_START_WINDOW_DAYS == 90
    monkeypatch.delenv("B12_PLAN_START_WINDOW_DAYS")
    importlib.reload(site_settings)


def test_a_plan_posted_with_a_1900_start_is_refused_on_its_field(clinician_client, clinician, default_window):
    """The defect: a plan posted with a 1900 start was saved, and the worklist said "28092 days" overdue."""
    patient = make_patient(by=clinician)
    response = clinician_client.post(
        reverse("assessment-create", args=[patient.pk]), save_with_plan(start_date="1900-01-01")
    )
    assert response.status_code == 200
    plan_form = response.context["plan_form"]
    assert any("within 365 days of today" in e for e in plan_form.errors["start_date"]), plan_form.errors
    assert "within 365 days of today" in response.content.decode()
    assert not TreatmentPlan.objects.exists()
    assert not patient.assessments.exists()
    worklist = clinician_client.get(reverse("worklist")).content.decode()
    assert "28092" not in worklist


@pytest.mark.parametrize(
    ("offset", "allowed"),
    [(-366, False), (-365, True), (0, True), (365, True), (366, False), (365 * 40, False)],
)
def test_the_start_date_lies_within_the_window_around_today(clinician, default_window, offset, allowed):
    start = timezone.localdate() + timedelta(days=offset)
    if allowed:
        assert make_plan(by=clinician, start=start).start_date == start
        return
    with pytest.raises(ValidationError) as refused:
        make_plan(by=clinician, start=start)
    assert list(refused.value.message_dict) == ["start_date"]
    assert not TreatmentPlan.objects.exists()


def test_the_window_follows_the_setting(clinician, settings):
    settings.B12_PLAN_START_WINDOW_DAYS = 30
    with pytest.raises(ValidationError, match="within 30 days"):
        make_plan(by=clinician, start=timezone.localdate() - timedelta(days=31))
    assert make_plan(by=clinician, start=timezone.localdate() - timedelta(days=30))


def test_the_service_refuses_a_far_start_whichever_door(clinician, default_window):
    patient = make_patient(by=clinician)
    assessment = make_assessment(patient, clinician, payload=dict(DEFICIENT))
    with pytest.raises(ValidationError) as refused:
        clinic_services.plan_create(
            assessment=assessment, start_date=date(1900, 1, 1), maintenance_every=2, by=clinician
        )
    assert "start_date" in refused.value.message_dict


def test_the_usual_clinic_is_chosen_at_registration_and_changed_with_a_reason(clinician_client, clinician):
    """Booking proposes slots at the patient's usual clinic: the registration form sets it (active clinics only) and a
    correction changes it, kept in the history."""
    from recommender.appointments import selectors as booking

    riverside, hilltop = make_location(name="Riverside"), make_location(name="Hilltop")
    closed = make_location(name="Old Annexe")
    closed.active = False
    closed.save()
    page = clinician_client.get(reverse("patient-create")).content.decode()
    assert "Usual clinic" in page and "Hilltop" in page and "Old Annexe" not in page
    response = clinician_client.post(
        reverse("patient-create"),
        {"hospital_number": "H123", "family_name": "Usual", "given_name": "Una", "date_of_birth": "1950-02-03",
         "nhs_number": "", "usual_location": str(hilltop.pk)},
    )  # fmt: skip
    assert response.status_code == 302
    patient = Patient.objects.get(hospital_number="H123")
    assert patient.usual_location == hilltop and booking.default_location(patient) == hilltop
    refused = clinician_client.post(
        reverse("patient-edit", args=[patient.pk]), edit_form(patient, usual_location=str(closed.pk))
    )
    assert_field_error_shown(
        refused, "usual_location", "Select a valid choice. That choice is not one of the available choices."
    )
    clinician_client.post(
        reverse("patient-edit", args=[patient.pk]),
        edit_form(patient, usual_location=str(riverside.pk), reason="Moved house."),
    )
    patient.refresh_from_db()
    assert patient.usual_location == riverside
    assert patient.history.first().history_change_reason == "Moved house."
