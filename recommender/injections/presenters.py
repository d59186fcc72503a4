"""Shapes for injection pages: the month grid and the worklist's sections."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import quote

from django.template.defaultfilters import floatformat
from django.utils import timezone

from recommender.guideline.schedule import add_months
from recommender.identifiers import age_on, nhs_number_display
from recommender.injections.selectors import WorklistLine
from recommender.models import Patient
from recommender.vocabulary import DoseState, Outcome, Phase, dose_label, dose_state, words
from recommender.web.formats import TemplateRow, clinic_date, clinic_dob, html_text, url_for_each

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
        in_month = day.month == first.month
        weeks[-1].append(
            {
                "date": day,
                "number": html_text(day.day),  # printed as is: an int would go through number formatting
                "in_month": in_month,
                # The cell's classes here, not as two {% if %} in each of the grid's 42 cells.
                "css": html_text(
                    " ".join(
                        name
                        for name, on in (("text-body-secondary", not in_month), ("month-today", day == today))
                        if on
                    )
                ),
                "events": [
                    {**e, "kind": html_text(e["kind"]), "label": html_text(_month_event_label(e))}
                    for e in events.get(day, [])
                ],
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
class WorklistRow(TemplateRow):
    """One line of the worklist with its words and links ready: the page shows fifty of them (numbers it prints are
    strings: an int in a template goes through number formatting, fifty rows of it). The text is escaped for HTML
    here, once (``html_text``)."""

    plan: object
    plan_id: str
    name: str
    born: str
    age: str
    hospital_number: str
    nhs_number: str
    dose_label: str
    due: str
    note: str
    overdue_days: int
    is_overdue: bool
    overdue: str
    state: str
    what_for: str  # "Loading 2 of 6 for ZED, Ann": the actions' labels for a screen reader
    offer_dna: bool  # overdue, on today's worklist: the row offers "Did not attend"
    plan_url: str
    record_url: str
    dna_url: str
    sequence: str


_DISPLAY_NAME = Patient.display_name.fget  # the patient's name as every page shows it


def worklist_sections(lines, *, on: date, today: date | None = None, back_to: str = "") -> dict[str, list]:
    """The worklist's rows in its three sections, as of ``on``: overdue, due that day, and coming up, from the lines
    ``worklist_lines`` reads (``plan`` is each row's ``WorklistLine``). ``back_to`` is the page a recording returns
    to."""
    today = today or on
    plan_url, record_url, dna_url = (url_for_each(n) for n in ("plan-detail", "dose-record", "recall-dna"))
    record_query = f"?next={quote(back_to, safe='/')}" if back_to else ""  # as the urlencode filter writes it
    sections: dict[str, list[WorklistRow]] = {"overdue": [], "due_today": [], "upcoming": []}
    for plan in map(WorklistLine._make, lines):
        overdue_days = (on - plan.next_due_on).days
        section = "overdue" if overdue_days > 0 else "due_today" if overdue_days == 0 else "upcoming"
        name, label = _DISPLAY_NAME(plan), dose_label(plan.next_phase, plan.next_number, plan.loading_doses)
        sections[section].append(
            WorklistRow(
                plan=plan,
                plan_id=html_text(plan.pk),
                name=html_text(name),
                born=html_text(clinic_dob(plan.date_of_birth)),
                age=html_text(age_on(plan.date_of_birth, today)),
                hospital_number=html_text(plan.hospital_number),
                nhs_number=html_text(nhs_number_display(plan.nhs_number)) if plan.nhs_number else "",
                dose_label=html_text(label),
                due=html_text(clinic_date(plan.next_due_on, this_year=today.year)),
                note=html_text(plan.next_due_note),
                overdue_days=overdue_days,
                is_overdue=overdue_days > 0,
                overdue=html_text(f"{overdue_days} day{'s' if overdue_days != 1 else ''}"),
                state=html_text(DoseState(dose_state(plan.next_due_on, on)).label),
                what_for=html_text(f"{label} for {name}"),
                offer_dna=overdue_days > 0 and on == today,
                plan_url=plan_url(plan.pk),
                record_url=html_text(f"{record_url(plan.pk)}{record_query}"),
                dna_url=dna_url(plan.pk),
                sequence=html_text(plan.calendar_sequence),
            )
        )
    return sections


@dataclass(frozen=True, slots=True)
class DoseRow(TemplateRow):
    """One record in a plan's dose table, its words ready (the plan page shows ten, the all-doses page fifty)."""

    pk: object
    entered_in_error: bool
    label: str
    due: str
    outcome: str
    early: bool
    when: str
    details: str
    by: str
    correct_url: str  # empty: no correcting it here
    error_url: str  # empty: not the record a nurse may mark entered in error


def _dose_details(dose) -> str:
    if dose.outcome != Outcome.GIVEN:
        details = dose.reason
    else:
        details = (
            f"{floatformat(dose.dose_mg, '-2')} mg {dose.route}, {dose.get_site_display()}, batch {dose.batch} "
            f"(exp {dose.expiry.month:02d}/{dose.expiry.year})"
        )
        if dose.early_reason:
            details += f" · early: {dose.early_reason}"
        checks = [
            words
            for done, words in (
                (dose.allergy_checked, "cobalt allergy asked"),
                (dose.baseline_sample_taken, "baseline sample taken"),
            )
            if done
        ]
        if checks:
            details += f" · first dose: {', '.join(checks)}"
    if dose.entered_in_error:
        details += f" · {dose.error_reason}"
        if dose.replaced_by_id:
            details += " (replaced by the corrected record)"
    return details


def dose_rows(doses, *, latest_dose, can_record: bool) -> list[DoseRow]:
    """The rows of a plan's dose table: what was recorded, by whom, and the corrections a nurse may make."""
    correct_url, error_url = url_for_each("dose-correct"), url_for_each("dose-error")
    latest_pk = latest_dose.pk if latest_dose is not None else None
    rows = []
    for dose in doses:
        live = can_record and not dose.entered_in_error
        if dose.given_at:
            given = timezone.localtime(dose.given_at)
            when = f"{clinic_dob(given)} {given:%H:%M}"
        else:
            when = clinic_dob(timezone.localdate(dose.recorded_at))
        rows.append(
            DoseRow(
                pk=dose.pk,
                entered_in_error=dose.entered_in_error,
                label=html_text(f"{dose.get_phase_display()} {dose.number}"),
                due=html_text(clinic_dob(dose.due_date)),
                outcome=html_text(dose.get_outcome_display()),
                early=bool(dose.early_reason),
                when=html_text(when),
                details=_dose_details(dose),
                by=dose.recorded_by.get_full_name() or dose.recorded_by.username,
                correct_url=correct_url(dose.pk) if live and dose.outcome == Outcome.GIVEN else "",
                error_url=error_url(dose.pk) if live and dose.pk == latest_pk else "",
            )
        )
    return rows
