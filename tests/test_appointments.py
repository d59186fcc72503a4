"""Booking (issue 17): sessions, proposals, capacity, windows, moves, did-not-attend, the day list, the card and the
plan's calendar at booked times."""

from __future__ import annotations

import html
import itertools
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from recommender.appointments import selectors, services
from recommender.models import Appointment, ClinicClosure, DoseRecord, SessionChange
from tests.conftest import make_user
from tests.factories import give, make_location, make_plan, make_sessions, next_weekday

MONDAY, WEDNESDAY, FRIDAY = 0, 2, 4
UK = ZoneInfo("Europe/London")


@pytest.fixture(autouse=True)
def _no_public_holidays(settings):
    settings.B12_HOLIDAYS = ""


@pytest.fixture
def clinic(db):
    location = make_location()
    make_sessions(location)
    return location


@pytest.fixture
def start() -> date:
    return next_weekday(timezone.localdate(), MONDAY)


@pytest.fixture
def plan(clinician, clinic, start):
    return make_plan(clinician, start=start)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def to_book(plan, kind="dose"):
    return next(d for d in selectors.plan_to_book(plan, today=timezone.localdate()) if d.kind == kind)


def book(plan, by, at: datetime, *, kind="dose", location=None, **extra) -> Appointment:
    due = to_book(plan, kind)
    return services.appointment_book(
        plan=plan,
        kind=due.kind,
        phase=due.phase,
        number=due.number,
        location=location or plan.patient.usual_location or selectors.default_location(plan.patient),
        starts_at=at,
        by=by,
        **extra,
    )


def first_dose_booked(clinician, nurse, clinic) -> tuple:
    """A plan whose first dose fell due three days ago, booked into the first free slot (a reason given: it is
    outside the window)."""
    plan = make_plan(clinician, start=timezone.localdate() - timedelta(days=3))
    slot = selectors.slot_proposal(due=to_book(plan), location=clinic, today=timezone.localdate()).slot
    return plan, book(plan, nurse, slot.starts_at, window_reason="First session we have.")


def test_the_first_free_slot_on_or_after_the_due_date_is_proposed(plan, clinic, nurse, start):
    due = to_book(plan)
    assert (due.phase, due.number, due.due_on) == ("loading", 1, start)
    proposal = selectors.slot_proposal(due=due, location=clinic, today=timezone.localdate())
    assert proposal.slot.starts_at == local(start, 9) and proposal.in_window
    # Two nurses: the 09:00 slot takes two patients, then the proposal moves to 09:10.
    book(plan, nurse, local(start, 9))
    other = make_plan(plan.created_by, start=start)
    book(other, nurse, local(start, 9))
    third = make_plan(plan.created_by, start=start)
    assert selectors.slot_proposal(due=to_book(third), location=clinic, today=timezone.localdate()).slot.starts_at == (
        local(start, 9, 10)
    )


def test_booking_the_loading_course_slot_by_slot_keeps_the_rhythm(plan, clinic, nurse, start):
    days = []
    for _ in range(6):
        due = to_book(plan)
        proposal = selectors.slot_proposal(due=due, location=clinic, today=timezone.localdate())
        appointment = book(plan, nurse, proposal.slot.starts_at)
        days.append(timezone.localtime(appointment.starts_at).date())
    assert [d.weekday() for d in days] == [MONDAY, WEDNESDAY, FRIDAY] * 2
    assert all((b - a).days >= 2 for a, b in itertools.pairwise(days))
    # Then the first maintenance dose, two months after the last loading dose.
    assert to_book(plan).phase == "maintenance"


