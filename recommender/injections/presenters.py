"""Shapes for injection pages: the month grid and the worklist's sections."""

from __future__ import annotations

from datetime import date, timedelta

from recommender.guideline.schedule import add_months
from recommender.vocabulary import DoseState, Outcome, Phase, dose_label, dose_state, words

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


def worklist_sections(plans, *, on: date) -> dict[str, list[dict]]:
    """The worklist's rows in its three sections, as of ``on``: overdue, due that day, and coming up."""
    sections: dict[str, list[dict]] = {"overdue": [], "due_today": [], "upcoming": []}
    for plan in plans:
        overdue_days = (on - plan.next_due_on).days
        section = "overdue" if overdue_days > 0 else "due_today" if overdue_days == 0 else "upcoming"
        sections[section].append(
            {
                "plan": plan,
                "overdue_days": overdue_days,
                "dose_label": dose_label(plan.next_phase, plan.next_number, plan.loading_doses),
                "state": DoseState(dose_state(plan.next_due_on, on)).label,
            }
        )
    return sections
