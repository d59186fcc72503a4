"""Load a demo clinic: about 30 fictional patients in every state the app knows, made through the services (so every
result, plan and dose is what the app itself would have stored). Local use only: refuses when DEBUG is off.

Idempotent: a clinic already loaded is left as it is; ``--reset`` removes the demo patients and loads them again.
Dates are relative to today, so the clinic is always "current"."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from recommender.clinic import services as clinic_services
from recommender.guideline import DEFAULT_RULESET, schedule
from recommender.identifiers import nhs_number_is_valid
from recommender.injections import selectors as injections_selectors
from recommender.injections import services as injections_services
from recommender.models import Assessment, ClinicClosure, DoseRecord, LabProfile, Patient, TreatmentPlan
from recommender.roles import CLINICIAN, NURSE

# Every demo patient's hospital number starts with this: how --reset finds them, and nothing else.
DEMO_PREFIX = "DEMO"
# The NHS numbers reserved for testing start with 999: never a real patient's.
TEST_NHS_PREFIX = "999"
DEMO_LAB = "Demo hospital laboratory"
DEMO_CLOSURE_REASON = "Staff training day (demo)"
DEMO_CLOSURE_IN_DAYS = 24

DEFICIENT = {"b12": {"value": 142, "unit": "pg/mL"}}
INDETERMINATE = {"b12": {"value": 236, "unit": "pg/mL"}}
REPLETE = {"b12": {"value": 512, "unit": "pg/mL"}}


def test_nhs_numbers():
    """Valid NHS numbers (Modulus 11) from the range reserved for testing, in order."""
    for serial in range(1_000_000):
        candidate = f"{TEST_NHS_PREFIX}{serial:06d}"
        for check in range(10):
            if nhs_number_is_valid(candidate + str(check)):
                yield candidate + str(check)
                break


@dataclass
class Case:
    """One demo patient: who, what their results said and when, and how their treatment has gone since."""

    family_name: str
    given_name: str
    born: date
    state: str
    payload: dict
    sampled_days_ago: int
    plan: dict | None = None  # plan_create's options; start_date from started_days_ago
    started_days_ago: int = 0
    doses_until_days_ago: int = 0  # doses due before today minus this many days are recorded as given
    missed_last: bool = False  # the next dose due, already past, is recorded as not attended
    stable_days_ago: int | None = None
    ended_days_ago: int | None = None
    end_reason: str = ""
    follow_up: dict | None = None  # a later assessment: {"payload": ..., "days_ago": n}
    extra: dict = field(default_factory=dict)


def _with(payload: dict, **more) -> dict:
    return {**payload, **more}


MONTHS_3 = {"maintenance_every": 3, "maintenance_unit": "months"}
MONTHS_2 = {"maintenance_every": 2, "maintenance_unit": "months"}
MONTHLY = {"maintenance_every": 1, "maintenance_unit": "months"}
NEURO = {"neurological_involvement": True}

CASES = [
    # Awaiting MMA: an indeterminate total B12, no treatment yet.
    Case("Puddleby", "Horace", date(1951, 3, 14), "awaiting_mma", INDETERMINATE, 9),
    Case("Thimbleton", "Mabel", date(1964, 11, 2), "awaiting_mma", _with(INDETERMINATE, folic_acid=True), 5),
    Case("Wobblesworth", "Cedric", date(1978, 7, 21), "awaiting_mma", {"b12": {"value": 298, "unit": "ng/L"}}, 2),
    # Treatment started pending the MMA result (neurological signs, indeterminate B12).
    Case(
        "Fiddlewick",
        "Agatha",
        date(1946, 1, 30),
        "pending_mma",
        _with(INDETERMINATE, **NEURO),
        6,
        plan={**MONTHS_2, "pending_mma_reason": "Numb feet and unsteady gait: not waiting for the MMA result."},
        started_days_ago=6,
    ),
    Case(
        "Crumpetshire",
        "Basil",
        date(1958, 9, 9),
        "pending_mma",
        _with({"b12": {"value": 171, "unit": "pmol/L"}}, **NEURO),
        3,
        plan={**MONTHS_2, "pending_mma_reason": "Memory worse over a month; MMA sent, treating now."},
        started_days_ago=2,
    ),
    # Loading three times a week (two weeks, six doses).
    Case("Marmalade", "Winifred", date(1972, 4, 5), "loading_three_weekly", DEFICIENT, 8, MONTHS_3, 7),
    Case("Bramblewood", "Percy", date(1983, 12, 12), "loading_three_weekly", DEFICIENT, 4, MONTHS_2, 3),
    Case(
        "Teacosy",
        "Dorothea",
        date(1990, 6, 18),
        "loading_three_weekly",
        _with(DEFICIENT, malabsorption=True),
        10,
        MONTHS_3,
        9,
    ),
    # Neurological loading: alternate days until no further improvement; a clinician review every fortnight.
    Case("Quillfeather", "Reginald", date(1949, 2, 27), "loading_neuro", _with(DEFICIENT, **NEURO), 17, MONTHS_2, 16),
    Case(
        "Gobbledy", "Ethel", date(1967, 8, 3), "loading_neuro", _with(DEFICIENT, **NEURO, severe=True), 31, MONTHS_2, 30
    ),
    # Maintenance on time: loading done, doses given, a follow-up result.
    Case(
        "Pennywhistle",
        "Arthur",
        date(1955, 5, 25),
        "maintenance",
        DEFICIENT,
        122,
        MONTHS_3,
        120,
        follow_up={"payload": REPLETE, "days_ago": 30},
    ),
    Case(
        "Snickersnee",
        "Gwendolyn",
        date(1961, 10, 10),
        "maintenance",
        DEFICIENT,
        72,
        MONTHS_2,
        70,
        follow_up={"payload": REPLETE, "days_ago": 5},
    ),
    Case(
        "Humbleforth",
        "Clement",
        date(1939, 12, 1),
        "maintenance",
        _with(DEFICIENT, malabsorption=True),
        201,
        MONTHS_3,
        199,
        follow_up={"payload": REPLETE, "days_ago": 20},
    ),
    Case("Wigglesby", "Florence", date(1970, 3, 3), "maintenance", DEFICIENT, 45, MONTHS_2, 44),
    # Overdue: the last dose due was not given (and not recorded as missed).
    Case("Noodleham", "Bertram", date(1944, 7, 7), "overdue", DEFICIENT, 100, MONTHS_2, 98, doses_until_days_ago=40),
    Case(
        "Sprocketts",
        "Millicent",
        date(1953, 1, 19),
        "overdue",
        DEFICIENT,
        140,
        MONTHS_3,
        138,
        doses_until_days_ago=40,
    ),
    Case(
        "Blunderbuss",
        "Ignatius",
        date(1962, 2, 8),
        "overdue",
        _with(REPLETE, ileal_resection_cm=45),
        64,
        MONTHLY,
        62,
        doses_until_days_ago=40,
    ),
    # Individualised regimen: more often than the guideline, with the clinical reason.
    Case(
        "Pickleworth",
        "Hortense",
        date(1957, 6, 30),
        "individualised",
        _with(DEFICIENT, malabsorption=True),
        150,
        {
            "maintenance_every": 6,
            "maintenance_unit": "weeks",
            "individualised": True,
            "individualised_reason": "Tingling returns in the ninth week: every six weeks keeps her symptom-free.",
        },
        148,
    ),
    Case(
        "Fumbleton",
        "Rupert",
        date(1975, 9, 14),
        "individualised",
        DEFICIENT,
        90,
        {
            "maintenance_every": 1,
            "maintenance_unit": "months",
            "individualised": True,
            "individualised_reason": "Fatigue returns after four weeks (agreed with haematology).",
        },
        88,
    ),
    # Ileal resection (more than 20 cm of distal ileum): monthly, lifelong, without a deficiency.
    Case(
        "Gristlethwaite",
        "Ophelia",
        date(1980, 1, 1),
        "ileal_resection",
        _with(REPLETE, ileal_resection_cm=60),
        40,
        MONTHLY,
        38,
    ),
    # Bariatric surgery: every 3 months.
    Case(
        "Tumbledown",
        "Cuthbert",
        date(1985, 5, 5),
        "bariatric_surgery",
        _with(REPLETE, bariatric_surgery=True),
        35,
        MONTHS_3,
        33,
    ),
    Case(
        "Muddlecombe",
        "Prudence",
        date(1979, 11, 11),
        "bariatric_surgery",
        _with(REPLETE, bariatric_surgery=True),
        200,
        MONTHS_3,
        198,
    ),
    # Pregnant or breastfeeding: monitoring monthly at first.
    Case("Butterwick", "Rosamund", date(1994, 2, 14), "pregnant", _with(DEFICIENT, pregnant=True), 40, MONTHS_3, 38),
    Case(
        "Dandelyon",
        "Imogen",
        date(1996, 8, 8),
        "pregnant",
        _with(DEFICIENT, pregnant=True, folic_acid=True),
        12,
        MONTHS_3,
        11,
    ),
    # Stable: monitoring yearly from the stable date.
    Case(
        "Grumbleton",
        "Ambrose",
        date(1942, 4, 4),
        "stable",
        DEFICIENT,
        330,
        MONTHS_3,
        328,
        stable_days_ago=140,
        follow_up={"payload": REPLETE, "days_ago": 145},
    ),
    Case(
        "Wrinklebottom",
        "Edith",
        date(1948, 12, 24),
        "stable",
        _with(DEFICIENT, malabsorption=True),
        300,
        MONTHS_3,
        298,
        stable_days_ago=100,
        follow_up={"payload": REPLETE, "days_ago": 105},
    ),
    # Plan ended.
    Case(
        "Knickerbocker",
        "Lionel",
        date(1960, 10, 31),
        "ended",
        DEFICIENT,
        210,
        MONTHS_3,
        208,
        ended_days_ago=30,
        end_reason="Moved out of the area: care handed to the new GP practice.",
    ),
    Case(
        "Pottersfield",
        "Hyacinth",
        date(1973, 3, 17),
        "ended",
        DEFICIENT,
        160,
        MONTHS_3,
        158,
        ended_days_ago=12,
        end_reason="Dietary cause corrected; switched to oral cyanocobalamin after review.",
    ),
    # Did not attend: the dose due was recorded as missed, to follow up.
    Case(
        "Scatterbrook",
        "Norbert",
        date(1966, 6, 6),
        "dna",
        DEFICIENT,
        82,
        MONTHS_2,
        80,
        missed_last=True,
    ),
    Case(
        "Flapjackson",
        "Theodora",
        date(1988, 9, 19),
        "dna",
        DEFICIENT,
        10,
        MONTHS_3,
        9,
        missed_last=True,
    ),
    # Not deficient: results on file, nothing to treat.
    Case("Kettleby", "Osbert", date(1959, 1, 23), "not_deficient", REPLETE, 20),
    Case("Honeysett", "Marjorie", date(1982, 10, 4), "not_deficient", {"b12": {"value": 402, "unit": "ng/L"}}, 15),
]


def demo_patients():
    return Patient.objects.filter(hospital_number__startswith=DEMO_PREFIX)


def remove_demo_clinic() -> int:
    """Delete the demo patients and everything recorded about them (clinical records are otherwise never deleted)."""
    patients = demo_patients()
    plans = TreatmentPlan.objects.filter(patient__in=patients)
    doses = DoseRecord.objects.filter(plan__in=plans)
    doses.update(replaced_by=None)
    doses.delete()
    plans.update(superseded_by=None)
    plans.delete()
    Assessment.objects.filter(patient__in=patients).delete()
    count, _ = patients.delete()
    ClinicClosure.objects.filter(reason=DEMO_CLOSURE_REASON).delete()
    return count


class DemoClinic:
    """Builds the cases through the services, as the clinician and the nurse would have recorded them."""

    def __init__(self, *, clinician, nurse, today: date) -> None:
        self.clinician, self.nurse, self.today = clinician, nurse, today
        self.lab = LabProfile.objects.filter(is_default=True).first()

    def days_ago(self, days: int) -> date:
        return self.today - timedelta(days=days)

    def at_ten(self, day: date) -> datetime:
        return timezone.make_aware(datetime.combine(day, time(10, 0)))

    def build(self, case: Case, *, hospital_number: str, nhs_number: str) -> Patient:
        patient = clinic_services.patient_create(
            hospital_number=hospital_number,
            family_name=case.family_name,
            given_name=case.given_name,
            date_of_birth=case.born,
            nhs_number=nhs_number,
            by=self.clinician,
        )
        plan_options = None
        if case.plan is not None:
            plan_options = {**case.plan, "start_date": self.days_ago(case.started_days_ago)}
        _assessment, plan = clinic_services.assessment_record(
            patient=patient,
            sample_date=self.days_ago(case.sampled_days_ago),
            payload=case.payload,
            lab_profile=self.lab,
            plan_options=plan_options,
            by=self.clinician,
        )
        if plan is None:
            return patient
        last_dose = case.ended_days_ago if case.ended_days_ago is not None else case.doses_until_days_ago
        before = self.days_ago(last_dose)
        if case.missed_last:
            before = self.last_due_before_today(plan) or before
        self.give_doses(plan, before=before)
        if case.follow_up:
            clinic_services.assessment_create(
                patient=patient,
                sample_date=self.days_ago(case.follow_up["days_ago"]),
                payload=case.follow_up["payload"],
                lab_profile=self.lab,
                by=self.clinician,
            )
        if case.stable_days_ago is not None:
            clinic_services.plan_mark_stable(
                plan=plan,
                on=self.days_ago(case.stable_days_ago),
                reason="Symptom-free for three months; full blood count normal.",
                by=self.clinician,
            )
        if case.missed_last:
            plan.refresh_from_db()
            if plan.next_due_on >= self.today:
                raise CommandError(f"Demo case {case.family_name}: the dose to miss is not yet due.")
            injections_services.dose_record(
                plan=plan,
                phase=plan.next_phase,
                number=plan.next_number,
                outcome=DoseRecord.Outcome.MISSED,
                reason="Did not attend; no message left.",
                by=self.nurse,
            )
        if case.ended_days_ago is not None:
            clinic_services.plan_end(
                plan=plan, reason=case.end_reason, on=self.days_ago(case.ended_days_ago), by=self.clinician
            )
        return patient

    def last_due_before_today(self, plan: TreatmentPlan) -> date | None:
        """The due date of the plan's last dose before today, were every dose given on its day."""
        facts = injections_selectors.plan_facts(plan)
        doses = schedule.upcoming_doses(
            facts, injections_selectors.plan_dose_events(plan), until=self.today - timedelta(days=1), limit=500
        )
        return doses[-1].due if doses else None

    def give_doses(self, plan: TreatmentPlan, *, before: date) -> None:
        """Every dose due before ``before`` (and before today), given at 10:00 on its due day."""
        sites = [DoseRecord.Site.LEFT_DELTOID, DoseRecord.Site.RIGHT_DELTOID]
        first = True
        while True:
            plan.refresh_from_db()
            due = plan.next_due_on
            if due is None or due >= min(before, self.today):
                return
            injections_services.dose_record(
                plan=plan,
                phase=plan.next_phase,
                number=plan.next_number,
                outcome=DoseRecord.Outcome.GIVEN,
                given_at=self.at_ten(due),
                dose_mg=Decimal(DEFAULT_RULESET.dose_mg),
                route=DEFAULT_RULESET.route,
                site=sites[plan.next_number % 2],
                batch=f"HX{due:%y%m}A",
                expiry=due + timedelta(days=365),
                allergy_checked=first,
                baseline_sample_taken=first,
                by=self.nurse,
            )
            first = False


