"""Time of one decision of the guideline engine (µs) over representative requests: the median and the worst case.

Each case runs 41 rounds of 2,000 decisions; a round's time per decision is one sample. The median is over every
sample of every case; the worst case is the slowest case's 95th-percentile round (a single round can be stretched by
the scheduler on a shared machine, so the very maximum is printed too but not judged). Goals: median ≤ 20 µs,
worst case ≤ 40 µs. Exits 1 when either is missed."""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from recommender.guideline import decide, parse_assessment

CASES = {
    "deficient, neuro, severe, all indications": {
        "b12": {"value": 150, "unit": "pg/mL"},
        "neurological_involvement": True,
        "severe": True,
        "ileal_resection_cm": 25,
        "bariatric_surgery": True,
    },
    "indeterminate, no MMA": {"b12": {"value": 150, "unit": "pmol/L"}},
    "indeterminate, MMA decides, renal": {
        "b12": {"value": 250, "unit": "ng/L"},
        "mma": {"value": 450, "unit": "nmol/L"},
        "egfr": 45,
        "homocysteine": {"value": 12, "unit": "umol/L"},
    },
    "total and active B12": {"b12": {"value": 400, "unit": "pg/mL"}, "active_b12": {"value": 20, "unit": "pmol/L"}},
    "not deficient": {"b12": {"value": 600, "unit": "pg/mL"}},
}


def samples_us(assessment, rounds: int = 41, per_round: int = 2000) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for _ in range(per_round):
            decide(assessment)
        samples.append((time.perf_counter_ns() - start) / per_round / 1000)
    return samples


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> int:
    print(f"{'case':45} {'median':>8} {'p95':>8} {'max':>8}  µs/decision")
    everything, worst, highest = [], 0.0, 0.0
    for name, body in CASES.items():
        samples = samples_us(parse_assessment(body))
        everything += samples
        worst, highest = max(worst, p95(samples)), max(highest, max(samples))
        print(f"{name:45} {statistics.median(samples):8.2f} {p95(samples):8.2f} {max(samples):8.2f}")
    median = statistics.median(everything)
    median_met, worst_met = median <= 20, worst <= 40
    print(f"{'median over all cases':45} {median:8.2f}   (goal ≤ 20 µs: {'met' if median_met else 'NOT met'})")
    print(
        f"{'worst case (slowest case, p95 round)':45} {worst:8.2f}   "
        f"(goal ≤ 40 µs: {'met' if worst_met else 'NOT met'}; single slowest round {highest:.2f})"
    )
    return 0 if median_met and worst_met else 1


if __name__ == "__main__":
    sys.exit(main())
