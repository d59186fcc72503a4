"""The home lists' rows with their words and links ready: a clinician's home shows four lists of up to fifty
patients, and the template only places the strings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from recommender.vocabulary import dose_label
from recommender.web.formats import TemplateRow, clinic_date, url_for_each

from .selectors import Listed


@dataclass(frozen=True, slots=True)
class HomeRow(TemplateRow):
    url: str
    name: str
    detail: str
    flag: str = ""  # said first, in red: "Overdue"


def _rows(listed: Listed, row) -> Listed:
    return Listed([row(item) for item in listed.rows], listed.total)


def mma_rows(listed: Listed, *, today: date) -> Listed:
    url = url_for_each("patient-detail")
    return _rows(
        listed,
        lambda a: HomeRow(
            url(a.patient.pk),
            a.patient.display_name,
            f"Sampled {clinic_date(a.sample_date, this_year=today.year)}: {a.get_status_display().lower()}; "
            f"MMA requested. Hospital no. {a.patient.hospital_number}",
        ),
    )


def _plan_rows(listed: Listed, detail) -> Listed:
    """Rows of plans linking to the plan page: the patient, then ``detail(plan)`` and the hospital number."""
    url = url_for_each("plan-detail")
    return _rows(
        listed,
        lambda p: HomeRow(url(p.pk), p.patient.display_name, f"{detail(p)}. Hospital no. {p.patient.hospital_number}"),
    )


def pending_rows(listed: Listed, *, today: date) -> Listed:
    return _plan_rows(
        listed, lambda p: f"Started {clinic_date(p.start_date, this_year=today.year)}, before the MMA result"
    )


def due_rows(listed: Listed, *, today: date) -> Listed:
    """Reviews and monitoring visits (``DuePlan``): overdue since a date, or due on one."""
    url = url_for_each("plan-detail")
    return _rows(
        listed,
        lambda d: HomeRow(
            url(d.plan.pk),
            d.plan.patient.display_name,
            f"{'since' if d.overdue else 'Due'} {clinic_date(d.due_on, this_year=today.year)}. "
            f"Hospital no. {d.plan.patient.hospital_number}",
            "Overdue" if d.overdue else "",
        ),
    )


def dose_rows(listed: Listed, *, today: date) -> Listed:
    return _plan_rows(
        listed,
        lambda p: (
            f"{dose_label(p.next_phase, p.next_number, p.loading_doses)}, due "
            f"{clinic_date(p.next_due_on, this_year=today.year)}"
        ),
    )


def dna_rows(listed: Listed, *, today: date) -> Listed:
    url = url_for_each("plan-detail")

    def row(dose) -> HomeRow:
        by = dose.recorded_by.get_full_name() or dose.recorded_by.username
        return HomeRow(
            url(dose.plan.pk),
            dose.plan.patient.display_name,
            f"{dose.get_outcome_display()}: {dose.get_phase_display().lower()} dose {dose.number}, due "
            f"{clinic_date(dose.due_date, this_year=today.year)} (recorded by {by}). "
            f"Hospital no. {dose.plan.patient.hospital_number}",
        )

    return _rows(listed, row)
