"""The promotion guard's statistics: is a candidate at least as good as the live policy?

Everything is compared at equal think-rate, over a grid of rates R = 10%, 20%, ..., 90%: on a
set of pairs, at rate r each model thinks on its own top round(r n) scores, so neither wins by
thinking more. Per labelled pair i (weight w_i = 1/propensity), averaged over r in R:

    d_i = mean_r [right(candidate's side at r) - right(live's side at r)]   (paired difference)
    g_i = mean_r [right(candidate's side at r) - (r right(on) + (1 - r) right(off))]
                                                                              (gain over random)

The mean of d is the difference of the two areas under the accuracy-against-think-rate curve,
what APGR reads (APGR = that area's share of the gap between never and always). Means and
one-sided bounds come from a paired bootstrap over pairs (pairs resampled with both models'
choices, `resamples` times, seeded). A candidate trained on shadow pairs must pass (the pairs
are gathered by thinkswitch.triage.promotion):

  1. Out of sample, by rolling origin (time-ordered cross-fitting). The labelled pairs newer
     than the live model's cut-off are cut into `folds` blocks by time; for each block the
     candidate's recipe is re-fit on every labelled pair older than the block and both models
     score the block, which neither saw. Over all blocks' pairs, the candidate must not be
     worse than the live policy beyond noise: the one-sided `confidence` upper bound of the
     mean of d is >= 0 (refused when the data show it worse at 95%). Every pair after the
     first block is judged once, instead of a newest quarter only, so the verdict rests on
     several times the pairs. So that "not worse beyond noise" is not vacuous on few pairs,
     the standard error of the mean of d must first be at most `max_error` (3 points): a
     power-aware minimum, since how many pairs that takes depends on how often the two
     models' choices differ (see `needed_pairs`); and there must be `min_examples` pairs.
     (At 2 points the loop on SimpleQA held good candidates back for 200-400 requests on
     Gemini, its live policy trailing one trained offline; at 3 it promoted no shuffled
     candidate either: bench/learning_loop.py, README.)
  2. The candidate learned the store's labels. Test 1 judges the recipe; this ties the file
     to it. On the pairs it trained on (up to its cut-off), the candidate's own learned score
     (without the work prior it blends in on unfamiliar requests, which ranks work up whatever
     the labels) must reproduce the recipe re-fit on those pairs: correlation >= FOLLOWS_RECIPE
     (0.9), and beyond what the recipe re-fit on label-permuted copies of the same pairs
     reaches, by a permutation test (thinkswitch.triage.label_permutation: Fisher's z of that
     correlation above all `permutations` (19) null re-fits and above their 1 - 1e-4 normal
     prediction bound). A candidate trained on other or shuffled labels is one draw of that
     null: it passes with probability at most 1/20 whatever the distribution, and 1e-4 where
     the null z is normal; on top of the correlation floor. Where the labels carry little
     information (a handful of pairs where thinking changed the outcome) the permuted re-fits
     come close to the real one and the test refuses by itself. (Until this test, a 99.9%
     bootstrap lower bound of the candidate's in-sample gain over random > 0, half the
     re-fit's gain and 10 pairs where thinking changed the outcome were required instead: on
     few pairs, where the signal is weak, real candidates rarely passed them; on the SimpleQA
     loop at shadow rate 0.2, o3-mini's candidates were promoted in 0 of 10 seeds after 200
     requests and 1 after 400. The bound is still reported as `learned_low`.)
  3. Where the candidate kept newer pairs out of its training (`train --from-traces
     --holdout`), on them it is not worse than the live policy beyond noise: the upper
     `confidence` bound of the mean of d >= 0.

A candidate trained on outcome tables only (no cut-off) has seen no pair: test 1 judges the
candidate itself on every pair newer than the live model's cut-off (one block), and instead of
test 2 its gain over random's `confidence` lower bound must be > 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from thinkswitch.triage.examples import LabelledExample
from thinkswitch.triage.label_permutation import PERMUTATIONS, NullTest, beyond_null, correlation

#: The think-rates the two models are compared at (each at equal rate; the utility of a pair is
#: its mean over them: the area under the accuracy-against-think-rate curve, what APGR reads).
RATES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
#: The least correlation of the candidate's learned scores with its recipe re-fit's on the
#: pairs it trained on (test 2). Re-fit on the same pairs the recipe gives the same model
#: (1.0); on the SimpleQA loop, shuffled-label candidates reached at most 0.8 (240 rounds).
FOLLOWS_RECIPE = 0.9


@dataclass(frozen=True, slots=True)
class GuardOptions:
    confidence: float = 0.95
    learned_confidence: float = 0.999
    max_error: float = 0.03
    folds: int = 5
    resamples: int = 2000
    min_examples: int = 20
    permutations: int = PERMUTATIONS
    seed: int = 0
    rates: tuple[float, ...] = RATES


DEFAULT_GUARD = GuardOptions()


@dataclass(frozen=True, slots=True)
class Block:
    """Pairs judged together: both models' scores on them (each ranks within the block)."""

    examples: Sequence[LabelledExample]
    live_scores: np.ndarray
    candidate_scores: np.ndarray


