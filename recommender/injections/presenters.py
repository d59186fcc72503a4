"""Shapes for injection pages: the month grid and the worklist's sections."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import quote

from recommender.guideline.schedule import add_months
from recommender.identifiers import age_on
from recommender.vocabulary import DoseState, Outcome, Phase, dose_label, dose_state, words
from recommender.web.formats import clinic_date, clinic_dob, url_for_each

MONTH_EVENT_WORDS = {"visit": "Follow-up review", "review": "Loading review"}


def _month_event_label(event: dict) -> str:
    kind = event["kind"]
    if kind in MONTH_EVENT_WORDS:
        return MONTH_EVENT_WORDS[kind]
    phase = words(Phase, event["phase"])
    if kind == "due":
        return f"{phase} {event['number']} due"
    outcome = words(Outcome, event["outcome"]).lower()
    return f"{phase} {event['number']}: {outcome}"


def month_calendar(*, month: date, events: dict, closed: dict, today: date) -> dict:
    """The month view: weeks from Monday, each day with its events in words and its closure, and the months
    either side."""
    first = month.replace(day=1)
    last = add_months(first, 1) - timedelta(days=1)
    weeks: list[list[dict]] = []
    day = first - timedelta(days=first.weekday())
    while day <= last or day.weekday() != 0:
        if day.weekday() == 0:
            weeks.append([])
        weeks[-1].append(
            {
                "date": day,
                "in_month": day.month == first.month,
                "events": [{**e, "label": _month_event_label(e)} for e in events.get(day, [])],
                "closed": closed.get(day, ""),
            }
        )
        day += timedelta(days=1)
    return {
        "month": first,
        "weeks": weeks,
        "previous_month": add_months(first, -1),
        "next_month": add_months(first, 1),
        "today": today,
    }


@dataclass(frozen=True, slots=True)
class WorklistRow:
    """One line of the worklist with its words and links ready: the page shows fifty of them."""

    plan: object
    name: str
    born: str
    age: int
    hospital_number: str
    nhs_number: str
    dose_label: str
    due: str
    note: str
    overdue_days: int
    overdue: str
    state: str
    plan_url: str
    record_url: str
    dna_url: str
    sequence: int


def worklist_sections(plans, *, on: date, today: date | None = None, back_to: str = "") -> dict[str, list]:
    """The worklist's rows in its three sections, as of ``on``: overdue, due that day, and coming up. ``back_to``
    is the page a recording returns to."""
    today = today or on
    plan_url, record_url, dna_url = (url_for_each(n) for n in ("plan-detail", "dose-record", "recall-dna"))
    record_query = f"?next={quote(back_to, safe='/')}" if back_to else ""  # as the urlencode filter writes it
    sections: dict[str, list[WorklistRow]] = {"overdue": [], "due_today": [], "upcoming": []}
    for plan in plans:
        patient = plan.patient
        overdue_days = (on - plan.next_due_on).days
        section = "overdue" if overdue_days > 0 else "due_today" if overdue_days == 0 else "upcoming"
        sections[section].append(
            WorklistRow(
                plan=plan,
                name=patient.display_name,
                born=clinic_dob(patient.date_of_birth),
                age=age_on(patient.date_of_birth, today),
                hospital_number=patient.hospital_number,
                nhs_number=patient.nhs_number_display,
                dose_label=dose_label(plan.next_phase, plan.next_number, plan.loading_doses),
                due=clinic_date(plan.next_due_on, this_year=today.year),
                note=plan.next_due_note,
                overdue_days=overdue_days,
                overdue=f"{overdue_days} day{'s' if overdue_days != 1 else ''}",
                state=DoseState(dose_state(plan.next_due_on, on)).label,
                plan_url=plan_url(plan.pk),
                record_url=f"{record_url(plan.pk)}{record_query}",
                dna_url=dna_url(plan.pk),
                sequence=plan.calendar_sequence,
            )
        )
    return sections
