"""A plan's page and a patient's page come from the nodes' shared cache (here Django's memory cache stands in for
Redis) until something they show changes: each write below is on the very next page, and a write to one record
leaves the other records' entries alone."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from recommender.clinic import services as clinic_services
from recommender.models import ClinicClosure
from recommender.roles import CLINICIAN
from tests import factories
from tests.conftest import make_user


@pytest.fixture
def clinic(settings, shared, clinician, nurse):
    settings.B12_CLINIC_DAYS = list(range(7))
    settings.B12_HOLIDAYS = ""  # every day open: the dates below do not depend on the day the suite runs
    today = timezone.localdate()
    plan = factories.make_plan(clinician, start=today - timedelta(days=6), family_name="Cachedplan")
    other = factories.make_plan(clinician, start=today - timedelta(days=6), family_name="Otherplan")
    return plan, other


def view(client, url) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    # The page's own reads: not the session's (a session is touched again after a few minutes) nor savepoints.
    own = [q for q in queries.captured_queries if "signinsession" not in q["sql"] and "SAVEPOINT" not in q["sql"]]
    return response.content.decode(), len(own)


def test_a_plan_page_is_read_once_then_every_change_to_what_it_shows_is_on_the_next_view(
    clinic, client, clinician, nurse
):
    plan, other = clinic
    url, other_url = reverse("plan-detail", args=[plan.pk]), reverse("plan-detail", args=[other.pk])
    client.force_login(nurse)
    first, read = view(client, url)
    again, read_again = view(client, url)
    assert again.count("CACHEDPLAN") == first.count("CACHEDPLAN") > 0
    assert read_again <= read - 3, "the plan, its doses and its schedule are not read again"
    view(client, other_url)

    factories.give(plan, nurse)  # a dose: on the plan's page at once
    shown, _ = view(client, url)
    assert "Mark entered in error" in shown and "Nurse_Patel" in shown
    assert view(client, other_url)[1] == read_again, "another plan's page is still the cached one"

    clinic_services.patient_update(
        patient=plan.patient,
        hospital_number=plan.patient.hospital_number,
        family_name="Renamedplan",
        given_name=plan.patient.given_name,
        date_of_birth=plan.patient.date_of_birth,
        reason="Spelling.",
        by=clinician,
    )
    assert "RENAMEDPLAN" in view(client, url)[0], "the patient renamed"

    nurse.first_name = "Priya"
    nurse.save()
    assert "Priya" in view(client, url)[0], "who recorded the dose, renamed: every record's pages are retired"

    ClinicClosure.objects.create(date=timezone.localdate() + timedelta(days=1), reason="Staff training")
    assert view(client, url)[1] >= read_again + 3, "a closure moves the schedule: read again"


def test_a_user_without_the_nurses_permission_never_gets_the_nurses_actions_from_the_cache(
    clinic, client, nurse, django_user_model
):
    plan, _ = clinic
    url = reverse("plan-detail", args=[plan.pk])
    factories.give(plan, nurse)
    client.force_login(nurse)
    as_nurse, _ = view(client, url)
    reader = make_user(django_user_model, "reader", None)
    reader.groups.add(Group.objects.get(name=CLINICIAN))
    client.force_login(reader)
    as_clinician, _ = view(client, url)
    assert "Mark entered in error" in as_nurse
    assert "Mark entered in error" not in as_clinician, "the dose rows' actions are the nurse's only"


def test_the_all_doses_page_is_read_once_and_a_dose_marked_in_error_is_on_the_next_view(clinic, client, nurse):
    from recommender.injections import services as injection_services

    plan, _ = clinic
    dose = factories.give(plan, nurse)
    url = reverse("plan-doses", args=[plan.pk])
    client.force_login(nurse)
    _, read = view(client, url)
    again, read_again = view(client, url)
    assert read_again <= read - 3 and "entered in error</span>" not in again
    injection_services.dose_mark_entered_in_error(dose=dose, reason="Wrong patient.", by=nurse)
    assert "entered in error</span>" in view(client, url)[0]


def test_the_plans_calendar_file_is_built_once_and_a_booking_that_has_passed_today_drops_out_without_a_read(
    settings, shared, clinician, nurse, client
):
    import time_machine
    from icalendar import Calendar

    from recommender.appointments import selectors as appointment_selectors
    from recommender.appointments import services as appointment_services

    settings.B12_HOLIDAYS = ""
    location = factories.make_location()
    factories.make_sessions(location)
    start = factories.next_weekday(timezone.localdate(), 0)
    plan = factories.make_plan(clinician, start=start)
    due = appointment_selectors.plan_to_book(plan, today=timezone.localdate())[0]
    nine_twenty = timezone.make_aware(datetime.combine(start, time(9, 20)))
    url = reverse("plan-ics", args=[plan.pk])

    def first_dose_start(body: bytes):
        events = {str(e["uid"]): e for e in Calendar.from_ical(body).walk("VEVENT")}
        return events[f"{plan.id}-loading-1@b12-clinic"].decoded("dtstart")

    with time_machine.travel(nine_twenty - timedelta(minutes=2), tick=False):
        client.force_login(nurse)
        assert type(first_dose_start(client.get(url).content)) is date, "not booked: all day"
        appointment_services.appointment_book(
            plan=plan,
            kind=due.kind,
            phase=due.phase,
            number=due.number,
            location=location,
            starts_at=nine_twenty,
            by=nurse,
        )
        booked, read = view(client, url)
        assert first_dose_start(booked.encode()) == nine_twenty, "a booking: on the next file"
        again, read_again = view(client, url)
        assert again == booked and read_again <= read - 2
    with time_machine.travel(nine_twenty + timedelta(minutes=1), tick=False):  # the entry lives five minutes
        later, read_later = view(client, url)
        assert type(first_dose_start(later.encode())) is date, "the booking has passed: all day again"
        assert read_later == read_again, "built again from what was kept, no query more"


def test_the_patient_page_is_read_once_and_a_new_assessment_or_a_missed_dose_is_on_the_next_view(
    clinic, client, clinician, nurse
):
    plan, other = clinic
    url = reverse("patient-detail", args=[plan.patient_id])
    client.force_login(clinician)
    first, read = view(client, url)
    again, read_again = view(client, url)
    assert read_again <= read - 4 and first.count("CACHEDPLAN") == again.count("CACHEDPLAN") > 0
    view(client, reverse("patient-detail", args=[other.patient_id]))

    factories.make_assessment(plan.patient, clinician, payload={"b12": {"value": 95, "unit": "pg/mL"}})
    assert "95 pg/mL" not in again
    assert "95 pg/mL" in view(client, url)[0], "a new result"
    assert "No dose missed." in view(client, url)[0]
    factories.miss(plan, nurse)
    assert "No dose missed." not in view(client, url)[0], "a missed dose"
    assert view(client, reverse("patient-detail", args=[other.patient_id]))[1] == read_again, "the other patient's"


def test_the_month_view_is_read_once_and_a_dose_given_is_on_the_next_view(clinic, client, nurse):
    plan, _ = clinic
    url = reverse("plan-month", args=[plan.pk]) + f"?month={plan.start_date.isoformat()}"
    client.force_login(nurse)
    _, read = view(client, url)
    before, read_again = view(client, url)
    assert read_again <= read - 2
    factories.give(plan, nurse)
    after, _ = view(client, url)
    assert after.count(": given") == before.count(": given") + 1, "the dose given, on its day"


def test_the_worklist_is_read_once_for_every_nurse_and_a_dose_given_or_a_new_plan_is_on_the_next_view(
    clinic, client, clinician, nurse, django_user_model
):
    url = reverse("worklist")
    client.force_login(nurse)
    first, read = view(client, url)
    _, read_again = view(client, url)
    assert "CACHEDPLAN" in first and "OTHERPLAN" in first and read_again <= read - 2
    client.force_login(make_user(django_user_model, "second_nurse", "nurse"))
    view(client, url)
    assert view(client, url)[1] == read_again, "another nurse: the same lines, from the cache"

    newcomer = factories.make_plan(clinician, start=timezone.localdate(), family_name="Newcomer")
    assert "NEWCOMER" in view(client, url)[0].split('id="wl-today"')[1].split("</section>")[0], "a new plan"
    factories.give(newcomer, nurse)
    assert "NEWCOMER" not in view(client, url)[0].split('id="wl-today"')[1].split("</section>")[0], "given today"


def test_a_proposal_comes_from_the_cache_until_another_plan_takes_its_slot_or_the_slot_begins(
    settings, shared, clinician, nurse, client
):
    import time_machine

    from recommender.appointments import selectors as appointment_selectors
    from recommender.appointments import services as appointment_services

    settings.B12_HOLIDAYS = ""
    location = factories.make_location()
    factories.make_sessions(location)  # Monday, Wednesday, Friday 09:00-12:00, ten-minute slots, two a slot
    start = factories.next_weekday(timezone.localdate(), 0)
    plan, *others = (factories.make_plan(clinician, start=start) for _ in range(3))
    url = reverse("appointment-plan", args=[plan.pk])
    nine = timezone.make_aware(datetime.combine(start, time(9)))

    def proposed():
        return client.get(url, headers={"HX-Request": "true"}).context["proposals"][0].proposal.slot.starts_at

    with time_machine.travel(nine - timedelta(minutes=3), tick=False):
        client.force_login(nurse)
        assert proposed() == nine
        assert view(client, url)[1] == 0, "the second time, from the cache: no query but the session's"
        for other in others:  # two other patients take both places at 09:00
            due = appointment_selectors.plan_to_book(other, today=start)[0]
            appointment_services.appointment_book(
                plan=other, kind=due.kind, phase=due.phase, number=due.number, location=location, starts_at=nine,
                by=nurse,
            )  # fmt: skip
        assert proposed() == nine + timedelta(minutes=10), "the slot another plan took is not proposed"
    with time_machine.travel(nine + timedelta(minutes=11), tick=False):
        assert proposed() == nine + timedelta(minutes=20), "a proposed slot that has begun is proposed again"
        assert view(client, url)[1] == 0, "and the new proposal is kept in place of the old"


@pytest.mark.parametrize("page", ["²", "٣", "1e3", "-1", "9" * 40])
def test_a_page_number_that_is_not_plain_digits_shows_the_first_page_not_a_500(clinic, client, nurse, page):
    """Found in review: ``"²".isdigit()`` is true and ``int("²")`` fails."""
    plan, _ = clinic
    client.force_login(nurse)
    for url in (reverse("worklist"), reverse("plan-doses", args=[plan.pk])):
        assert client.get(url, {"page": page}).status_code == 200


def test_a_day_list_is_read_once_for_every_nurse_and_each_change_to_its_rows_is_on_the_next_view(
    settings, shared, clinician, nurse, client, django_user_model
):
    """A nurse running a session reloads its day list after each patient: its rows come from the shared cache until
    a booking, a dose, a patient or the clinic's calendar changes; what the row offers follows the time of day
    (did not attend once a row's time has passed) though the rows are kept."""
    import time_machine

    from recommender.appointments import selectors as appointment_selectors
    from recommender.appointments import services as appointment_services
    from recommender.models import SessionChange

    settings.B12_HOLIDAYS = ""
    location = factories.make_location()
    factories.make_sessions(location)  # Monday, Wednesday, Friday 09:00-12:00, ten-minute slots, two a slot
    start = factories.next_weekday(timezone.localdate(), 0)
    at = {minute: timezone.make_aware(datetime.combine(start, time(9, minute))) for minute in (0, 10, 20)}
    plans, bookings = [], []
    for name, minute in zip(("Firstrow", "Secondrow", "Thirdrow"), at, strict=True):
        plan = factories.make_plan(clinician, start=start, family_name=name)
        due = appointment_selectors.plan_to_book(plan, today=start)[0]
        booking = appointment_services.appointment_book(
            plan=plan, kind=due.kind, phase=due.phase, number=due.number, location=location, starts_at=at[minute],
            by=nurse,
        )  # fmt: skip
        bookings.append(booking)
        plans.append(plan)
    session = appointment_selectors.sessions_on(start)[0]
    url = reverse("appointment-day-list", args=[start.isoformat(), session.key])

    def rows(page: str) -> list[str]:
        return [row.split("</tr>")[0] for row in page.split("<tr data-appointment=")[1:]]

    with time_machine.travel(at[0] - timedelta(minutes=5), tick=False):
        client.force_login(nurse)
        first, read = view(client, url)
        assert ["ROW," in r for r in rows(first)] == [True] * 3 and "Did not attend" not in first
        _, read_again = view(client, url)
        assert read_again == 0 < read, "the session's rows from the cache: no query but the session's"
        client.force_login(make_user(django_user_model, "second_nurse", "nurse"))
        view(client, url)  # (their permissions are read once)
        assert view(client, url)[1] == 0, "another nurse: the same rows, from the cache"

    with time_machine.travel(at[0] + timedelta(minutes=5), tick=False):
        page, _ = view(client, url)
        assert "Did not attend" in rows(page)[0] and "Did not attend" not in rows(page)[1], "by the time of day"
        factories.give(plans[0], nurse)
        assert "Given" in rows(view(client, url)[0])[0], "a dose recorded: the row says so"
        appointment_services.appointment_move(
            appointment=bookings[1],
            location=location,
            starts_at=timezone.make_aware(datetime.combine(start, time(11))),
            reason="Patient's bus is late.",
            by=nurse,
        )
        moved = rows(view(client, url)[0])
        assert "SECONDROW" in moved[-1] and "11:00" in moved[-1], "a booking moved: in its new place"
        appointment_services.appointment_cancel(appointment=bookings[2], reason="Patient phoned.", by=nurse)
        assert "THIRDROW" not in view(client, url)[0], "a booking cancelled: off the list"
        clinic_services.patient_update(
            patient=plans[0].patient,
            hospital_number=plans[0].patient.hospital_number,
            family_name="Renamedrow",
            given_name=plans[0].patient.given_name,
            date_of_birth=plans[0].patient.date_of_birth,
            reason="Spelling.",
            by=clinician,
        )
        assert "RENAMEDROW" in view(client, url)[0], "a patient renamed"
        SessionChange.objects.create(kind="cancel", date=start, session=location.sessions.get(weekday=0), reason="Ill")
        assert client.get(url).status_code == 404, "the session cancelled: no day list"
