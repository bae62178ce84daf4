"""`thinkswitch triage eval`: a policy's curve on paired outcomes, never on training data.

`rules` needs no training, so it scores every question directly. `learned` is evaluated on
out-of-fold scores: each question is scored by a model trained without it (split by question,
by group such as the exam, or on another model's outcomes for the other questions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from thinkswitch.outcomes import metrics
from thinkswitch.outcomes.paired import PairedTable
from thinkswitch.triage.base import TriagePolicy
from thinkswitch.triage.scoring import policy_scores
from thinkswitch.triage.training import Split, Trainer, out_of_fold_scores


@dataclass(frozen=True)
class Evaluation:
    table: PairedTable
    scores: np.ndarray
    curve: metrics.Curve
    gap: metrics.GapSummary
    apgr_interval: tuple[float, float] | None
    split: str


def bootstrap_apgr(table: PairedTable, scores: np.ndarray, resamples: int = 500,
                   seed: int = 0) -> tuple[float, float] | None:
    """95% percentile interval of APGR over questions resampled with their scores."""
    rng = np.random.default_rng(seed)
    values = []
    n = len(table.items)
    for _ in range(resamples):
        pick = rng.integers(0, n, n)
        sample = PairedTable(table.name, table.off_label, table.on_label,
                             tuple(table.items[i] for i in pick))
        gap = metrics.gap_summary(sample, metrics.curve(sample, list(scores[pick])))
        if gap.apgr is not None:
            values.append(gap.apgr)
    if len(values) < resamples // 2:
        return None
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def evaluate(
    table: PairedTable,
    policy: TriagePolicy | None,
    split: Split = "question",
    folds: int = 5,
    seed: int = 0,
    train_table: PairedTable | None = None,
    resamples: int = 500,
    extra: Sequence[PairedTable] = (),
    trainer: Trainer | None = None,
) -> Evaluation:
    """Score `table` with `policy` (or, when None, with out-of-fold models from `trainer`,
    by default the learned model)."""
    if policy is not None:
        scores = np.asarray(policy_scores(policy, table), dtype=float)
        split_name = "none (no training)"
    else:
        scores = out_of_fold_scores(table, split, folds, seed, train_table, extra, trainer)
        split_name = split if train_table is None else f"{split}, trained on {train_table.name}"
    curve = metrics.curve(table, list(scores))
    return Evaluation(
        table, scores, curve, metrics.gap_summary(table, curve),
        bootstrap_apgr(table, scores, resamples, seed) if resamples else None, split_name,
    )
