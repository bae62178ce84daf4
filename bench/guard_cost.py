"""Seconds per promotion-guard call at N labelled shadow pairs (what `serve --learn` pays).

The pairs are SimpleQA questions with Gemini 2.5 Flash's and Claude Sonnet 4's recorded
outcomes (no_think vs budget1024 / budget4096), in a seeded order; the live policy is the
shipped prior, the candidate `learned` trained on all the pairs (the shipped static features,
read afresh: no cache, as in a server). Prints the median of `--repeat` calls.

    OMP_NUM_THREADS=1 .venv/bin/python bench/guard_cost.py --pairs 1000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from thinkswitch.outcomes.paired import load_paired
from thinkswitch.settings import Settings
from thinkswitch.triage.examples import LabelledExample
from thinkswitch.triage.learned import LearnedPolicy
from thinkswitch.triage.promotion import guard
from thinkswitch.triage.trace_training import train_on_examples

TABLES = ("replay:simpleqa/gemini-2.5-flash?on=budget1024",
          "replay:simpleqa/claude-sonnet4?on=budget4096")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    data = Settings().data_dir
    items = [item for spec in TABLES for item in load_paired(data, spec).items]
    order = np.random.default_rng(0).permutation(len(items))[:args.pairs]
    examples = [LabelledExample(items[i].id, items[i].question, "off",
                                float(items[i].off.correct), float(items[i].on.correct), None,
                                0.2, float(at), items[i].off.tokens, items[i].on.tokens)
                for at, i in enumerate(order, start=1)]
    live = LearnedPolicy.from_path().model
    candidate = train_on_examples(examples, holdout=0.0).model
    seconds = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        verdict = guard(live, candidate, examples)
        seconds.append(time.perf_counter() - started)
    print(f"{len(examples)} pairs: guard {np.median(seconds):.2f} s a call (median of "
          f"{args.repeat}); promote={verdict.promote}")


if __name__ == "__main__":
    main()