def test_a_full_slot_is_refused_with_a_clear_message_unless_overbooked_with_a_reason(clinician, clinic, nurse, start):
    plans = [make_plan(clinician, start=start) for _ in range(3)]
    book(plans[0], nurse, local(start, 9))
    book(plans[1], nurse, local(start, 9))
    with pytest.raises(ValidationError) as refused:
        book(plans[2], nurse, local(start, 9))
    assert "is full (2 patients)" in refused.value.message_dict["starts_at"][0]
    with pytest.raises(ValidationError) as refused:
        book(plans[2], nurse, local(start, 9), overbook=True)
    assert refused.value.message_dict["overbook_reason"] == ["Give the reason for overbooking."]
    assert Appointment.objects.count() == 2
    extra = book(plans[2], nurse, local(start, 9), overbook=True, overbook_reason="Transport only at 9.")
    assert (extra.seat, extra.capacity, extra.overbook_reason) == (3, 2, "Transport only at 9.")


def test_outside_the_window_a_booking_needs_a_reason_kept_with_it_and_its_history(settings, plan, clinic, nurse):
    settings.B12_BOOKING_WINDOW_BEFORE_DAYS, settings.B12_BOOKING_WINDOW_AFTER_DAYS = 7, 14
    for _ in range(6):
        due = to_book(plan)
        book(plan, nurse, selectors.slot_proposal(due=due, location=clinic, today=timezone.localdate()).slot.starts_at)
    due = to_book(plan)
    assert due.phase == "maintenance"
    assert (due.earliest, due.latest) == (due.due_on - timedelta(days=7), due.due_on + timedelta(days=14))
    late = next_weekday(due.latest, MONDAY, weeks_ahead=0) + timedelta(days=7 if due.latest.weekday() == 0 else 0)
    assert late > due.latest
    with pytest.raises(ValidationError) as refused:
        book(plan, nurse, local(late, 10))
    assert "outside the window" in refused.value.message_dict["window_reason"][0]
    appointment = book(plan, nurse, local(late, 10), window_reason="On holiday until then.")
    assert appointment.window_reason == "On holiday until then."
    assert appointment.history.first().window_reason == "On holiday until then."


def test_a_loading_dose_cannot_be_booked_before_its_rhythm_allows_without_a_reason(plan, clinic, nurse, start):
    book(plan, nurse, local(start, 9))
    with pytest.raises(ValidationError) as refused:
        book(plan, nurse, local(start + timedelta(days=7), 9))  # loading 2 a week late: outside its rhythm
    assert "window_reason" in refused.value.message_dict


def test_closures_and_cancelled_sessions_remove_slots_and_extra_sessions_add_them(
    plan, clinic, nurse, start, admin_user
):
    ClinicClosure.objects.create(date=start, reason="Training day")
    session = clinic.sessions.get(weekday=MONDAY)
    wednesday = start + timedelta(days=2)
    SessionChange.objects.create(
        kind="cancel", date=wednesday, session=session.location.sessions.get(weekday=2), reason="Nurse off sick"
    )
    tuesday = start + timedelta(days=1)
    SessionChange.objects.create(
        kind="extra",
        date=tuesday,
        location=clinic,
        start=time(14),
        end=time(15),
        slot_minutes=15,
        capacity=1,
        reason="Catch-up",
    )
    assert [s.day for s in selectors.sessions_between(first=start, last=wednesday)] == [tuesday]
    due = to_book(plan)
    assert due.due_on == tuesday  # the schedule itself moves loading 1 off the closure
    assert selectors.slot_proposal(due=due, location=clinic, today=timezone.localdate()).slot.starts_at == local(
        tuesday, 14
    )
    with pytest.raises(ValidationError) as refused:
        services.appointment_book(
            plan=plan, kind="dose", phase="loading", number=1, location=clinic, starts_at=local(start, 9), by=nurse
        )
    assert "closed" in refused.value.message_dict["starts_at"][0] and "Training day" in str(refused.value)


