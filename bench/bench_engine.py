"""Median time of one decision of the guideline engine (µs), over representative requests. Goal: ≤ 20 µs."""

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


def median_us(assessment, rounds: int = 41, per_round: int = 2000) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for _ in range(per_round):
            decide(assessment)
        samples.append((time.perf_counter_ns() - start) / per_round / 1000)
    return statistics.median(samples)


def main() -> None:
    print(f"{'case':45} median µs/decision")
    medians = []
    for name, body in CASES.items():
        us = median_us(parse_assessment(body))
        medians.append(us)
        print(f"{name:45} {us:8.2f}")
    overall = statistics.median(medians)
    print(f"{'median over cases':45} {overall:8.2f}   (goal ≤ 20 µs: {'met' if max(medians) <= 20 else 'NOT met'})")


if __name__ == "__main__":
    main()
