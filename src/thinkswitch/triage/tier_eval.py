"""Out-of-fold evaluation of budget-tier choice: the chosen tier against every fixed tier.

Every question is scored by tier models that never saw it (k folds by question, seeded). For
each weight (accuracy per 1,000 tokens, `tiers.TieredPolicy`), the chosen tiers' accuracy and
mean tokens, and how often each tier was chosen; for each fixed tier, its accuracy and tokens.
The best fixed tier is the most accurate (ties: the cheaper). The default weight a trained model
carries is the largest weight whose chosen tiers stay within `TOLERANCE` of the best fixed
tier's accuracy: the most tokens saved at (nearly) the best fixed accuracy; with none, the most
accurate weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thinkswitch.outcomes.tiers import TierTable
from thinkswitch.triage.tiers import TierModel, fit_tiers

WEIGHTS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.5)
#: How far below the best fixed tier's accuracy the default weight may go (a share).
TOLERANCE = 0.01


@dataclass(frozen=True, slots=True)
class TierPoint:
    label: str
    accuracy: float
    tokens: float
    shares: tuple[float, ...] = ()
    #: 95% interval of the accuracy difference against the best fixed tier (paired by question)
    versus_best: tuple[float, float] | None = None


@dataclass(frozen=True)
class TierEval:
    table: str
    tiers: tuple[str, ...]
    questions: int
    fixed: tuple[TierPoint, ...]
    chosen: tuple[TierPoint, ...]  # one per weight, in WEIGHTS order
    weights: tuple[float, ...]

    @property
    def best_fixed(self) -> TierPoint:
        return max(self.fixed, key=lambda p: (p.accuracy, -p.tokens))

    def default_weight(self) -> float:
        best = self.best_fixed.accuracy
        near = [w for w, p in zip(self.weights, self.chosen, strict=True)
                if p.accuracy >= best - TOLERANCE]
        if near:
            return max(near)
        return max(zip(self.weights, self.chosen, strict=True),
                   key=lambda wp: (wp[1].accuracy, -wp[1].tokens))[0]

    def as_dict(self) -> dict[str, object]:
        def point(p: TierPoint) -> dict[str, object]:
            return {"label": p.label, "accuracy": round(p.accuracy, 6),
                    "tokens": round(p.tokens, 2), "shares": [round(s, 4) for s in p.shares],
                    "versus_best_ci95": None if p.versus_best is None
                    else [round(v, 6) for v in p.versus_best]}
        return {"table": self.table, "tiers": list(self.tiers), "questions": self.questions,
                "fixed": [point(p) for p in self.fixed],
                "chosen": [{"weight": w, **point(p)} for w, p in
                           zip(self.weights, self.chosen, strict=True)],
                "best_fixed": self.best_fixed.label, "default_weight": self.default_weight()}


def out_of_fold(table: TierTable, matrix: np.ndarray, folds: int = 5,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(P(right) per question and tier, the training mean tokens per question's fold model)."""
    n = len(table.ids)
    parts = np.array_split(np.random.default_rng(seed).permutation(n), folds)
    predicted = np.zeros(table.right.shape)
    costs = np.zeros(table.right.shape)
    for held in parts:
        model = fit_tiers(table, matrix, np.setdiff1d(np.arange(n), held))
        predicted[held] = model.p_right(matrix[held])
        costs[held] = model.mean_tokens
    return predicted, costs


def evaluate_tiers(table: TierTable, matrix: np.ndarray, folds: int = 5, seed: int = 0,
                   weights: tuple[float, ...] = WEIGHTS) -> TierEval:
    predicted, costs = out_of_fold(table, matrix, folds, seed)
    rows = np.arange(len(table.ids))
    fixed = tuple(TierPoint(tier, float(table.right[:, k].mean()),
                            float(table.tokens[:, k].mean()))
                  for k, tier in enumerate(table.tiers))
    best = max(range(len(fixed)), key=lambda k: (fixed[k].accuracy, -fixed[k].tokens))
    chosen = []
    for weight in weights:
        choice = np.argmax(predicted - weight * costs / 1000.0, axis=1)
        shares = np.bincount(choice, minlength=len(table.tiers)) / len(rows)
        chosen.append(TierPoint(f"chosen @ {weight:g}", float(table.right[rows, choice].mean()),
                                float(table.tokens[rows, choice].mean()),
                                tuple(float(s) for s in shares),
                                _paired_interval(table.right[rows, choice] - table.right[:, best])))
    return TierEval(table.name, table.tiers, len(rows), fixed, tuple(chosen), weights)


def _paired_interval(differences: np.ndarray) -> tuple[float, float]:
    """The normal 95% interval of the mean of per-question differences."""
    mean = float(differences.mean())
    half = 1.959964 * float(differences.std(ddof=1)) / np.sqrt(len(differences))
    return mean - half, mean + half


def train_tiers(table: TierTable, matrix: np.ndarray, version: str,
                folds: int = 5, seed: int = 0) -> tuple[TierModel, TierEval]:
    """The tier model on the whole table, carrying the default weight its evaluation chose."""
    evaluation = evaluate_tiers(table, matrix, folds, seed)
    model = fit_tiers(table, matrix, weight=evaluation.default_weight(), version=version)
    return model, evaluation