def test_moving_keeps_who_when_from_where_and_why_and_cancelling_frees_the_slot(plan, clinic, nurse, clinician, start):
    first = book(plan, nurse, local(start, 9))
    moved = services.appointment_move(
        appointment=first, location=clinic, starts_at=local(start, 11), reason="Patient asked for later.", by=clinician
    )
    first.refresh_from_db()
    assert first.status == "moved" and first.change_reason == "Patient asked for later."
    assert moved.moved_from == first and moved.booked_by == clinician
    assert [a.pk for a in selectors.appointment_trail(appointment=moved)] == [first.pk, moved.pk]
    latest = first.history.first()
    assert latest.history_user == clinician and latest.history_change_reason.startswith("moved")
    with pytest.raises(ValidationError) as refused:
        services.appointment_move(appointment=moved, location=clinic, starts_at=local(start, 10), reason=" ", by=nurse)
    assert "reason" in refused.value.message_dict
    services.appointment_cancel(appointment=moved, reason="Admitted to hospital.", by=nurse)
    assert selectors.seats_taken(location_id=clinic.pk, first=local(start, 0), last=local(start, 23)) == {}
    assert to_book(plan).number == 1  # the dose is to book again


def test_moving_a_loading_dose_keeps_the_rhythm_with_the_doses_booked_after_it(plan, clinic, nurse, start, client):
    """Doses 1-3 booked Mon, Wed, Fri: dose 2 moved to Thursday would leave one day to dose 3 (crowding the course);
    moved to Friday, two doses on one day. Both refused, naming the later booking; nothing changes."""
    make_sessions(clinic, weekdays=(1, 3))  # the clinic opens every weekday
    first, second, third = (book(plan, nurse, local(start + timedelta(days=d), 9)) for d in (0, 2, 4))
    for day in (3, 4):
        with pytest.raises(ValidationError) as refused:
            services.appointment_move(
                appointment=second,
                location=clinic,
                starts_at=local(start + timedelta(days=day), 10),
                reason="Patient asked.",
                window_reason="Patient asked.",
                by=nurse,
            )
        message = refused.value.message_dict["starts_at"][0]
        assert message.startswith("Loading 3 of 6 is booked for Fri") and "too soon" in message, message
    assert Appointment.objects.filter(status="booked").count() == 3
    second.refresh_from_db()
    assert second.status == "booked"
    # The same through the move form, as a nurse does it: the page says why, on the slot's field; nothing moves.
    client.force_login(nurse)
    thursday = start + timedelta(days=3)
    page = client.post(
        reverse("appointment-move", args=[second.pk]),
        {"location": clinic.pk, "day": thursday.strftime("%d/%m/%Y"), "time": "10:00", "reason": "Patient asked.",
         "window_reason": "Patient asked."},
    )  # fmt: skip
    assert page.status_code == 200
    assert "Loading 3 of 6 is booked for Fri" in html.unescape(page.content.decode())
    assert Appointment.objects.filter(status="booked").count() == 3
    # Another slot the same day keeps the rhythm.
    services.appointment_move(
        appointment=second, location=clinic, starts_at=local(start + timedelta(days=2), 11), reason="Later.", by=nurse
    )
    assert first.status == third.status == "booked"


def test_did_not_attend_records_the_dose_missed_and_proposes_the_next_free_slot(clinician, clinic, nurse, client):
    today = timezone.localdate()
    plan, appointment = first_dose_booked(clinician, nurse, clinic)
    # The session is today and the patient has not come: its time has passed.
    Appointment.objects.filter(pk=appointment.pk).update(
        starts_at=timezone.now() - timedelta(hours=1), booked_at=timezone.now() - timedelta(days=3)
    )
    client.force_login(nurse)
    response = client.post(reverse("appointment-dna", args=[appointment.pk]))
    assert response.status_code == 302 and response.url == reverse("appointment-plan", args=[plan.pk])
    appointment.refresh_from_db()
    assert appointment.status == "dna"
    missed = DoseRecord.objects.get(plan=plan)
    assert missed.outcome == "missed" and "Did not attend" in missed.reason
    page = client.get(response.url)
    proposal = page.context["proposals"][0].proposal
    assert (proposal.due.phase, proposal.due.number) == ("loading", 1)
    assert proposal.slot is not None and timezone.localtime(proposal.slot.starts_at).date() > today