def load_demo_clinic(*, clinician=None, nurse=None, today: date | None = None) -> int:
    """Create the demo cases, recorded by the demo users unless others are given. Returns how many patients were
    created."""
    User = get_user_model()
    clinician = clinician or User.objects.get(username=CLINICIAN)
    nurse = nurse or User.objects.get(username=NURSE)
    if not LabProfile.objects.exists():
        clinic_services.lab_profile_make_default(profile=LabProfile(name=DEMO_LAB), by=clinician)
    clinic = DemoClinic(clinician=clinician, nurse=nurse, today=today or timezone.localdate())
    numbers = test_nhs_numbers()
    for serial, case in enumerate(CASES, start=1):
        clinic.build(case, hospital_number=f"{DEMO_PREFIX}{serial:03d}", nhs_number=next(numbers))
    # A day the clinic would otherwise be open, so that the closure moves someone's dose.
    closure_day = schedule.next_open_day(
        clinic.days_ago(-DEMO_CLOSURE_IN_DAYS),
        injections_selectors.clinic_days(),
        injections_selectors.clinic_calendar(),
    )
    if not ClinicClosure.objects.filter(date=closure_day).exists():
        injections_services.clinic_closure_save(
            closure=ClinicClosure(date=closure_day, reason=DEMO_CLOSURE_REASON), by=clinician
        )
    return len(CASES)


class Command(BaseCommand):
    help = (
        "Load a demo clinic of about 30 fictional patients in every state (and the demo users). "
        "Runs only with DEBUG on; does nothing if the demo clinic is already loaded unless --reset is given."
    )

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="Remove the demo patients and load them again.")
        parser.add_argument(
            "--skip-without-debug",
            action="store_true",
            help="With DEBUG off, say so and stop without an error (for make run).",
        )

    def handle(self, *args, **options):
        if not settings.DEBUG and options["skip_without_debug"]:
            self.stdout.write("DEBUG is off: no demo clinic (and no demo users).")
            return
        if not settings.DEBUG:
            raise CommandError(
                "demo_clinic writes fictional patients and published demo accounts: it only runs with DEBUG on."
            )
        call_command("demo_users", stdout=self.stdout)
        with transaction.atomic():
            if options["reset"]:
                removed = remove_demo_clinic()
                self.stdout.write(f"Removed {removed} demo patients and their records.")
            elif demo_patients().exists():
                self.stdout.write("The demo clinic is already loaded (use --reset to start again).")
                return
            created = load_demo_clinic()
        self.stdout.write(self.style.SUCCESS(f"Demo clinic loaded: {created} fictional patients."))
