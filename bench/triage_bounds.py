"""What leave-one-exam-out triage can reach on concise_cot, and what random really scores.

Three reference rankings under the same metrics as `thinkswitch triage eval`:

- one random draw of scores (numpy seed 0): what "random" reads on one sample, rather than
  the exact expectation (APGR 0.5, CPT(x) = x) that the bench reports;
- a perfect flag of the two math exams (AQuA, SAT-math), random within and outside them;
- the exam-level oracle: each question scored by its own exam's true net gain from thinking.
  No leave-one-exam-out model can know this (its exam's outcomes are held out), so it bounds
  any router whose signal is which kind of exam a question resembles.

    .venv/bin/python bench/triage_bounds.py   (data: THINKSWITCH_DATA, else ../shared/data)
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from thinkswitch.outcomes import metrics
from thinkswitch.outcomes.paired import load_paired
from thinkswitch.settings import Settings

MATH_EXAMS = ("aqua-rat-100", "sat-math-100")


def main() -> None:
    table = load_paired(Settings().data_dir, "replay:concise_cot/gpt-35-turbo")
    net: dict[str, float] = defaultdict(float)
    for item in table.items:
        net[item.group] += item.on.correct - item.off.correct
    rankings = {
        "random draw (seed 0)": list(np.random.default_rng(0).random(len(table.items))),
        "perfect math-exam flag": [float(i.group in MATH_EXAMS) for i in table.items],
        "exam-level oracle (bound)": [net[i.group] for i in table.items],
    }
    for name, scores in rankings.items():
        curve = metrics.curve(table, scores)
        gap = metrics.gap_summary(table, curve)
        print(f"{name}: APGR {gap.apgr:.3f}, CPT(50%) {gap.cpt50:.1%}, "
              f"CPT(80%) {gap.cpt80:.1%}, best accuracy "
              f"{max(p.accuracy for p in curve.points):.1%}")


if __name__ == "__main__":
    main()