def test_the_day_list_shows_patients_in_slot_order_with_identification_and_one_action(
    clinician, clinic, nurse, start, client
):
    early = make_plan(clinician, start=start, family_name="Zed", given_name="Ann", date_of_birth=date(1950, 3, 4))
    late = make_plan(clinician, start=start, family_name="Abbot", given_name="Bo")
    book(late, nurse, local(start, 10, 30))
    book(early, nurse, local(start, 9, 20))
    overdue = make_plan(clinician, start=timezone.localdate() - timedelta(days=10))
    client.force_login(nurse)
    sessions = client.get(reverse("appointment-sessions"), {"on": start.isoformat()})
    assert sessions.status_code == 200
    summary = sessions.context["sessions"][0]
    assert (summary.booked, summary.places) == (2, 36)
    page = client.get(reverse("appointment-day-list", args=[start.isoformat(), summary.session.key]))
    rows = page.context["rows"]
    assert [r.plan_id for r in rows] == [early.pk, late.pk]
    html = page.content.decode()
    assert "ZED, Ann" in html and "Born 04 Mar 1950" in html and early.patient.hospital_number in html
    assert html.index("ZED, Ann") < html.index("ABBOT, Bo")
    record_link = f"{reverse('dose-record', args=[early.pk])}?next={reverse('appointment-plan', args=[early.pk])}"
    assert record_link in html and rows[0].what == "Loading 1 of 6"
    # The overdue dose without a booking is listed with the sessions of today, so that none hides.
    today_page = client.get(reverse("appointment-sessions"))
    assert overdue.pk in [row.plan.pk for row in today_page.context["overdue"]]
    assert reverse("appointment-sessions") in client.get(reverse("worklist")).content.decode()


def test_a_dose_given_from_the_day_list_marks_the_booking_attended_at_the_next_booking(clinician, clinic, nurse):
    today = timezone.localdate()
    plan, first = first_dose_booked(clinician, nurse, clinic)
    Appointment.objects.filter(pk=first.pk).update(
        starts_at=timezone.now() - timedelta(hours=1), booked_at=timezone.now() - timedelta(days=3)
    )
    give(plan, nurse, on=today)
    second = to_book(plan)
    assert (second.phase, second.number) == ("loading", 2)
    book(plan, nurse, selectors.slot_proposal(due=second, location=clinic, today=today).slot.starts_at)
    first.refresh_from_db()
    assert first.status == "attended"


def test_booking_a_dose_that_is_not_the_next_is_refused(plan, clinic, nurse, start):
    with pytest.raises(ValidationError) as refused:
        services.appointment_book(
            plan=plan, kind="dose", phase="loading", number=3, location=clinic, starts_at=local(start, 9), by=nurse
        )
    assert "has changed" in " ".join(refused.value.messages)


def test_the_card_has_date_time_and_place_but_no_clinical_detail(plan, clinic, nurse, start, client):
    book(plan, nurse, local(start, 9, 40))
    client.force_login(nurse)
    html = client.get(reverse("appointment-card", args=[plan.pk])).content.decode()
    card = html[html.index("appointment-card") :]
    assert f"{start:%A} {start.day} {start:%B %Y}" in card and "09:40" in card and "Riverside Surgery" in card
    for clinical in ("B12", "mg", "oading", "njection", "hydroxocobalamin", "deficien"):
        assert clinical not in card


def test_the_plan_calendar_shows_booked_appointments_at_their_time_and_the_rest_all_day(
    plan, clinic, nurse, start, client
):
    book(plan, nurse, local(start, 9, 20))
    client.force_login(nurse)
    cal = Calendar.from_ical(client.get(reverse("plan-ics", args=[plan.pk])).content)
    events = {str(e["uid"]): e for e in cal.walk("VEVENT")}
    first = events[f"{plan.id}-loading-1@b12-clinic"]
    assert first.decoded("dtstart") == local(start, 9, 20)
    assert "Riverside Surgery" in str(first["location"])
    second = events[f"{plan.id}-loading-2@b12-clinic"]
    assert type(second.decoded("dtstart")) is date


