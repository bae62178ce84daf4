"""What auto costs, estimated from shadow pairs by inverse-propensity weighting.

Each auto request was drawn for shadowing with a known chance, its propensity pi (the shadow
rate when it was drawn). On a drawn request both sides are known, so any per-request quantity v
(was the thinking side right, was the side auto chose right, their difference, ...) has a known
value on the pairs and an unknown one elsewhere. The Hajek estimate of its mean over all auto
requests is

    theta = sum_S w_i v_i / sum_S w_i,   w_i = 1 / pi_i,

over the pairs S. Under random sampling it is consistent (the Horvitz-Thompson total divided by
the estimated population size; it is exactly unbiased when every pi is equal, where it is the
mean over the pairs). Its variance is estimated by linearisation (the sandwich form of a ratio):

    var(theta) = n / (n - 1) * sum_S w_i^2 (v_i - theta)^2 / (sum_S w_i)^2,

and the 95% interval is theta +- 1.96 sd. No finite-population correction is taken, so the
interval also holds for the traffic the sample stands for, not only the requests served, and
stays honest when some drawn requests were dropped (see below).

The sandwich collapses where the values rarely move: a loss whose pairs almost never differ
(a model that thinking seldom changes: 4 of 100 questions) has sd 0 on a sample with no
discordant pair, and an interval [0, 0] that misses any true loss. So the sd is floored by a
pseudo-count one, at Kish's effective sample size n_e = (sum w)^2 / sum w^2 and the weighted
shares: for a paired difference, Agresti-Min's (half a pseudo-pair added to each cell of the
2x2 table: p+ = (n_e s+ + 1/2) / (n_e + 2) for the share s+ where thinking alone is right,
p- likewise, var = (p+ + p- - (p+ - p-)^2) / (n_e + 2)); for an accuracy, Agresti-Coull's
(two right and two wrong added: p = (n_e s + 2) / (n_e + 4), var = p (1 - p) / (n_e + 4)).
The interval is theta +- 1.96 max(sandwich sd, floor sd): as wide as the pseudo-counts say
when the sample has seen too few changes to know their rate, the sandwich otherwise (the two
agree when the shares are far from 0).

Accuracy loss against always-think is estimated as one mean of paired differences
(right with thinking - right as auto chose), not as a difference of two estimates: the pairs
share their questions, so the paired interval is far narrower.

Dropped shadow runs (no free capacity, the shadow token cap) are decided before the shadow
runs, from the server's load, never from the request or its outcome; the Hajek weights
renormalise over the pairs that were run, so the estimate stays consistent as long as load is
unrelated to how hard the questions are.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from thinkswitch.kernel.pairs import ShadowPair

Z95 = 1.959963984540054
#: Thresholds on the curve at most (besides never and always).
CURVE_POINTS = 60


@dataclass(frozen=True, slots=True)
class Estimate:
    """A weighted mean with its 95% interval, over `n` pairs."""

    value: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


#: A lower bound on the sd of a Hajek mean, from (values, weights): see the module's doc.
Floor = Callable[[Sequence[float], Sequence[float]], float]


def _effective_shares(values: Sequence[float], weights: Sequence[float],
                      part: Callable[[float], float]) -> tuple[float, float]:
    """(Kish's effective sample size, the weighted mean of `part` of the values)."""
    total = sum(weights)
    size = total * total / sum(w * w for w in weights)
    return size, sum(w * part(v) for w, v in zip(weights, values, strict=True)) / total


def paired_floor(values: Sequence[float], weights: Sequence[float]) -> float:
    """Agresti-Min's sd of a paired difference of two proportions (values in [-1, 1])."""
    size, up = _effective_shares(values, weights, lambda v: max(v, 0.0))
    down = _effective_shares(values, weights, lambda v: max(-v, 0.0))[1]
    more, less = (size * up + 0.5) / (size + 2), (size * down + 0.5) / (size + 2)
    return math.sqrt(max(0.0, more + less - (more - less) ** 2) / (size + 2))


def proportion_floor(values: Sequence[float], weights: Sequence[float]) -> float:
    """Agresti-Coull's sd of a proportion (values in [0, 1])."""
    size, share = _effective_shares(values, weights, lambda v: min(max(v, 0.0), 1.0))
    adjusted = (size * share + 2) / (size + 4)
    return math.sqrt(adjusted * (1 - adjusted) / (size + 4))


def hajek(values: Sequence[float], propensities: Sequence[float],
          floor: Floor | None = None) -> Estimate:
    """The Hajek mean of `values` weighted by 1 / propensity, with its sandwich interval, the
    sd floored by `floor` (pseudo-counts) where given."""
    if len(values) != len(propensities):
        raise ValueError("one propensity per value")
    if not values:
        return Estimate(math.nan, math.nan, math.nan, 0)
    weights = [1.0 / p for p in propensities]
    total = sum(weights)
    theta = sum(w * v for w, v in zip(weights, values, strict=True)) / total
    n = len(values)
    if n < 2:
        return Estimate(theta, math.nan, math.nan, n)
    spread = sum(w * w * (v - theta) ** 2 for w, v in zip(weights, values, strict=True))
    sd = math.sqrt(n / (n - 1) * spread) / total
    if floor is not None:
        sd = max(sd, floor(values, weights))
    return Estimate(theta, theta - Z95 * sd, theta + Z95 * sd, n)


def over(pairs: Sequence[ShadowPair], value: Callable[[ShadowPair], float],
         floor: Floor | None = None) -> Estimate:
    """`hajek` of `value` over `pairs`."""
    return hajek([value(pair) for pair in pairs], [pair.propensity for pair in pairs], floor)


def _right(pair: ShadowPair, mode: str) -> float:
    side = pair.live if pair.live.mode == mode else pair.shadow
    return 1.0 if side.correct else 0.0


@dataclass(frozen=True, slots=True)
class Accuracy:
    """Estimated accuracy of auto (as it chose), always-think and never-think, and auto's
    loss against always-think (a paired estimate), over the pairs whose correctness is known."""

    auto: Estimate
    always: Estimate
    never: Estimate
    loss: Estimate


def accuracy(pairs: Sequence[ShadowPair]) -> Accuracy | None:
    """None when no pair knows its correctness."""
    known = [pair for pair in pairs if pair.correctness_known]
    if not known:
        return None
    return Accuracy(
        auto=over(known, lambda p: _right(p, p.live.mode), proportion_floor),
        always=over(known, lambda p: _right(p, "on"), proportion_floor),
        never=over(known, lambda p: _right(p, "off"), proportion_floor),
        loss=over(known, lambda p: _right(p, "on") - _right(p, p.live.mode), paired_floor),
    )


def disagreement(pairs: Sequence[ShadowPair]) -> Estimate:
    """Share of direct answers that the thinking side contradicts (judged pairs only): an upper
    bound on how often thinking would have changed auto's answer."""
    judged = [p for p in pairs if p.live.mode == "off" and p.agreement.agree is not None]
    return over(judged, lambda p: 0.0 if p.agreement.agree else 1.0, proportion_floor)


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """Thinking when the score reaches `threshold`: the share that thinks and the accuracy."""

    threshold: float
    think_rate: Estimate
    accuracy: Estimate


def curve(pairs: Sequence[ShadowPair]) -> list[CurvePoint]:
    """The estimated accuracy-against-think-rate curve of the live traffic: for each threshold
    on the policy's score, think at or above it, using each pair's known side outcomes. From
    never (threshold above every score) to always (at or below every score)."""
    known = [p for p in pairs if p.correctness_known and p.score is not None]
    if not known:
        return []
    scores = sorted({float(p.score) for p in known if p.score is not None}, reverse=True)
    if len(scores) > CURVE_POINTS:  # quantiles of the scores: the curve's shape, in O(n)
        step = (len(scores) - 1) / (CURVE_POINTS - 1)
        scores = [scores[round(i * step)] for i in range(CURVE_POINTS)]
    thresholds = [math.inf, *scores, -math.inf]
    points = []
    for threshold in thresholds:
        def thinks(pair: ShadowPair, cut: float = threshold) -> bool:
            return pair.score is not None and pair.score >= cut

        points.append(CurvePoint(
            threshold=threshold,
            think_rate=over(known, lambda p: 1.0 if thinks(p) else 0.0),
            accuracy=over(known, lambda p: _right(p, "on" if thinks(p) else "off")),
        ))
    return points
