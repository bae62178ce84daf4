"""The promotion guard: is a candidate policy at least as good as the live one, beyond noise?

Both policies are judged on the same labelled examples, which neither was trained on: those
created after the later of the two models' training cut-offs (a time-ordered holdout; training
from traces keeps the newest pairs out for this). At equal think-rate: r is the live policy's
think-rate on the holdout (kept within [0.1, 0.9]); each policy thinks on its own top
round(r n) scores, so neither wins by thinking more. Per example i (weight w_i = 1/propensity):

    d_i = right(candidate's side) - right(live's side)
    g_i = right(candidate's side) - (r right(on) + (1 - r) right(off))     (random at rate r)

The test, one-sided at level `confidence` by a paired bootstrap over examples (the examples are
resampled with both policies' choices, `resamples` times, seeded):
  1. the weighted mean of d is >= 0: the candidate is not worse than the live policy on the
     holdout (and it is not significantly better either way unless the data say so);
  2. the lower `confidence` bound of the weighted mean of g is > 0: the candidate ranks better
     than random at that think-rate beyond noise. A model that learned nothing (trained on
     shuffled labels) fails this, whatever the live policy is worth.
  3. the same lower bound is > 0 for the training recipe re-fit out of fold (5 folds) on the
     pairs the candidate trained on: there must be something to learn in those pairs at all.
     This checks the data, not the candidate's own labels (which the guard cannot see): a
     candidate trained on corrupted labels is caught by test 2 alone.
All must hold. Too few held-out examples (under `min_examples`) is a refusal, not a pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from thinkswitch.triage.examples import LabelledExample

RATE_LIMITS = (0.1, 0.9)


@dataclass(frozen=True, slots=True)
class GuardOptions:
    confidence: float = 0.95
    resamples: int = 2000
    min_examples: int = 30
    seed: int = 0


DEFAULT_GUARD = GuardOptions()


@dataclass(frozen=True, slots=True)
class Verdict:
    promote: bool
    reason: str
    examples: int
    think_rate: float
    live_accuracy: float
    candidate_accuracy: float
    difference: float
    over_random: float
    over_random_low: float

    def summary(self) -> dict[str, float | int | bool | str]:
        return {"promote": self.promote, "reason": self.reason, "examples": self.examples,
                "think_rate": round(self.think_rate, 4),
                "live_accuracy": round(self.live_accuracy, 4),
                "candidate_accuracy": round(self.candidate_accuracy, 4),
                "difference": round(self.difference, 4),
                "over_random": round(self.over_random, 4),
                "over_random_low": round(self.over_random_low, 4)}


def top_share(scores: np.ndarray, rate: float) -> np.ndarray:
    """True on the round(rate n) highest scores (ties broken by position, deterministically)."""
    count = round(rate * len(scores))
    chosen = np.zeros(len(scores), dtype=bool)
    if count:
        chosen[np.argsort(-scores, kind="stable")[:count]] = True
    return chosen


def over_random(examples: Sequence[LabelledExample], scores: np.ndarray, rate: float,
                options: GuardOptions) -> tuple[float, float]:
    """The weighted mean gain over random at `rate` of thinking on the top scores, and its
    one-sided lower bound at `options.confidence` (paired bootstrap, seeded)."""
    on = np.array([e.correct(True) for e in examples])
    off = np.array([e.correct(False) for e in examples])
    weights = np.array([e.weight for e in examples])
    chosen = top_share(np.asarray(scores, dtype=float), rate)
    gain = np.where(chosen, on, off) - (rate * on + (1 - rate) * off)
    draws = np.random.default_rng(options.seed).integers(
        0, len(examples), size=(options.resamples, len(examples)))
    boot = (np.sum(weights[draws] * gain[draws], axis=1) / np.sum(weights[draws], axis=1))
    return (float(np.sum(weights * gain) / np.sum(weights)),
            float(np.quantile(boot, 1.0 - options.confidence)))


def judge(holdout: Sequence[LabelledExample], live_scores: np.ndarray,
          live_thinks: np.ndarray, candidate_scores: np.ndarray,
          options: GuardOptions = DEFAULT_GUARD,
          in_training: tuple[Sequence[LabelledExample], np.ndarray] | None = None) -> Verdict:
    """`in_training`: the candidate's training pairs and their out-of-fold scores (test 3;
    None skips it, for a candidate trained on outcome tables only)."""
    """The verdict on `holdout` (fully labelled examples neither model trained on)."""
    n = len(holdout)
    if n < options.min_examples:
        return Verdict(False, f"only {n} held-out labelled examples; the guard needs "
                       f"{options.min_examples}", n, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    rate = float(np.clip(np.mean(live_thinks), *RATE_LIMITS))
    live = top_share(np.asarray(live_scores, dtype=float), rate)
    candidate = top_share(np.asarray(candidate_scores, dtype=float), rate)
    on = np.array([e.correct(True) for e in holdout])
    off = np.array([e.correct(False) for e in holdout])
    weights = np.array([e.weight for e in holdout])
    right_live = np.where(live, on, off)
    right_candidate = np.where(candidate, on, off)
    difference = right_candidate - right_live

    def mean(values: np.ndarray) -> float:
        return float(np.sum(weights * values) / np.sum(weights))

    gain, low = over_random(holdout, candidate_scores, rate, options)
    diff = mean(difference)
    verdict = Verdict(False, "", n, rate, mean(right_live), mean(right_candidate), diff, gain,
                      low)
    at = (f"at think-rate {rate:.0%} on {n} held-out pairs: candidate "
          f"{verdict.candidate_accuracy:.1%} vs live {verdict.live_accuracy:.1%}")
    if diff < 0:
        return _with(verdict, False, f"refused: worse than the live policy {at}")
    if low <= 0:
        return _with(verdict, False, f"refused: not better than random beyond noise {at} "
                     f"({gain:+.1%} over random, {options.confidence:.0%} lower bound "
                     f"{low:+.1%})")
    if in_training is not None and len(in_training[0]) >= options.min_examples:
        trained_gain, trained_low = over_random(*in_training, rate, options)
        if trained_low <= 0:
            return _with(verdict, False, f"refused: its own training pairs, scored out of "
                         f"fold, show no gain over random beyond noise ({trained_gain:+.1%}, "
                         f"lower bound {trained_low:+.1%}; held out: {gain:+.1%}) {at}")
    return _with(verdict, True, f"promoted: not worse than the live policy and better than "
                 f"random {at} ({gain:+.1%} over random, lower bound {low:+.1%})")


def _with(verdict: Verdict, promote: bool, reason: str) -> Verdict:
    return Verdict(promote, reason, verdict.examples, verdict.think_rate, verdict.live_accuracy,
                   verdict.candidate_accuracy, verdict.difference, verdict.over_random,
                   verdict.over_random_low)
