"""Did the candidate learn the store's labels? A permutation test against the recipe's own null.

The promotion guard judges a candidate's recipe out of sample (rolling origin, re-fit on the
store's pairs), so it must also tie the candidate file to that recipe and those labels: a file
trained on other or corrupted labels would otherwise ride on the recipe's verdict. The test:

    statistic   z = atanh(corr(candidate's learned scores, the recipe re-fit on the store's
                pairs' learned scores)) on the pairs the candidate trained on (Fisher's z);
    null        the same statistic for the recipe re-fit on K copies of those pairs with their
                label pairs permuted across questions (the features stay put): the exact
                distribution of z for a candidate that learned nothing of these labels, on
                this data, whatever the features, their clusters or the class balance;
    rejects     "learned nothing of these labels" when z exceeds every one of the K null
                values AND the one-sided 1 - ALPHA normal prediction bound of a new draw from
                them, mean + t(K - 1, 1 - ALPHA) sd sqrt(1 + 1/K).

Error rate: a candidate trained on a random permutation of the store's labels (the bench's
deliberately bad candidate is exactly that) is exchangeable with the K null draws, so it passes
the first part with probability at most 1/(K + 1), whatever the distribution (Monte Carlo
permutation p-value), and both parts with probability ALPHA (1 in 10,000) where the null z is
normal (Fisher's transform is what makes a correlation's sampling distribution close to one).
When the labels carry no information (all pairs alike, or a handful where thinking changed the
outcome) the permuted re-fits reproduce the real one, the bound reaches it and the test refuses:
no power where there is nothing to learn, without a tuned minimum.

A real candidate (the recipe on these very labels) reproduces the re-fit (corr ~ 1, z large),
so unlike a bound on its in-sample gain over random (which needs the signal itself to be
strong at 99.9%) it passes at any number of pairs where the labels carry information.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np

from thinkswitch.triage.examples import LabelledExample

T = TypeVar("T")

#: Label-permuted re-fits of the recipe per guard call (cost: K re-fits on the training pairs).
PERMUTATIONS = 19
#: The one-sided level of the normal prediction bound over the permuted re-fits.
ALPHA = 1e-4
#: The random stream of the null draws (apart from other users of the guard's seed).
NULL_STREAM = 15
#: Correlations are clipped here before Fisher's transform (a re-fit reproduces itself to
#: floating-point noise; atanh(1) is infinite).
CLIP = 1.0 - 1e-9


def fisher(correlation: float) -> float:
    """Fisher's z of a correlation, clipped to finite values."""
    return float(np.arctanh(np.clip(correlation, -CLIP, CLIP)))


def correlation(mine: np.ndarray, theirs: np.ndarray) -> float:
    """The correlation of two models' scores on the same pairs (1.0 when both are constant)."""
    if np.std(mine) == 0 or np.std(theirs) == 0:
        return 1.0 if np.std(mine) == np.std(theirs) else 0.0
    return float(np.corrcoef(mine, theirs)[0, 1])


def permuted_labels(examples: Sequence[LabelledExample], count: int,
                    rng: np.random.Generator) -> list[list[LabelledExample]]:
    """`count` copies of `examples`, each with its label pairs (correctness without and with
    thinking) permuted across questions by a permutation drawn from `rng`."""
    copies = []
    for _ in range(count):
        order = rng.permutation(len(examples))
        copies.append([replace(e, correct_off=examples[j].correct_off,
                               correct_on=examples[j].correct_on)
                       for e, j in zip(examples, order, strict=True)])
    return copies


def null_scores(labels: np.ndarray, refit: Callable[[np.ndarray], T],
                count: int = PERMUTATIONS, seed: int = 0) -> list[T]:
    """`refit` (labels -> the re-fit's learned scores) on each of `count` seeded permutations
    of `labels` (one per training pair, in the features' row order: permuting them is
    permuting the pairs' labels across questions). The draws come from their own stream of
    `seed` (not `default_rng(seed)`, which `shuffled` uses: a bad candidate built with the
    guard's seed must not be one of its null draws)."""
    rng = np.random.default_rng([seed, NULL_STREAM])
    return [refit(labels[rng.permutation(len(labels))]) for _ in range(count)]


@dataclass(frozen=True, slots=True)
class NullTest:
    """The permutation test's figures: the candidate's z, the null's largest z and the
    prediction bound; `passed` when the candidate's z is beyond both."""

    statistic: float
    null_max: float
    bound: float
    permutations: int

    @property
    def passed(self) -> bool:
        return self.statistic > self.null_max and self.statistic > self.bound

    @property
    def p_value(self) -> float:
        """The Monte Carlo permutation p-value's floor reached (1/(K + 1) when passed)."""
        return 1.0 / (self.permutations + 1)


def beyond_null(candidate: np.ndarray, reference: np.ndarray, null: Sequence[np.ndarray],
                alpha: float = ALPHA) -> NullTest:
    """Is the candidate's agreement with the recipe re-fit on the store's labels (`reference`)
    beyond that of the re-fits on permuted labels (`null`)? See the module docstring."""
    from scipy.stats import t

    values = np.array([fisher(correlation(scores, reference)) for scores in null])
    observed = fisher(correlation(candidate, reference))
    if len(values) < 2:
        return NullTest(observed, float("inf"), float("inf"), len(values))
    spread = float(np.std(values, ddof=1)) * np.sqrt(1.0 + 1.0 / len(values))
    bound = float(np.mean(values)) + float(t.ppf(1.0 - alpha, len(values) - 1)) * spread
    return NullTest(observed, float(np.max(values)), bound, len(values))
