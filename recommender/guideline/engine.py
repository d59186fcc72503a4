"""The decision: from an ``Assessment`` and a ruleset to a ``Recommendation`` (the contract's response).

Pure functions of their inputs; thresholds are compared exactly, in the unit the result was entered in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from operator import attrgetter
from typing import NamedTuple

from .citations import BNF_MONOGRAPH, CITATIONS, secondary_only
from .inputs import Assessment
from .ruleset import (
    DEFAULT_RULESET,
    ROUTE_WORDS,
    Bands,
    LoadingCourse,
    MaintenanceInterval,
    OralDose,
    Ruleset,
    Thresholds,
)
from .units import (
    ACTIVE_B12_UNITS,
    MMA_UNITS,
    PG_PER_ML,
    PMOL_PER_L,
    TOTAL_B12_UNITS,
    UMOL_PER_L,
    convert,
    shown_unit,
    threshold_in,
)

DEFICIENT = "deficient"
INDETERMINATE = "indeterminate"
NOT_DEFICIENT = "not_deficient"
_SEVERITY = {NOT_DEFICIENT: 0, INDETERMINATE: 1, DEFICIENT: 2}

RED_FLAG = "red_flag"
CAUTION = "caution"
ADVICE = "advice"


class Statement(NamedTuple):
    """A sentence of the rationale and its sources. The words are formatted when read, not when decided."""

    template: str
    citations: tuple[str, ...]
    args: tuple = ()

    @property
    def text(self) -> str:
        return self.template.format(*self.args) if self.args else self.template

    def as_dict(self) -> dict:
        return {"text": self.text, "citations": list(self.citations), "secondary_only": secondary_only(self.citations)}


class Alert(NamedTuple):
    """A warning code with its level (red_flag, caution or advice), its words and its sources."""

    code: str
    level: str
    template: str
    citations: tuple[str, ...]
    args: tuple = ()

    @property
    def text(self) -> str:
        return self.template.format(*self.args) if self.args else self.template

    def as_dict(self) -> dict:
        return {
            "code": self.code,
            "level": self.level,
            "text": self.text,
            "citations": list(self.citations),
            "secondary_only": secondary_only(self.citations),
        }


@dataclass(frozen=True, slots=True)
class PendingTreatment:
    """Treatment a clinician may start before the MMA result: neurological signs must not wait for it."""

    loading: LoadingCourse
    maintenance: MaintenanceInterval
    reason: str


@dataclass(frozen=True, slots=True)
class Recommendation:
    status: str
    basis: str
    next_test: str | None
    im_recommended: bool
    indications: tuple[str, ...]
    loading: LoadingCourse | None
    maintenance: MaintenanceInterval | None
    oral_option: OralDose | None
    alerts: tuple[Alert, ...]
    monitoring: dict | None
    rationale: tuple[Statement, ...]
    ruleset: Ruleset
    thresholds: Thresholds
    assessment: Assessment
    mma_limit: Decimal | None
    headline: str = ""
    pending_mma: PendingTreatment | None = None

    def measurements(self) -> dict:
        """Each entered result with its conversions and what it says on its own (for display)."""
        a, th = self.assessment, self.thresholds
        out: dict = {}
        if a.b12 is not None:
            b = a.b12
            out["b12"] = {
                "value": _num(b.value),
                "unit": b.unit,
                "pg_per_ml": round(float(convert(b.value, b.unit, PG_PER_ML, TOTAL_B12_UNITS)), 1),
                "pmol_per_l": round(float(convert(b.value, b.unit, PMOL_PER_L, TOTAL_B12_UNITS)), 1),
                "status": _classify(b.value, b.unit, th.total_b12, TOTAL_B12_UNITS),
            }
        if a.active_b12 is not None:
            ab = a.active_b12
            out["active_b12"] = {
                "value": _num(ab.value),
                "unit": ab.unit,
                "status": _classify(ab.value, ab.unit, th.active_b12, ACTIVE_B12_UNITS),
            }
        if a.mma is not None and self.mma_limit is not None:
            m = a.mma
            out["mma"] = {
                "value": _num(m.value),
                "unit": m.unit,
                "umol_per_l": float(convert(m.value, m.unit, UMOL_PER_L, MMA_UNITS)),
                "upper_limit": _num(self.mma_limit),
                "lab_upper_limit": m.upper_limit is not None,
                "elevated": m.value > self.mma_limit,
            }
        if a.homocysteine is not None:
            out["homocysteine"] = {
                "value": _num(a.homocysteine.value),
                "unit": a.homocysteine.unit,
                "at_target": a.homocysteine.value < self.ruleset.monitoring.homocysteine_target_umol_l,
            }
        return out

    @property
    def warnings(self) -> list[str]:
        return [a.code for a in self.alerts]

    @property
    def cited_ids(self) -> list[str]:
        seen: dict[str, None] = {}
        lines = (self.monitoring or {}).get("statements", [])
        for citations in (
            *(item.citations for item in (*self.rationale, *self.alerts)),
            *(s["citations"] for s in lines),
        ):
            for cid in citations:
                seen.setdefault(cid, None)
        return list(seen)

    def as_dict(self) -> dict:
        rs = self.ruleset
        oral = None
        if self.oral_option is not None:
            oral = {
                "dose_mcg": {
                    "min": self.oral_option.min_mcg,
                    "max": self.oral_option.max_mcg,
                },
                "frequency": "daily",
                "after_loading": self.oral_option.after_loading,
                "citations": list(self.oral_option.citations),
            }
        pending = None
        if self.pending_mma is not None:
            pending = {
                "loading": _loading_dict(self.pending_mma.loading, rs),
                "maintenance": _maintenance_dict(self.pending_mma.maintenance, rs),
                "reason": self.pending_mma.reason,
            }
        return {
            "status": self.status,
            "basis": self.basis,
            "next_test": self.next_test,
            "im_recommended": self.im_recommended,
            "indications": list(self.indications),
            "headline": self.headline,
            "loading": _loading_dict(self.loading, rs) if self.loading is not None else None,
            "maintenance": _maintenance_dict(self.maintenance, rs) if self.maintenance is not None else None,
            "oral_option": oral,
            "treatment_pending_mma": pending,
            "warnings": self.warnings,
            "alerts": [a.as_dict() for a in self.alerts],
            "monitoring": self.monitoring,
            "ruleset": rs.identity(),
            "thresholds": self.thresholds.as_dict(),
            "measurements": self.measurements(),
            "rationale": [s.as_dict() for s in self.rationale],
            "citations": [CITATIONS[c].as_dict() for c in self.cited_ids],
        }


class _Unfrozen:
    """The slots of ``Recommendation`` without its frozen ``__setattr__``: ``decide`` fills one with plain attribute
    stores and then makes it a ``Recommendation`` (``__class__`` assignment; the two layouts are the same).

    A frozen dataclass sets each of its 17 fields through ``object.__setattr__``; that alone was about a third of a
    simple decision. The object handed out is an ordinary frozen ``Recommendation`` (its ``__init__``, equality and
    immutability unchanged); every field is set by ``decide`` (tests/test_engine_speed.py checks both)."""

    __slots__ = Recommendation.__slots__


def _loading_dict(course: LoadingCourse, rs: Ruleset) -> dict:
    return {
        "drug": rs.drug,
        "dose_mg": rs.dose_mg,
        "route": rs.route,
        "pattern": course.pattern,
        "weeks": course.weeks,
        "until": course.until,
        "doses": course.total_doses,
        "text": loading_text(course, rs),
        "citations": list(course.citations),
    }


def _maintenance_dict(interval: MaintenanceInterval, rs: Ruleset) -> dict:
    return {
        "drug": rs.drug,
        "dose_mg": rs.dose_mg,
        "route": rs.route,
        "every_months": {"min": interval.min_months, "max": interval.max_months},
        "lifelong": interval.lifelong,
        "text": maintenance_text(interval, rs),
        "citations": list(interval.citations),
    }


def _num(value: Decimal) -> int | float:
    """A JSON number for a Decimal: an int when whole, else a float."""
    return int(value) if value == value.to_integral_value() else float(value)


def _classify(value: Decimal, unit: str, bands: Bands, units: dict[str, Decimal]) -> str:
    factor = units[unit]  # each threshold in the unit entered, exactly: threshold_in, inlined (every decision)
    if value < bands.deficient_below * factor:
        return DEFICIENT
    if value <= bands.not_deficient_above * factor:
        return INDETERMINATE
    return NOT_DEFICIENT


# How each band reads in a sentence: {0}–{3} describe the result, {4} and {5} are the thresholds, {6} their unit.
_BAND_WORDS = {
    DEFICIENT: " is below {4:f} {6}: deficiency confirmed.",
    INDETERMINATE: " is between {4:f} and {5:f} {6} inclusive: indeterminate.",
    NOT_DEFICIENT: " is above {5:f} {6}: deficiency unlikely.",
}


def _band_statement(prefix: str, result: tuple, status: str, bands: Bands) -> Statement:
    return Statement(
        prefix + _BAND_WORDS[status],
        bands.citations,
        (*result, bands.deficient_below, bands.not_deficient_above, bands.unit),
    )


def loading_text(course: LoadingCourse, rs: Ruleset) -> str:
    if course.pattern == "three_times_weekly":
        return (
            f"{rs.drug.capitalize()} {rs.dose_mg} mg {rs.route} three times a week for {course.weeks} weeks "
            f"({course.total_doses} doses)."
        )
    return (
        f"{rs.drug.capitalize()} {rs.dose_mg} mg {rs.route} on alternate days until there is no further improvement "
        "(a clinician ends this phase; it does not end by itself)."
    )


def maintenance_text(interval: MaintenanceInterval, rs: Ruleset) -> str:
    if interval.min_months == interval.max_months:
        every = "every month" if interval.min_months == 1 else f"every {interval.min_months} months"
    else:
        every = f"every {interval.min_months} to {interval.max_months} months"
    life = ", for life" if interval.lifelong else ""
    return f"{rs.drug.capitalize()} {rs.dose_mg} mg {rs.route} {every}{life}."


class _LoadingWords:
    """Formats a loading course lazily inside a rationale sentence."""

    __slots__ = ("course", "rs")

    def __init__(self, course: LoadingCourse, rs: Ruleset):
        self.course, self.rs = course, rs

    def __format__(self, spec: str) -> str:
        text = loading_text(self.course, self.rs)
        return text[0].lower() + text[1:]


class _MaintenanceWords(_LoadingWords):
    def __format__(self, spec: str) -> str:
        return maintenance_text(self.course, self.rs)  # type: ignore[arg-type]


_MONITORING_CAVEATS = (
    Statement(
        "British haematology guidance advises against re-testing serum B12 on treatment: results rise with any "
        "dosing whether or not treatment works.",
        ("bsh-2014",),
    ),
    Statement(
        "No guideline backs the homocysteine target; review symptoms first.",
        ("nice-ng239", "bsh-2014"),
    ),
)
_CAVEAT = Statement(
    "Caveat: re-testing serum B12 on treatment is uninformative, and the homocysteine target has no guideline support.",
    ("bsh-2014", "nice-ng239"),
)
_NO_INDICATION = "No indication for {0} {1} under this ruleset."
_CONSIDER_MMA = Statement(
    "The result is indeterminate. NICE NG239 suggests considering a methylmalonic acid (MMA) test when the person "
    "has symptoms of deficiency; this ruleset lets MMA decide (above the upper limit: deficient).",
    ("nice-ng239", "afp-2025"),
)
# IM is the seed's route, not the only one the evidence supports.
_DEFICIENCY_ROUTE = (
    "B12 deficiency: this ruleset (the seed summary) treats it with {0} {1}. The 2025 AFP "
    "review finds high-dose oral B12 non-inferior to {2} for many patients; {2} is preferred with neurological "
    "involvement, severe deficiency or malabsorption."
)
# The ruleset's maintenance without neurological involvement is the BNF's: its upper end was the BNF's one interval.
_BNF_2021 = (
    "The BNF's maintenance interval of every {0} to {1} months dates from 2021; "
    "before that it advised every {1} months."
)
_PENDING_REASON = (
    "Neurological signs with an indeterminate B12 and no MMA yet: take the MMA sample now and start alternate-day "
    "loading without waiting for it; when the MMA result is entered it confirms the plan or asks for its review."
)
_INDICATION_WORDS = {
    "deficiency": "B12 deficiency",
    "ileal_resection": "prophylaxis after distal ileal resection",
    "bariatric_surgery": "prophylaxis after bariatric surgery",
}


def _combined(intervals: list[MaintenanceInterval]) -> MaintenanceInterval:
    """Several indications: the shortest interval that applies (smallest min, smallest max), every source."""
    if len(intervals) == 1:
        return intervals[0]
    return MaintenanceInterval(
        min_months=min(i.min_months for i in intervals),
        max_months=min(i.max_months for i in intervals),
        lifelong=any(i.lifelong for i in intervals),
        citations=tuple(dict.fromkeys(c for i in intervals for c in i.citations)),
    )


def _headline(
    rs: Ruleset, *, status: str, indications: list[str], pending: bool, neuro: bool, renal_caution: bool
) -> str:
    """One sentence the page leads with; it says what the regimen and the alerts say, never the opposite."""
    if pending:
        return (
            "Neurological signs with an indeterminate B12: take the MMA sample now and start alternate-day "
            f"{rs.route} {rs.drug} without waiting for the result."
        )
    if indications:
        reasons = [_INDICATION_WORDS[i] for i in indications]
        if neuro and "deficiency" in indications:
            reasons[0] += " with neurological involvement"
        text = f"{rs.route} {rs.drug} is recommended for " + " and ".join(reasons)
        if renal_caution and "deficiency" in indications:
            text += ", though the raised MMA may be renal (check the caution)"
        elif status == INDETERMINATE:
            text += "; the B12 result itself is indeterminate (an MMA test can decide it)"
        return text + "."
    if status == INDETERMINATE:
        return (
            f"Indeterminate B12: {rs.route} {rs.drug} is not indicated under this ruleset until an MMA result decides "
            "(NICE suggests considering MMA when there are symptoms)."
        )
    if neuro:
        return (
            f"{rs.route} {rs.drug} is not indicated on these results, but the neurological signs need urgent "
            "specialist advice."
        )
    return f"{rs.route} {rs.drug} is not indicated: deficiency is unlikely on these results."


_INDETERMINATE_NEURO_WORDS = (
    "Neurological signs with an indeterminate result: take the MMA sample now and start alternate-day loading "
    "without waiting for the result (the treatment pending MMA below); review the plan when it is back."
)


# ---------------------------------------------------------------------------------------------------------------
# The questions the decision answers, one function each: status (with MMA), indications, regimen, alerts,
# monitoring. ``decide`` asks them in that order and assembles the ``Recommendation``.


class StatusFinding(NamedTuple):
    """What the results say: the status, which result decided it, and what the MMA added."""

    status: str
    basis: str
    mma_limit: Decimal | None
    mma_elevated: bool
    renal_caution: bool
    rationale: tuple[Statement, ...]
    next_test: str | None  # "mma" when the status is indeterminate


def _b12_status(a: Assessment, th: Thresholds) -> tuple[str, str, list[Statement]]:
    """Status from total and/or active B12: the more abnormal result decides."""
    status = basis = ""
    why: list[Statement] = []
    if a.b12 is not None:
        b = a.b12
        status, basis = _classify(b.value, b.unit, th.total_b12, TOTAL_B12_UNITS), "b12"
        other_unit = PG_PER_ML if b.unit == PMOL_PER_L else PMOL_PER_L
        other = b.value / TOTAL_B12_UNITS[b.unit] * TOTAL_B12_UNITS[other_unit]  # convert(), inlined
        why.append(
            _band_statement(
                "Total B12 {0:f} {1} (= {2:.1f} {3})", (b.value, b.unit, other, other_unit), status, th.total_b12
            )
        )
    if a.active_b12 is not None:
        ab = a.active_b12
        active = _classify(ab.value, ab.unit, th.active_b12, ACTIVE_B12_UNITS)
        why.append(_band_statement("Active B12 {0:f} {1}", (ab.value, ab.unit, None, None), active, th.active_b12))
        if not status:
            status, basis = active, "active_b12"
        else:
            if _SEVERITY[active] > _SEVERITY[status]:
                status, basis = active, "active_b12"
            why.append(
                Statement(
                    "Total and active B12 were both measured: the more abnormal result decides ({0} B12).",
                    ("nice-ng239",),
                    ("total" if basis == "b12" else "active",),
                )
            )
    return status, basis, why


def _status(a: Assessment, rs: Ruleset, th: Thresholds) -> StatusFinding:
    """The B12 status; MMA decides an indeterminate result, it never overrides a clear band."""
    status, basis, why = _b12_status(a, th)
    m = a.mma
    if m is None:
        return _finding(status, basis, None, False, False, why)
    limit = m.upper_limit if m.upper_limit is not None else threshold_in(th.mma_upper_limit_umol_l, m.unit, MMA_UNITS)
    elevated = m.value > limit
    renal = elevated and a.egfr is not None and a.egfr < rs.egfr_renal_below
    words = (
        "MMA {0:f} {1} is "
        + ("above" if elevated else "not above")
        + (" the lab's upper reference limit" if m.upper_limit is not None else " the default upper limit")
        + " ({2:f} {1})"
    )
    if status == INDETERMINATE:
        status, basis = (DEFICIENT if elevated else NOT_DEFICIENT), "mma"
        if renal:
            words += ": deficient under this ruleset, but not confirmed: with eGFR below {3:f} the MMA may be renal."
        else:
            words += ": deficiency confirmed." if elevated else ": deficiency not confirmed."
    else:
        words += "; the B12 result already decided the status."
    why.append(
        Statement(
            words,
            (*th.mma_citations, *(rs.egfr_citations if renal else ())),
            (m.value, shown_unit(m.unit), limit.normalize(), rs.egfr_renal_below),
        )
    )
    return _finding(status, basis, limit, elevated, renal, why)


def _finding(
    status: str, basis: str, limit: Decimal | None, elevated: bool, renal: bool, why: list[Statement]
) -> StatusFinding:
    """An indeterminate status asks for the MMA test, and says so."""
    if status == INDETERMINATE:
        return StatusFinding(status, basis, limit, elevated, renal, (*why, _CONSIDER_MMA), "mma")
    return StatusFinding(status, basis, limit, elevated, renal, tuple(why), None)


def _indications(a: Assessment, rs: Ruleset, status: str) -> tuple[tuple[str, ...], list[Statement]]:
    """Each indication for IM hydroxocobalamin applies on its own."""
    indications: list[str] = []
    why: list[Statement] = []
    if status == DEFICIENT:
        indications.append("deficiency")
        why.append(_ruleset_words(rs).deficiency_route)
    cm = a.ileal_resection_cm
    if cm > rs.ileal_resection_above_cm:
        indications.append("ileal_resection")
        why.append(
            Statement(
                "Distal ileal resection of {0:f} cm (more than {1:f} cm): prophylactic injections for life, whatever "
                "the B12 level.",
                rs.ileal_resection_citations,
                (cm, rs.ileal_resection_above_cm),
            )
        )
    elif cm > 0:
        why.append(
            Statement(
                "Distal ileal resection of {0:f} cm is not more than {1:f} cm: not an indication on its own.",
                rs.ileal_resection_citations,
                (cm, rs.ileal_resection_above_cm),
            )
        )
    if a.bariatric_surgery:
        indications.append("bariatric_surgery")
        why.append(_ruleset_words(rs).bariatric)
    return tuple(indications), why


class _RulesetWords(NamedTuple):
    """Sentences whose words and sources come from the ruleset alone, built once per ruleset."""

    ruleset: Ruleset  # held, so that its id is not reused while its words are memoised
    deficiency_route: Statement
    bariatric: Statement


_RULESET_WORDS: dict[int, _RulesetWords] = {}


def _ruleset_words(rs: Ruleset) -> _RulesetWords:
    words = _RULESET_WORDS.get(id(rs))
    if words is not None and words.ruleset is rs:
        return words
    if len(_RULESET_WORDS) >= _MEMO_LIMIT:
        _RULESET_WORDS.clear()
    words = _RULESET_WORDS[id(rs)] = _RulesetWords(
        rs,
        Statement(
            _DEFICIENCY_ROUTE, rs.deficiency_im_citations, (ROUTE_WORDS.get(rs.route, rs.route), rs.drug, rs.route)
        ),
        Statement(
            "After bariatric surgery, B12 supplementation is given whatever the B12 level.", rs.bariatric_citations
        ),
    )
    return words


class Regimen(NamedTuple):
    """Loading, maintenance (the shortest interval that applies) and the oral option, with their reasons."""

    loading: LoadingCourse | None
    maintenance: MaintenanceInterval | None
    intervals: tuple[MaintenanceInterval, ...]  # every interval that applies (the pending treatment adds its own)
    oral: OralDose | None
    rationale: tuple[Statement, ...]


def _regimen(a: Assessment, rs: Ruleset, indications: tuple[str, ...]) -> Regimen:
    """Loading follows the deficiency; maintenance takes the shortest interval that applies.

    The regimen and its words depend only on the ruleset, the indications, neurological involvement and
    malabsorption: each combination is worked out once per ruleset (a ruleset is frozen, so it never goes stale)."""
    if not indications:
        return _NO_REGIMEN
    key = (id(rs), indications, a.neurological_involvement, a.malabsorption)
    known = _REGIMENS.get(key)
    if known is not None and known[0] is rs:
        return known[1]
    if len(_REGIMENS) >= _MEMO_LIMIT:
        _REGIMENS.clear()
    regimen = _work_out_regimen(rs, indications, a.neurological_involvement, a.malabsorption)
    _REGIMENS[key] = (rs, regimen)  # the entry holds its ruleset: the id is not reused while it is here
    return regimen


# Memos of answers that depend on a ruleset and a few discrete facts: small (a few dozen combinations in practice),
# emptied if they ever grow past this (many rulesets built at run time, as tests do).
_MEMO_LIMIT = 4096
_REGIMENS: dict[tuple, tuple[Ruleset, Regimen]] = {}


def _work_out_regimen(rs: Ruleset, indications: tuple[str, ...], neuro: bool, malabsorption: bool) -> Regimen:
    loading: LoadingCourse | None = None
    intervals: list[MaintenanceInterval] = []
    why: list[Statement] = []
    if "deficiency" in indications:
        loading = rs.loading_with_neuro if neuro else rs.loading_without_neuro
        intervals.append(rs.maintenance_with_neuro if neuro else rs.maintenance_without_neuro)
        why.append(
            Statement(
                ("With" if neuro else "Without") + " neurological involvement: {0}",
                loading.citations,
                (_LoadingWords(loading, rs),),
            )
        )
    if "ileal_resection" in indications:
        intervals.append(rs.maintenance_ileal_resection)
    if "bariatric_surgery" in indications:
        intervals.append(rs.maintenance_bariatric)
    maintenance, words = _maintenance(intervals, rs)
    why.extend(words)
    if malabsorption and indications:
        why.append(
            Statement(
                "A malabsorptive cause: treatment stays parenteral and lifelong; oral B12 is not offered.",
                rs.malabsorption_citations,
            )
        )
    oral, words = _oral_option(rs, indications, neuro, malabsorption)
    why.extend(words)
    return Regimen(loading, maintenance, tuple(intervals), oral, tuple(why))


_NO_REGIMEN = Regimen(None, None, (), None, ())


def _maintenance(
    intervals: list[MaintenanceInterval], rs: Ruleset
) -> tuple[MaintenanceInterval | None, list[Statement]]:
    if not intervals:
        return None, []
    if len(intervals) == 1:
        maintenance = intervals[0]
        words = [Statement("Maintenance: {0}", maintenance.citations, (_MaintenanceWords(maintenance, rs),))]  # type: ignore[arg-type]
        if maintenance == rs.maintenance_without_neuro:
            words.append(Statement(_BNF_2021, (BNF_MONOGRAPH,), (maintenance.min_months, maintenance.max_months)))
        return maintenance, words
    maintenance = _combined(intervals)
    return maintenance, [
        Statement(
            "Maintenance: {0} Several indications apply: the shortest interval is used.",
            maintenance.citations,
            (_MaintenanceWords(maintenance, rs),),  # type: ignore[arg-type]
        )
    ]


def _oral_option(
    rs: Ruleset, indications: tuple[str, ...], neuro: bool, malabsorption: bool
) -> tuple[OralDose | None, list[Statement]]:
    """Only after IM loading and only without neurological involvement, malabsorption or ileal resection; for
    bariatric prophylaxis alone, 1 mg daily."""
    if not indications or neuro or malabsorption or "ileal_resection" in indications:
        return None, []
    if "deficiency" in indications:
        oral = rs.oral_after_loading
        words = "After {2} loading, oral B12 {0}–{1} µg daily may replace injections."
    else:
        oral = rs.oral_bariatric
        words = "Instead of injections, oral B12 {0} µg daily is an option after bariatric surgery."
    return oral, [Statement(words, oral.citations, (oral.min_mcg, oral.max_mcg, rs.route))]


class AlertFacts(NamedTuple):
    """Everything an alert's condition may look at: what the results and flags say, and the answers decided before
    the alerts. Only booleans and codes, so hashable: which entries of the catalogue apply is worked out once per
    set of facts and ruleset (``_outline``). A value an alert prints (eGFR, homocysteine) is never part of the
    facts: those entries take it from the assessment on every decision (``AlertRule.case_args``)."""

    status: str
    basis: str
    deficient: bool
    neuro: bool
    severe: bool
    folic_acid: bool
    pregnant: bool
    im: bool  # IM hydroxocobalamin is recommended (some indication applies)
    indeterminate: bool  # the MMA test is the next step
    pending_mma: bool  # neurological signs with an indeterminate result: treatment starts before the MMA result
    mma_elevated: bool
    renal_caution: bool
    high_b12: bool  # total B12 above the ruleset's "investigate" level
    homocysteine_above_target: bool


def _facts(a: Assessment, rs: Ruleset, finding: StatusFinding, indications: tuple[str, ...]) -> AlertFacts:
    neuro = bool(a.neurological_involvement)
    indeterminate = finding.next_test == "mma"
    status = finding.status
    b, h = a.b12, a.homocysteine
    return _new_facts(
        AlertFacts,
        (
            status,
            finding.basis,
            status == DEFICIENT,
            neuro,
            bool(a.severe),
            bool(a.folic_acid),
            bool(a.pregnant),
            bool(indications),
            indeterminate,
            neuro and indeterminate,
            finding.mma_elevated,
            finding.renal_caution,
            b is not None and convert(b.value, b.unit, PG_PER_ML, TOTAL_B12_UNITS) > rs.high_b12_above_pg_ml,
            h is not None and h.value >= rs.monitoring.homocysteine_target_umol_l,
        ),
    )  # in field order, without the NamedTuple's Python-level __new__: this runs on every decision


_new_facts = tuple.__new__


def _no_args(rs: Ruleset) -> tuple:
    return ()


class AlertRule(NamedTuple):
    """One entry of the catalogue: the alert it raises and the condition under which it applies.

    ``condition`` reads the facts only. ``citations`` is a tuple, or a function of the ruleset when the ruleset
    names the sources; ``args`` fill the template's placeholders from the ruleset, or ``case_args`` from the
    assessment and the ruleset (an entry that prints a result's value). Several entries may share a code (variants
    of one warning); their conditions exclude each other."""

    code: str
    level: str
    template: str
    citations: tuple[str, ...] | Callable[[Ruleset], tuple[str, ...]]
    condition: Callable[[AlertFacts], bool]
    args: Callable[[Ruleset], tuple] = _no_args
    case_args: Callable[[Assessment, Ruleset], tuple] | None = None

    def alert(self, a: Assessment | None, rs: Ruleset) -> Alert:
        citations = self.citations(rs) if callable(self.citations) else self.citations
        args = self.args(rs) if self.case_args is None else self.case_args(a, rs)  # type: ignore[arg-type]
        return Alert(self.code, self.level, self.template, citations, args)


_NEURO_WORDS = (
    "Neurological involvement: seek urgent specialist (haematology) advice; spinal cord or optic symptoms need "
    "same-day assessment. "
)
_FOLIC_WORDS = (
    "Never give folic acid before B12 is treated: it can mask the deficiency and precipitate subacute combined "
    "degeneration of the cord. Folic acid together with B12 is allowed."
)
_FOLIC_CITATIONS = ("droracle-overview-2025", "praxis-replacement-2025", BNF_MONOGRAPH)
_INDETERMINATE_CITATIONS = ("bsh-2014", "nice-ng239")

# The catalogue, in the order the alerts are shown: the results' own warnings first, then the contract's named
# warnings, then the sources' other red flags.
ALERTS: tuple[AlertRule, ...] = (
    AlertRule(
        "high_b12",
        CAUTION,
        "Total B12 above {0:f} pg/mL: if it stays high, investigate the cause; it is not a reason to treat.",
        attrgetter("high_b12_citations"),
        attrgetter("high_b12"),
        lambda rs: (rs.high_b12_above_pg_ml,),
    ),
    AlertRule(
        "mma_discordant",
        CAUTION,
        "MMA is raised although B12 is not low: weigh the clinical picture, renal function and a repeat test.",
        ("nice-ng239", "bsh-2014"),
        lambda f: f.mma_elevated and f.basis != "mma" and f.status == NOT_DEFICIENT,
    ),
    AlertRule(
        "mma_renal",
        CAUTION,
        "eGFR {0:f} is below {1:f}: renal impairment raises MMA, so the raised MMA may not mean B12 deficiency.",
        attrgetter("egfr_citations"),
        attrgetter("renal_caution"),
        case_args=lambda a, rs: (a.egfr, rs.egfr_renal_below),
    ),
    # Red flag when folic acid is being given or started; otherwise a caution not to start it alone.
    AlertRule("folic_acid", RED_FLAG, _FOLIC_WORDS, _FOLIC_CITATIONS, attrgetter("folic_acid")),
    AlertRule(
        "folic_acid",
        CAUTION,
        _FOLIC_WORDS,
        _FOLIC_CITATIONS,
        lambda f: not f.folic_acid and f.status != NOT_DEFICIENT,
    ),
    AlertRule(
        "neuro_urgent_advice",
        RED_FLAG,
        _NEURO_WORDS + "Do not delay the first injection.",
        ("nice-ng239", BNF_MONOGRAPH),
        lambda f: f.neuro and (f.im or f.pending_mma),
    ),
    AlertRule(
        "neuro_urgent_advice",
        RED_FLAG,
        _NEURO_WORDS
        + "The B12 results do not show deficiency: the specialist can judge whether B12 is still the cause.",
        ("nice-ng239", BNF_MONOGRAPH),
        lambda f: f.neuro and not (f.im or f.pending_mma),
    ),
    AlertRule(
        "nitrous_oxide",
        ADVICE,
        "Ask about recreational nitrous oxide ('laughing gas'): it inactivates B12, so serum B12 can look normal or "
        "borderline while B12 function is impaired (MMA and homocysteine rise). If it is used, seek specialist advice.",
        ("nice-ng239",),
        lambda f: f.neuro or (f.severe and f.status != DEFICIENT),
    ),
    AlertRule(
        "severe_prefer_im",
        ADVICE,
        "Severe deficiency or severe neurological symptoms: intramuscular treatment gives faster improvement.",
        ("afp-2017",),
        attrgetter("severe"),
    ),
    AlertRule(
        "potassium_platelets",
        CAUTION,
        "In the first weeks of treating severe deficiency, monitor plasma potassium (arrhythmias from hypokalaemia) "
        "and platelets (reactive thrombocytosis).",
        ("smpc-neo-cytamen",),
        lambda f: f.severe and f.deficient,
    ),
    AlertRule(
        "pregnancy",
        CAUTION,
        "Pregnant or breastfeeding: total B12 falls in pregnancy (active B12 is the better test); review {0} month "
        "after starting treatment.",
        ("nice-ng239", "smpc-neo-cytamen"),
        attrgetter("pregnant"),
        lambda rs: (rs.pregnancy_first_review_months,),
    ),
    AlertRule(
        "sample_before_treatment",
        ADVICE,
        "Take the MMA sample before any B12 is given; treatment makes the result uninterpretable.",
        ("nice-ng239",),
        attrgetter("indeterminate"),
    ),
    AlertRule(
        "indeterminate_clinical_judgement",
        CAUTION,
        _INDETERMINATE_NEURO_WORDS,
        _INDETERMINATE_CITATIONS,
        attrgetter("pending_mma"),
    ),
    AlertRule(
        "indeterminate_clinical_judgement",
        CAUTION,
        "Severe symptoms with an indeterminate result: when the clinical picture is strong, a clinician may start "
        "treatment without waiting for the MMA result (take the sample first).",
        _INDETERMINATE_CITATIONS,
        lambda f: f.indeterminate and not f.neuro and f.severe,
    ),
    AlertRule(
        "individualised_regimen",
        ADVICE,
        "Up to half of patients need a more frequent, individualised regimen (from daily or twice weekly to every "
        "2–4 weeks) to stay symptom-free; the plan can set one, with a reason.",
        attrgetter("individualised_citations"),
        attrgetter("im"),
    ),
    AlertRule(
        "no_biomarker_titration",
        ADVICE,
        "Do not titrate the injection frequency on serum B12 or MMA; adjust it to symptoms.",
        ("nice-ng239", "bsh-2014"),
        attrgetter("im"),
    ),
    AlertRule(
        "cobalt_allergy",
        ADVICE,
        "{0} contains cobalt: ask about cobalt allergy or past hypersensitivity before the first injection.",
        ("smpc-neo-cytamen",),
        attrgetter("im"),
        lambda rs: (rs.drug.capitalize(),),
    ),
    AlertRule(
        "homocysteine_above_target",
        ADVICE,
        "Homocysteine {0:f} µmol/L is not below the seed target of {1:f} µmol/L (a target no guideline backs; "
        "folate, B6 and renal function also raise it).",
        lambda rs: (*rs.monitoring.citations, "afp-2017"),
        attrgetter("homocysteine_above_target"),
        case_args=lambda a, rs: (a.homocysteine.value, rs.monitoring.homocysteine_target_umol_l),  # type: ignore[union-attr]
    ),
)


def _alert_steps(facts: AlertFacts, rs: Ruleset) -> tuple[Alert | tuple, ...]:
    """Every catalogue entry whose condition holds, in catalogue order: the alert itself when its words and sources
    come from the ruleset alone, else its fixed part and the function of the case that fills its placeholders."""
    steps: list[Alert | tuple] = []
    for rule in ALERTS:
        if not rule.condition(facts):
            continue
        if rule.case_args is None:
            steps.append(rule.alert(None, rs))
        else:
            citations = rule.citations(rs) if callable(rule.citations) else rule.citations
            steps.append(((rule.code, rule.level, rule.template, citations), rule.case_args))
    return tuple(steps)


def _monitoring(pregnant: bool, rs: Ruleset) -> dict:
    """Monitoring, only when something is recommended: its schedule, tests, target and caveats. It depends on the
    ruleset (and pregnancy, for the first review) alone: this is the template each decision copies (_own_copy)."""
    fixed, _ = _monitoring_words(rs)
    mon = rs.monitoring
    return {
        "every_months_until_stable": mon.every_months_until_stable,
        "every_months_after_stable": mon.every_months_after_stable,
        "tests": mon.tests,
        "homocysteine_target_umol_per_l": _num(mon.homocysteine_target_umol_l),
        "first_review_months": rs.pregnancy_first_review_months if pregnant else mon.every_months_until_stable,
        "caveats": fixed["caveats"],
        "statements": fixed["statements"],
        "citations": fixed["citations"],
    }


def _own_copy(template: dict) -> dict:
    """A decision's own monitoring: every container new, so a caller changing one decision's lists changes no other."""
    return {
        **template,
        "tests": list(template["tests"]),
        "caveats": list(template["caveats"]),
        "statements": [{**line, "citations": list(line["citations"])} for line in template["statements"]],
        "citations": list(template["citations"]),
    }


_MONITORING_WORDS: dict[int, tuple[dict, Statement, Ruleset]] = {}


def _monitoring_words(rs: Ruleset) -> tuple[dict, Statement]:
    cached = _MONITORING_WORDS.get(id(rs))
    if cached is not None and cached[2] is rs:
        return cached[0], cached[1]
    mon = rs.monitoring
    target = mon.homocysteine_target_umol_l
    schedule = Statement(
        "Monitoring every {0} months until the patient is stable, then every {1} months: serum B12 and total "
        "homocysteine (target below {2:f} µmol/L).",
        mon.citations,
        (mon.every_months_until_stable, mon.every_months_after_stable, target),
    )
    lines = (schedule, *_MONITORING_CAVEATS)
    fixed = {
        "caveats": tuple(c.text for c in _MONITORING_CAVEATS),
        "statements": tuple(line.as_dict() for line in lines),
        "citations": tuple(dict.fromkeys(c for line in lines for c in line.citations)),
    }
    _MONITORING_WORDS[id(rs)] = (fixed, schedule, rs)
    return fixed, schedule


def _pending(rs: Ruleset, intervals: tuple[MaintenanceInterval, ...]) -> tuple[PendingTreatment, Statement]:
    """Alternate-day loading started before the MMA result, for neurological signs with an indeterminate B12."""
    pending = PendingTreatment(
        loading=rs.loading_with_neuro,
        maintenance=_combined([rs.maintenance_with_neuro, *intervals]),
        reason=_PENDING_REASON,
    )
    statement = Statement(
        "Treatment pending MMA: {0}",
        tuple(dict.fromkeys((*_INDETERMINATE_CITATIONS, *rs.loading_with_neuro.citations))),
        (_PENDING_REASON,),
    )
    return pending, statement


class _Outline(NamedTuple):
    """The parts of a decision that depend only on the ruleset, the facts and the indications, worked out once per
    combination (a ruleset is frozen and the facts hold no value of the case, so an outline never goes stale)."""

    ruleset: Ruleset  # held, so that its id is not reused while the outline is memoised
    alerts: tuple[Alert, ...] | None  # None when an alert prints a value of the case: built from ``steps``
    steps: tuple[Alert | tuple, ...]
    headline: str
    pending: PendingTreatment | None
    closing: tuple[Statement, ...]  # the rationale after the regimen's words
    monitoring: dict | None  # a template: each decision gets its own copy of the containers


_OUTLINES: dict[tuple, _Outline] = {}


def _outline(rs: Ruleset, facts: AlertFacts, indications: tuple[str, ...], regimen: Regimen) -> _Outline:
    """The regimen's intervals follow from the ruleset, the indications and neurological involvement (in the key)."""
    key = (id(rs), facts, indications)
    outline = _OUTLINES.get(key)
    if outline is not None and outline.ruleset is rs:
        return outline
    if len(_OUTLINES) >= _MEMO_LIMIT:
        _OUTLINES.clear()
    closing: list[Statement] = []
    monitoring = None
    if facts.im:
        monitoring = _monitoring(facts.pregnant, rs)
        closing += [_monitoring_words(rs)[1], _CAVEAT]
    elif not facts.pending_mma:
        closing.append(Statement(_NO_INDICATION, ("afp-2025",), (ROUTE_WORDS.get(rs.route, rs.route), rs.drug)))
    pending = None
    if facts.pending_mma:
        pending, statement = _pending(rs, regimen.intervals)
        closing.append(statement)
    steps = _alert_steps(facts, rs)
    outline = _OUTLINES[key] = _Outline(
        rs,
        None if any(type(step) is tuple for step in steps) else steps,
        steps,
        _headline(
            rs,
            status=facts.status,
            indications=list(indications),
            pending=pending is not None,
            neuro=facts.neuro,
            renal_caution=facts.renal_caution,
        ),
        pending,
        tuple(closing),
        monitoring,
    )
    return outline