def test_the_plan_page_loads_its_bookings_and_agrees_with_them(plan, clinic, nurse, start, client):
    book(plan, nurse, local(start, 9, 30))
    client.force_login(nurse)
    plan_page = client.get(reverse("plan-detail", args=[plan.pk])).content.decode()
    assert reverse("appointment-plan", args=[plan.pk]) in plan_page
    fragment = client.get(reverse("appointment-plan", args=[plan.pk]), headers={"HX-Request": "true"})
    html = fragment.content.decode()
    assert "<html" not in html and f"{start:%a %d %b %Y} at 09:30" in html and "Loading 1 of 6" in html


def test_the_booking_form_names_the_field_for_bad_input_and_saves_nothing(plan, clinic, nurse, client):
    client.force_login(nurse)
    url = reverse("appointment-book", args=[plan.pk])
    identity = {"kind": "dose", "phase": "loading", "number": "1", "location": str(clinic.pk)}
    for data, field in (
        ({"slot": "not-a-time"}, "slot"),
        ({}, "slot"),
        ({"day": "31/02/2026", "time": "10:00"}, "day"),
        ({"day": "02/03/2027"}, "time"),
        ({"day": "02/03/2027", "time": "25:99"}, "time"),
    ):
        response = client.post(url, identity | data)
        assert response.status_code == 200, data
        assert response.context["form"].errors[field], data
    assert not Appointment.objects.exists()


def test_booking_from_the_proposal_button(plan, clinic, nurse, start, client):
    client.force_login(nurse)
    page = client.get(reverse("appointment-plan", args=[plan.pk]))
    row = page.context["proposals"][0]
    response = client.post(
        reverse("appointment-book", args=[plan.pk]),
        {"kind": "dose", "phase": "loading", "number": "1", "location": str(clinic.pk), "slot": row.slot_value},
    )
    assert response.status_code == 302
    appointment = Appointment.objects.get()
    assert appointment.starts_at == local(start, 9) and appointment.booked_by == nurse
    plan.patient.refresh_from_db()
    assert plan.patient.usual_location == clinic


def test_staff_book_admins_define_sessions_and_no_one_else_sees_bookings(
    plan, clinic, admin_user, django_user_model, client
):
    client.force_login(admin_user)
    assert client.get(reverse("admin:recommender_session_add")).status_code == 200
    assert client.get(reverse("admin:recommender_location_add")).status_code == 200
    receptionist = make_user(django_user_model, "someone", None)
    client.force_login(receptionist)
    assert client.get(reverse("appointment-sessions")).status_code == 403
    assert client.post(reverse("appointment-book", args=[plan.pk]), {}).status_code == 403


