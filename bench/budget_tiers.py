"""Choosing the thinking budget per request, against the best fixed budget, on recorded tiers.

A thin wrapper over `thinkswitch triage eval --tiers` (see `thinkswitch.triage.tiers` and
`thinkswitch.triage.tier_eval`) for the three SimpleQA models that have several budgets: Gemini
2.5 Flash no_think / 256 / 512 / 1024 / 2048, Claude Sonnet 4 no_think / 1024 / 2048 / 4096,
Qwen3-8B no_think / exd0 / exd2 / exd4. Per tier, a logistic model on the static token features
predicts P(right at that tier); a request gets the tier maximising P(right) - weight x tokens /
1000. Every prediction is out-of-fold (5 folds by question, seed 0). Printed per model: each
fixed tier's accuracy and mean tokens, the chosen tiers' at each weight with the paired 95%
interval of the accuracy difference against the best fixed tier; `--out DIR` also writes
tiers.json and one plot per model.

    OMP_NUM_THREADS=1 .venv/bin/python bench/budget_tiers.py [--out DIR]
"""

from __future__ import annotations

import sys

from thinkswitch.cli.app import main as thinkswitch

MODELS = ("gemini-2.5-flash", "claude-sonnet4", "Qwen3-8B")


def main(extra: list[str]) -> None:
    suites = [arg for model in MODELS for arg in ("--suite", f"replay:simpleqa/{model}")]
    thinkswitch(["triage", "eval", "--tiers", *suites, *extra])


if __name__ == "__main__":
    main(sys.argv[1:])