def decide(
    assessment: Assessment,
    ruleset: Ruleset = DEFAULT_RULESET,
    thresholds: Thresholds | None = None,
) -> Recommendation:
    rs, a = ruleset, assessment
    th = thresholds or rs.thresholds
    finding = _status(a, rs, th)
    indications, indication_words = _indications(a, rs, finding.status)
    regimen = _regimen(a, rs, indications)
    facts = _facts(a, rs, finding, indications)
    outline = _outline(rs, facts, indications, regimen)
    alerts = outline.alerts
    if alerts is None:  # an alert prints a value of this case (eGFR, homocysteine)
        alerts = tuple(
            step if type(step) is not tuple else _tuple_new(Alert, (*step[0], step[1](a, rs))) for step in outline.steps
        )
    rec = _new(_Unfrozen)  # every field below, then the frozen class (see _Unfrozen)
    rec.status = finding.status
    rec.basis = finding.basis
    rec.next_test = finding.next_test
    rec.im_recommended = facts.im
    rec.indications = indications
    rec.loading = regimen.loading
    rec.maintenance = regimen.maintenance
    rec.oral_option = regimen.oral
    rec.alerts = alerts
    rec.monitoring = None if outline.monitoring is None else _own_copy(outline.monitoring)
    rec.rationale = (*finding.rationale, *indication_words, *regimen.rationale, *outline.closing)
    rec.ruleset = rs
    rec.thresholds = th
    rec.assessment = a
    rec.mma_limit = finding.mma_limit
    rec.headline = outline.headline
    rec.pending_mma = outline.pending
    rec.__class__ = Recommendation
    return rec  # type: ignore[return-value]


_new = object.__new__
_tuple_new = tuple.__new__
