"""Shapes for recall pages: each recall row with its next action in words, and the letter's sentences."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.utils import timezone

from recommender.models import ContactAttempt, TreatmentPlan
from recommender.vocabulary import DoseState, dose_label, dose_state, words

# Phone calls (or texts) without an answer before the recall letter goes.
CALLS_BEFORE_LETTER = 2
# Days a letter is given for a reply before the patient is phoned again.
LETTER_REPLY_DAYS = 7

_CALLS = {ContactAttempt.Method.PHONE, ContactAttempt.Method.TEXT}


@dataclass(frozen=True)
class RecallRow:
    plan: TreatmentPlan
    dose_label: str
    due_since: date
    days_waiting: int
    not_yet_recorded: bool
    dnas_in_a_row: int
    last_contact_at: datetime | None
    last_contact: str  # "Phone: no answer", "" when nobody has tried yet
    next_action: str
    booked_at: datetime | None
    # The dose is due today or was due, and no booking for it is still to come: "did not attend" can be recorded.
    can_mark_did_not_attend: bool


def last_contact_words(method: str | None, outcome: str | None) -> str:
    if not method:
        return ""
    return f"{words(ContactAttempt.Method, method)}: {words(ContactAttempt.Outcome, outcome).lower()}"


def next_action(plan: TreatmentPlan, *, today: date) -> str:
    """What staff do next for a recalled patient, from the figures the recall query annotated."""
    if dose_state(plan.next_due_on, today) == DoseState.NOT_YET_RECORDED:
        return "Record the dose, or mark did not attend"
    if plan.booked_at is not None:
        return f"Booked for {_day(timezone.localtime(plan.booked_at))}: check they attend"
    outcome, method = plan.last_contact_outcome, plan.last_contact_method
    if plan.contacts_since_due == 0:
        return "Phone the patient"
    if outcome == ContactAttempt.Outcome.DECLINED:
        return "Tell the clinician: the patient declines injections"
    if outcome == ContactAttempt.Outcome.WRONG_DETAILS:
        return "Find the right contact details (GP practice), then phone"
    if outcome in (ContactAttempt.Outcome.REACHED, ContactAttempt.Outcome.BOOKED):
        return "Book the injection"
    if method == ContactAttempt.Method.LETTER:
        reply_by = timezone.localdate(plan.last_contact_at) + timedelta(days=LETTER_REPLY_DAYS)
        return (
            f"Phone again if no reply by {_day(reply_by)}"
            if reply_by > today
            else "Phone again: no reply to the letter"
        )
    if method in _CALLS and plan.contacts_since_due < CALLS_BEFORE_LETTER:
        return "Phone again"
    return "Send the recall letter"


def _day(day) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


def recall_rows(plans, *, today: date) -> list[RecallRow]:
    return [
        RecallRow(
            plan=plan,
            dose_label=dose_label(plan.next_phase, plan.next_number, plan.loading_doses),
            due_since=plan.due_since,
            days_waiting=(today - plan.due_since).days,
            not_yet_recorded=dose_state(plan.next_due_on, today) == DoseState.NOT_YET_RECORDED,
            dnas_in_a_row=plan.dnas_in_a_row,
            last_contact_at=plan.last_contact_at,
            last_contact=last_contact_words(plan.last_contact_method, plan.last_contact_outcome),
            next_action=next_action(plan, today=today),
            booked_at=plan.booked_at,
            can_mark_did_not_attend=plan.next_due_on <= today
            and (plan.booked_at is None or timezone.localdate(plan.booked_at) <= today),
        )
        for plan in plans
    ]


def letter_date(day: date) -> str:
    """A date as a letter writes it in the UK: "2 December 2026"."""
    return f"{day.day} {day:%B %Y}"


# ---- The clinic dashboard -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardWeek:
    monday: date
    due: int
    given: int
    overdue: int
    dna: int
    monitoring_overdue: int

    @property
    def dna_rate(self) -> float | None:
        """Doses not attended per 100 doses due that week; None in a week with nothing due."""
        return round(100 * self.dna / self.due, 1) if self.due else None


def dashboard_weeks(mondays: list[date], doses: dict[date, dict], monitoring: dict[date, int]) -> list[DashboardWeek]:
    """One row a week, oldest first, every week present (a quiet week is zeros, not a gap)."""
    empty = {"due": 0, "given": 0, "overdue": 0, "dna": 0}
    return [
        DashboardWeek(monday=monday, **doses.get(monday, empty), monitoring_overdue=monitoring.get(monday, 0))
        for monday in mondays
    ]


def schedule_share(counts: dict[str, int]) -> dict:
    active, on_schedule = counts["active"], counts["on_schedule"]
    return {
        "active": active,
        "on_schedule": on_schedule,
        "percent": round(100 * on_schedule / active, 1) if active else None,
    }


CSV_HEADER = [
    "week starting",
    "injections due",
    "injections given",
    "overdue",
    "did not attend",
    "DNA rate (%)",
    "monitoring visits overdue",
]


def dashboard_csv_rows(weeks: list[DashboardWeek]) -> list[list[str]]:
    """The dashboard's table as CSV rows, the header first; ISO dates so that a spreadsheet reads them."""
    rows = [CSV_HEADER]
    for week in weeks:
        rate = "" if week.dna_rate is None else f"{week.dna_rate:g}"
        rows.append(
            [
                week.monday.isoformat(),
                *map(str, (week.due, week.given, week.overdue, week.dna)),
                rate,
                str(week.monitoring_overdue),
            ]
        )
    return rows


def dashboard_totals(weeks: list[DashboardWeek]) -> dict:
    """The six months at a glance: doses due, given, overdue, not attended, and the DNA rate over them all."""
    due = sum(w.due for w in weeks)
    dna = sum(w.dna for w in weeks)
    return {
        "due": due,
        "given": sum(w.given for w in weeks),
        "overdue": sum(w.overdue for w in weeks),
        "dna": dna,
        "dna_rate": round(100 * dna / due, 1) if due else None,
    }
