"""Metrics of a paired table under a decision rule, as RouteLLM and the adaptive-thinking
papers report them.

For a paired table (each question answered never-think and always-think) and a score per
question (higher = more reason to think), thinking on the top-k questions for k = 0..n traces
the policy's curve exactly. On that curve:

- PGR(r) = (acc(r) - acc_never) / (acc_always - acc_never), the performance gap recovered at
  think-rate r; APGR is its mean over the curve (trapezoid over r in [0, 1]).
- CPT(x) is the smallest think-rate whose PGR reaches x (e.g. CPT(50%), CPT(80%)).
- AUC is the area under accuracy against think-rate.

Baselines: never, always, random at rate r (the exact expectation, a straight line between
never and always, so its APGR is 0.5 and CPT(x) = x), and the oracle, which thinks exactly where
thinking turns a wrong answer right.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from thinkswitch.outcomes.paired import PairedTable


@dataclass(frozen=True, slots=True)
class Point:
    """One operating point: accuracy, mean generated tokens, share of questions thought on."""

    accuracy: float
    tokens: float
    think_rate: float


@dataclass(frozen=True)
class Curve:
    """A policy's points for k = 0..n questions thought on, best-scored first."""

    points: tuple[Point, ...]

    @property
    def rates(self) -> np.ndarray:
        return np.array([p.think_rate for p in self.points])

    @property
    def accuracies(self) -> np.ndarray:
        return np.array([p.accuracy for p in self.points])


@dataclass(frozen=True, slots=True)
class GapSummary:
    """None where thinking does not raise accuracy on average (no gap to recover)."""

    apgr: float | None
    cpt50: float | None
    cpt80: float | None
    auc: float


def _arrays(table: PairedTable) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    items = table.items
    return (
        np.array([i.off.correct for i in items], dtype=float),
        np.array([i.on.correct for i in items], dtype=float),
        np.array([i.off.tokens for i in items], dtype=float),
        np.array([i.on.tokens for i in items], dtype=float),
    )


def point_for(table: PairedTable, think: Sequence[bool]) -> Point:
    """The outcome of thinking exactly on the questions where `think` is True."""
    off_c, on_c, off_t, on_t = _arrays(table)
    mask = np.asarray(think, dtype=bool)
    if mask.shape != off_c.shape:
        raise ValueError(f"{len(mask)} decisions for {len(off_c)} questions")
    return Point(
        accuracy=float(np.where(mask, on_c, off_c).mean()),
        tokens=float(np.where(mask, on_t, off_t).mean()),
        think_rate=float(mask.mean()),
    )


def never(table: PairedTable) -> Point:
    return point_for(table, [False] * len(table.items))


def always(table: PairedTable) -> Point:
    return point_for(table, [True] * len(table.items))


def oracle(table: PairedTable) -> Point:
    off_c, on_c, _, _ = _arrays(table)
    return point_for(table, list(on_c > off_c))


def random_at(table: PairedTable, rate: float) -> Point:
    """The expected outcome of thinking on a uniformly random `rate` share of questions."""
    low, high = never(table), always(table)
    return Point(
        accuracy=low.accuracy + rate * (high.accuracy - low.accuracy),
        tokens=low.tokens + rate * (high.tokens - low.tokens),
        think_rate=rate,
    )


def curve(table: PairedTable, scores: Sequence[float]) -> Curve:
    """Think on the k best-scored questions, for every k.

    Questions with equal scores cannot be told apart by the policy, so within a tie the curve
    is the expectation over random tie-breaking: a straight line across the tied group.
    """
    off_c, on_c, off_t, on_t = _arrays(table)
    n = len(off_c)
    if n == 0:
        raise ValueError(f"{table.name} has no questions")
    if len(scores) != n:
        raise ValueError(f"{len(scores)} scores for {n} questions")
    values = np.asarray(scores, dtype=float)
    order = np.argsort(-values, kind="stable")
    gain_c = np.concatenate([[0.0], np.cumsum((on_c - off_c)[order])])
    gain_t = np.concatenate([[0.0], np.cumsum((on_t - off_t)[order])])
    sorted_scores = values[order]
    boundaries = [0, *(k for k in range(1, n) if sorted_scores[k] != sorted_scores[k - 1]), n]
    ks = np.arange(n + 1)
    gain_c = np.interp(ks, boundaries, gain_c[boundaries])
    gain_t = np.interp(ks, boundaries, gain_t[boundaries])
    base_c, base_t = off_c.sum(), off_t.sum()
    points = tuple(
        Point(float((base_c + gain_c[k]) / n), float((base_t + gain_t[k]) / n), k / n)
        for k in range(n + 1)
    )
    return Curve(points)


def gap_summary(table: PairedTable, policy: Curve) -> GapSummary:
    low, high = never(table).accuracy, always(table).accuracy
    gap = high - low
    rates, accuracies = policy.rates, policy.accuracies
    auc = float(np.trapezoid(accuracies, rates))
    if gap <= 0:
        return GapSummary(apgr=None, cpt50=None, cpt80=None, auc=auc)
    pgr = (accuracies - low) / gap
    return GapSummary(
        apgr=float(np.trapezoid(pgr, rates)),
        cpt50=_cpt(pgr, rates, 0.5),
        cpt80=_cpt(pgr, rates, 0.8),
        auc=auc,
    )


def _cpt(pgr: np.ndarray, rates: np.ndarray, share: float) -> float | None:
    reached = np.nonzero(pgr >= share - 1e-12)[0]
    return float(rates[reached[0]]) if len(reached) else None


def below_random(table: PairedTable, policy: Curve) -> list[float]:
    """The think-rates where the policy's accuracy is under random's expectation."""
    return [p.think_rate for p in policy.points
            if p.accuracy < random_at(table, p.think_rate).accuracy - 1e-12]


def accuracy_at_tokens(policy: Curve, tokens: float) -> float | None:
    """Best accuracy of the policy among its points that spend at most `tokens` on average."""
    affordable = [p.accuracy for p in policy.points if p.tokens <= tokens + 1e-9]
    return max(affordable) if affordable else None


def bootstrap_interval(
    correct: Sequence[float], resamples: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-question correctness."""
    values = np.asarray(correct, dtype=float)
    if len(values) == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = rng.choice(values, size=(resamples, len(values)), replace=True).mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)