@pytest.mark.parametrize("patients", [1, 12])
def test_proposing_and_the_day_list_take_a_constant_number_of_queries(
    clinician, clinic, nurse, start, client, django_assert_num_queries, patients
):
    plans = [make_plan(clinician, start=start) for _ in range(patients)]
    for i, p in enumerate(plans):
        book(p, nurse, local(start, 9) + timedelta(minutes=10 * (i // 2)))
    key = selectors.sessions_on(start)[0].key
    client.force_login(nurse)
    client.get(reverse("appointment-day-list", args=[start.isoformat(), key]))  # warm caches (content types)
    with django_assert_num_queries(3):
        client.get(reverse("appointment-day-list", args=[start.isoformat(), key]))
    client.get(reverse("appointment-plan", args=[plans[0].pk]))
    with django_assert_num_queries(8):
        client.get(reverse("appointment-plan", args=[plans[0].pk]))


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["01/01/0001", "9999-12-31", "31/12/9999", "not a day"])
def test_a_day_out_of_the_clinics_range_shows_today_not_a_500(nurse_client, typed):
    """Found by the fuzz test: year 1 or 9999 overflowed the day arithmetic (a 500)."""
    response = nurse_client.get(reverse("appointment-sessions"), {"on": typed})
    assert response.status_code == 200
    assert response.context["on"] == timezone.localdate()


def test_a_seat_taken_between_the_count_and_the_save_is_counted_again_not_a_constraint_message(
    clinician, clinic, nurse, start, monkeypatch
):
    """The interleaving two nurses hit on PostgreSQL, made deterministic: the other nurse's booking commits after
    this one counted the seats and before it is validated. The nurse is told the slot has just filled, in words."""
    plans = [make_plan(clinician, start=start) for _ in range(3)]
    book(plans[0], nurse, local(start, 9))
    real_count = services._seats_taken
    raced = []

    def other_nurse_books_after_the_count(appointment):
        taken = real_count(appointment)
        if not raced:
            raced.append(plans[1])
            book(plans[1], nurse, local(start, 9))  # takes the last seat, seat 2, after this count
        return taken

    monkeypatch.setattr(services, "_seats_taken", other_nurse_books_after_the_count)
    with pytest.raises(ValidationError) as refused:
        book(plans[2], nurse, local(start, 9))
    assert "just booked the last place" in refused.value.message_dict["starts_at"][0]
    assert not Appointment.objects.filter(plan=plans[2]).exists()


@pytest.mark.parametrize("number", ["²", "①", "٣", "1" * 9])
def test_a_dose_number_that_is_not_plain_digits_is_not_a_500(plan, nurse, client, number):
    """Found by probing: ``"²".isdigit()`` is true and ``int("²")`` fails; the booking form says the dose is not the
    next to book instead."""
    client.force_login(nurse)
    url = reverse("appointment-book", args=[plan.pk])
    for response in (
        client.get(url, {"kind": "dose", "phase": "loading", "number": number}),
        client.post(url, {"kind": "dose", "phase": "loading", "number": number, "slot": ""}),
    ):
        assert response.status_code == 302


def test_an_appointment_still_to_come_cannot_be_marked_did_not_attend_nor_a_review_attended_days_ahead(
    plan, clinic, nurse, clinician, start, client
):
    """Found by probing: a booking ten days ahead could be marked did not attend, and its dose was recorded as
    missed. Every door is refused now (the booking, the worklist's dose, the service), and the day list does not
    offer it before the row's time."""
    ahead = book(plan, nurse, selectors.slot_proposal(due=to_book(plan), location=clinic, today=start).slot.starts_at)
    client.force_login(nurse)
    response = client.post(reverse("appointment-dna", args=[ahead.pk]), follow=True)
    when = f"{timezone.localtime(ahead.starts_at):%a} {start.day} {start:%b %Y} at 09:00"
    assert f"This appointment is on {when}: it can be marked did not attend once it has begun." in (
        html.unescape(response.content.decode())
    )
    ahead.refresh_from_db()
    assert ahead.status == "booked" and not DoseRecord.objects.filter(plan=plan).exists()
    key = client.get(reverse("appointment-sessions"), {"on": start.isoformat()}).context["sessions"][0].session.key
    day_list = client.get(reverse("appointment-day-list", args=[start.isoformat(), key]))
    assert day_list.status_code == 200 and "Did not attend" not in day_list.content.decode()

    # A review booked days ahead is not "attended" yet either.
    review = Appointment.objects.create(
        plan=plan, kind="review", number=1, due_on=start, location=clinic, starts_at=local(start, 11),
        slot_minutes=10, seat=1, capacity=2, booked_by=nurse,
    )  # fmt: skip
    with pytest.raises(ValidationError) as refused:
        services.appointment_attended(appointment=review, by=nurse)
    assert "it can be marked attended on its day" in refused.value.message_dict["appointment"][0]
    with pytest.raises(ValidationError):
        services.appointment_did_not_attend(appointment=review, by=nurse)
    review.refresh_from_db()
    assert review.status == "booked"


def test_a_dose_due_today_booked_for_later_today_is_not_missed_before_its_time(clinician, clinic, nurse, client):
    plan, later = first_dose_booked(clinician, nurse, clinic)
    Appointment.objects.filter(pk=later.pk).update(starts_at=timezone.now() + timedelta(minutes=30))
    client.force_login(nurse)
    plan.refresh_from_db()
    refused = client.post(reverse("recall-dna", args=[plan.pk]), {"sequence": plan.calendar_sequence}, follow=True)
    later.refresh_from_db()
    soon = timezone.localtime(later.starts_at)
    assert (
        f"This dose is booked for {soon:%a} {soon.day} {soon:%b %Y} at {soon:%H:%M}: record did not attend once that "
        "appointment has begun." in html.unescape(refused.content.decode())
    )
    assert later.status == "booked" and not DoseRecord.objects.filter(plan=plan).exists()
    Appointment.objects.filter(pk=later.pk).update(starts_at=timezone.now() - timedelta(minutes=1))
    client.post(reverse("recall-dna", args=[plan.pk]), {"sequence": plan.calendar_sequence})
    later.refresh_from_db()
    assert later.status == "dna" and DoseRecord.objects.get(plan=plan).outcome == "missed"


def test_a_session_across_a_clock_change_is_refused_with_the_day_and_the_hours_named(clinic, settings):
    """Found by probing: a Sunday-night session across the spring change gave slots sharing one instant, and none in
    the hour repeated in autumn. The admin now refuses such a session (recurring or extra) and names the change."""
    from recommender.clock_changes import clock_change_on
    from recommender.models import Session

    settings.TIME_ZONE = "Europe/London"
    today = timezone.localdate()
    first, second = (c for c in (clock_change_on(today + timedelta(days=n), UK) for n in range(366)) if c)
    words = {True: "do not exist", False: "happen twice"}
    assert first.skipped != second.skipped, "a year holds one change each way"
    day = first.day
    night = Session(location=clinic, weekday=day.weekday(), start=time(0, 30), end=time(3), slot_minutes=10)
    with pytest.raises(ValidationError) as refused:
        night.full_clean()
    assert (
        f"The clocks change on {day:%a} {day.day} {day:%b %Y}: the times from 01:00 to 02:00 {words[first.skipped]}"
        in refused.value.message_dict["start"][0]
    )
    Session(location=clinic, weekday=day.weekday(), start=time(9), end=time(12), slot_minutes=10).full_clean()
    ended = Session(
        location=clinic, weekday=day.weekday(), start=time(0, 30), end=time(3), valid_until=day - timedelta(1)
    )
    ended.full_clean()  # it ends before the change: nothing to refuse
    extra = SessionChange(kind="extra", date=second.day, location=clinic, start=time(1, 30), end=time(2, 30),
                          slot_minutes=10, capacity=1, reason="Night clinic")  # fmt: skip
    with pytest.raises(ValidationError) as refused:
        extra.full_clean()
    assert f"01:00 to 02:00 {words[second.skipped]}" in refused.value.message_dict["start"][0]
    extra.date = second.day - timedelta(days=7)
    extra.full_clean()


def test_the_dose_form_does_not_record_did_not_attend_before_the_dose_or_its_booking_has_come(
    plan, clinic, nurse, clinician, start, client
):
    """Found in review: the dose form's "Did not attend" outcome took a dose booked days ahead (and then marked its
    booking did not attend): the same rule as the booking's, in the dose service."""
    client.force_login(nurse)

    def post(p):
        p.refresh_from_db()
        data = {"phase": p.next_phase, "number": p.next_number, "sequence": p.calendar_sequence, "outcome": "missed"}
        return client.post(reverse("dose-record", args=[p.pk]), data)

    refused = post(plan)  # due next week, not booked
    assert refused.status_code == 200 and "it cannot be missed before its day" in html.unescape(
        refused.content.decode()
    )
    overdue, booking = first_dose_booked(clinician, nurse, clinic)  # due three days ago, booked ahead
    refused = post(overdue)
    when = timezone.localtime(booking.starts_at)
    assert f"This dose is booked for {when:%a} {when.day} {when:%b %Y} at {when:%H:%M}" in html.unescape(
        refused.content.decode()
    )
    assert not DoseRecord.objects.exists()
    booking.refresh_from_db()
    assert booking.status == "booked"
    Appointment.objects.filter(pk=booking.pk).update(starts_at=timezone.now() - timedelta(minutes=5))
    assert post(overdue).status_code == 302 and DoseRecord.objects.get(plan=overdue).outcome == "missed"


def test_a_dose_booked_early_in_its_window_and_not_attended_marks_the_booking_only(plan, clinic, nurse, start):
    """The dose is still due on its day: only the booking is marked did not attend, and the dose is proposed again."""
    early = book(plan, nurse, selectors.slot_proposal(due=to_book(plan), location=clinic, today=start).slot.starts_at)
    Appointment.objects.filter(pk=early.pk).update(starts_at=timezone.now() - timedelta(minutes=5))
    services.appointment_did_not_attend(appointment=early, by=nurse)
    early.refresh_from_db()
    plan.refresh_from_db()
    assert early.status == "dna" and not DoseRecord.objects.exists() and plan.next_due_on == start
    assert (to_book(plan).phase, to_book(plan).number) == ("loading", 1)


def test_the_day_list_offers_a_reviews_actions_on_its_day_and_did_not_attend_once_its_time_has_come(
    plan, clinic, nurse, start, client
):
    import time_machine

    def review(number, at):
        return Appointment.objects.create(
            plan=plan, kind="review", number=number, due_on=at.date(), location=clinic, starts_at=at,
            slot_minutes=10, seat=1, capacity=2, booked_by=nurse,
        )  # fmt: skip

    seen, later = review(1, local(start, 9)), review(2, local(start, 11))
    wednesday = review(3, local(start + timedelta(days=2), 9))
    client.force_login(nurse)
    key = client.get(reverse("appointment-sessions"), {"on": start.isoformat()}).context["sessions"][0].session.key

    def actions(day, appointment) -> str:
        page = client.get(reverse("appointment-day-list", args=[day.isoformat(), key if day == start else wed_key]))
        return page.content.decode().split(f'data-appointment="{appointment.pk}"')[1].split("</tr>")[0]

    on_wednesday = client.get(reverse("appointment-sessions"), {"on": (start + timedelta(days=2)).isoformat()})
    wed_key = on_wednesday.context["sessions"][0].session.key
    with time_machine.travel(local(start, 9, 30), tick=False):
        client.force_login(nurse)  # (signed in again: the clock moved)
        assert "Attended" in actions(start, seen) and "Did not attend" in actions(start, seen)
        assert "Attended" in actions(start, later) and "Did not attend" not in actions(start, later)
        wednesday_row = actions(start + timedelta(days=2), wednesday)
        assert "Attended" not in wednesday_row and "Did not attend" not in wednesday_row
        with pytest.raises(ValidationError):
            services.appointment_attended(appointment=wednesday, by=nurse)
        services.appointment_attended(appointment=later, by=nurse)  # seen early on its day


def test_the_admin_refuses_a_night_session_across_the_clock_change_on_its_page(clinic, admin_client_, settings):
    """As an admin meets it: the session form says why on the page, and nothing is saved."""
    from recommender.models import Session

    settings.TIME_ZONE = "Europe/London"
    before = Session.objects.count()
    page = admin_client_.post(
        reverse("admin:recommender_session_add"),
        {"location": clinic.pk, "weekday": 6, "start": "00:30", "end": "03:00", "slot_minutes": 10, "capacity": 1},
    )
    assert page.status_code == 200 and Session.objects.count() == before
    assert "The clocks change on Sun" in html.unescape(page.content.decode())