@dataclass(frozen=True, slots=True)
class Paired:
    """Per-pair outcomes of both models' choices (mean over the rates), and the weights."""

    candidate: np.ndarray
    live: np.ndarray
    random: np.ndarray
    weights: np.ndarray

    @property
    def difference(self) -> np.ndarray:
        values: np.ndarray = self.candidate - self.live
        return values

    @property
    def gain(self) -> np.ndarray:
        values: np.ndarray = self.candidate - self.random
        return values


@dataclass(frozen=True, slots=True)
class Verdict:
    promote: bool
    reason: str
    examples: int
    live_accuracy: float
    candidate_accuracy: float
    difference: float
    difference_low: float
    standard_error: float
    over_random: float
    learned_low: float
    agreement_z: float = 0.0
    null_bound: float = 0.0

    def summary(self) -> dict[str, float | int | bool | str]:
        return {"promote": self.promote, "reason": self.reason, "examples": self.examples,
                **{name: round(float(getattr(self, name)), 4) for name in (
                    "live_accuracy", "candidate_accuracy", "difference",
                    "difference_low", "standard_error", "over_random", "learned_low",
                    "agreement_z", "null_bound")}}


def refusal(reason: str, examples: int = 0) -> Verdict:
    return Verdict(False, reason, examples, *(0.0,) * 7)


def top_share(scores: np.ndarray, rate: float) -> np.ndarray:
    """True on the round(rate n) highest scores (ties broken by position, deterministically)."""
    count = round(rate * len(scores))
    chosen = np.zeros(len(scores), dtype=bool)
    if count:
        chosen[np.argsort(-np.asarray(scores, dtype=float), kind="stable")[:count]] = True
    return chosen


def paired(blocks: Sequence[Block], rates: Sequence[float]) -> Paired:
    """Both models' outcomes per pair, averaged over `rates`: at each rate each model thinks
    on its own top share of every block."""
    parts: list[tuple[np.ndarray, ...]] = []
    for block in blocks:
        on = np.array([e.correct(True) for e in block.examples])
        off = np.array([e.correct(False) for e in block.examples])
        parts.append((
            np.mean([np.where(top_share(block.candidate_scores, r), on, off) for r in rates],
                     axis=0),
            np.mean([np.where(top_share(block.live_scores, r), on, off) for r in rates], axis=0),
            np.mean([r * on + (1 - r) * off for r in rates], axis=0),
            np.array([e.weight for e in block.examples])))
    if not parts:
        return Paired(*(np.zeros(0),) * 4)
    return Paired(*(np.concatenate(column) for column in zip(*parts, strict=True)))


def bounds(values: np.ndarray, weights: np.ndarray, confidence: float,
           options: GuardOptions) -> tuple[float, float, float]:
    """The weighted mean of `values`, its one-sided lower and upper `confidence` bounds
    (paired bootstrap over pairs, seeded)."""
    mean = float(np.sum(weights * values) / np.sum(weights))
    draws = np.random.default_rng(options.seed).integers(
        0, len(values), size=(options.resamples, len(values)))
    boot = np.sum(weights[draws] * values[draws], axis=1) / np.sum(weights[draws], axis=1)
    return (mean, float(np.quantile(boot, 1.0 - confidence)),
            float(np.quantile(boot, confidence)))


def standard_error(values: np.ndarray, weights: np.ndarray) -> float:
    """The standard error of the weighted mean of `values` (linearised, as in the Hajek
    estimate)."""
    share = weights / np.sum(weights)
    mean = float(np.sum(share * values))
    return float(np.sqrt(np.sum(share ** 2 * (values - mean) ** 2)))


def needed_pairs(values: np.ndarray, weights: np.ndarray, max_error: float) -> int:
    """Pairs needed for that standard error to reach `max_error`, from the spread observed
    (the power-aware minimum: few pairs suffice when the two models rarely disagree)."""
    error = standard_error(values, weights)
    return int(np.ceil(len(values) * (error / max_error) ** 2))


def judge(out_of_sample: Sequence[Block], options: GuardOptions = DEFAULT_GUARD,
          trained_on: Block | None = None, held_out: Block | None = None,
          reference: Block | None = None, null: Sequence[np.ndarray] = ()) -> Verdict:
    """The verdict from the rolling-origin blocks (test 1), the candidate's own training pairs
    (test 2; None for a candidate trained on tables only, which must then beat random out of
    sample; `reference`: the recipe re-fit on them, `null`: the learned scores there of the
    re-fits on label-permuted copies) and its own held-out pairs (test 3; None when it kept
    none)."""
    both = paired(out_of_sample, options.rates)
    n = len(both.weights)
    if n < options.min_examples:
        return refusal(f"only {n} labelled pairs newer than the live policy's training to "
                       f"judge on; the guard needs {options.min_examples}", n)
    diff, low, high = bounds(both.difference, both.weights, options.confidence, options)
    gain, gain_low, _ = bounds(both.gain, both.weights, options.confidence, options)
    share = both.weights / np.sum(both.weights)
    error = standard_error(both.difference, both.weights)
    learned_low = gain_low
    if trained_on is not None:
        own = paired([trained_on], options.rates)
        _, learned_low, _ = bounds(own.gain, own.weights, options.learned_confidence, options)
    tested = NullTest(0.0, float("inf"), float("inf"), 0)
    if trained_on is not None and reference is not None:
        tested = beyond_null(trained_on.candidate_scores, reference.candidate_scores, null)
    verdict = Verdict(False, "", n, float(np.sum(share * both.live)),
                      float(np.sum(share * both.candidate)), diff, low, error, gain, learned_low,
                      tested.statistic, tested.bound)
    at = (f"at equal think-rates {options.rates[0]:.0%}-{options.rates[-1]:.0%} on {n} pairs "
          f"neither model trained on: candidate "
          f"{verdict.candidate_accuracy:.1%} vs live {verdict.live_accuracy:.1%} "
          f"(difference {diff:+.1%}, {options.confidence:.0%} bounds {low:+.1%} / {high:+.1%})")
    needed = needed_pairs(both.difference, both.weights, options.max_error)
    if error > options.max_error:
        return replace(verdict, reason=f"refused: too few pairs for the spread of the "
                       f"differences (standard error {error:.1%} > {options.max_error:.1%}; "
                       f"about {needed} needed) {at}")
    if high < 0:
        return replace(verdict, reason=f"refused: worse than the live policy beyond noise "
                       f"(upper bound {high:+.1%}) {at}")
    if trained_on is None and gain_low <= 0:
        return replace(verdict, reason=f"refused: not better than random beyond noise {at} "
                       f"({gain:+.1%} over random, lower bound {gain_low:+.1%})")
    if trained_on is not None and reference is None:
        return replace(verdict, reason=f"refused: its recipe could not be re-fit on the "
                       f"{len(trained_on.examples)} pairs it trained on to check that it "
                       f"learned them {at}")
    if trained_on is not None and reference is not None and (follows := correlation(
            trained_on.candidate_scores, reference.candidate_scores)) < FOLLOWS_RECIPE:
        return replace(verdict, reason=f"refused: on the {len(trained_on.examples)} pairs it "
                       f"trained on its scores follow its recipe re-fit on them only "
                       f"{follows:.2f} (correlation; {FOLLOWS_RECIPE} needed): not trained on "
                       f"these labels {at}")
    if trained_on is not None and not tested.passed:
        return replace(verdict, reason=f"refused: on the {len(trained_on.examples)} pairs it "
                       f"trained on its scores follow its recipe re-fit on them no more than "
                       f"re-fits on {tested.permutations} label-permuted copies do (Fisher z "
                       f"{tested.statistic:.2f}; their largest {tested.null_max:.2f}, 1 - 1e-4 "
                       f"bound {tested.bound:.2f}): not trained on these labels {at}")
    if held_out is not None and len(held_out.examples) >= options.min_examples:
        mine = paired([held_out], options.rates)
        own_diff, _, own_high = bounds(mine.difference, mine.weights, options.confidence, options)
        if own_high < 0:
            return replace(verdict, reason=f"refused: worse than the live policy on the "
                           f"{len(held_out.examples)} pairs it kept out ({own_diff:+.1%}, "
                           f"upper bound {own_high:+.1%}) {at}")
    return replace(verdict, promote=True, reason=f"promoted: not worse than the live policy "
                   f"{at}; {gain:+.1%} over random")
