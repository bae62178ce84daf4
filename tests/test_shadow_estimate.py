"""The inverse-propensity estimates on simulated traffic with known accuracies: the 95% intervals
cover the truth about as often as they say (a fixed seed, a generous margin), varying shadow
rates are weighted right, and the curve runs from never to always."""

from __future__ import annotations

import math
import random

import pytest

from thinkswitch.kernel.pairs import Agreement, ShadowPair, SideOutcome
from thinkswitch.outcomes.estimate import (
    accuracy,
    curve,
    disagreement,
    hajek,
    paired_floor,
    proportion_floor,
)


def traffic(rng: random.Random, size: int) -> list[tuple[float, bool, bool]]:
    """(score, right without thinking, right with thinking) per request: thinking helps more
    where the score is high, and the policy thinks at score >= 0.7."""
    rows = []
    for _ in range(size):
        score = rng.random()
        off = rng.random() < 0.55 - 0.3 * score
        on = off or rng.random() < 0.1 + 0.5 * score
        rows.append((score, off, on))
    return rows


def pair(score: float, off: bool, on: bool, propensity: float) -> ShadowPair:
    thinks = score >= 0.7
    live, shadow = (SideOutcome(mode="on", budget=256, correct=on),
                    SideOutcome(mode="off", correct=off))
    if not thinks:
        live, shadow = shadow, live
    return ShadowPair(request_id="r", policy="p", score=score, propensity=propensity,
                      live=live, shadow=shadow,
                      agreement=Agreement(agree=off == on, method="text"))


def test_intervals_cover_the_truth_at_their_nominal_rate() -> None:
    rng = random.Random(20261128)
    population = traffic(rng, 3000)
    n = len(population)
    truth = {
        "always": sum(on for _, _, on in population) / n,
        "never": sum(off for _, off, _ in population) / n,
        "auto": sum((on if s >= 0.7 else off) for s, off, on in population) / n,
    }
    truth["loss"] = truth["always"] - truth["auto"]
    trials, covered = 300, dict.fromkeys(truth, 0)
    widths = []
    pairs = [pair(s, off, on, 0.2) for s, off, on in population]  # frozen: built once
    for _ in range(trials):
        sample = [shadowed for shadowed in pairs if rng.random() < 0.2]
        estimates = accuracy(sample)
        assert estimates is not None
        for name, value in truth.items():
            estimate = getattr(estimates, name)
            covered[name] += estimate.low <= value <= estimate.high
        widths.append(estimates.loss.half_width)
    for name, hits in covered.items():
        assert hits / trials >= 0.90, (name, hits / trials)  # nominal 0.95
        assert hits / trials <= 0.995, (name, hits / trials)  # and not vacuously wide
    # the paired loss is far tighter than the difference of two accuracies would be
    assert sum(widths) / trials < 0.04


def test_unequal_propensities_are_weighted_back() -> None:
    rng = random.Random(7)
    population = traffic(rng, 20000)
    truth = sum(off for _, off, _ in population) / len(population)
    # a biased design: high scores shadowed 5 times as often as low ones
    sample = []
    for s, off, on in population:
        propensity = 0.5 if s >= 0.5 else 0.1
        if rng.random() < propensity:
            sample.append(pair(s, off, on, propensity))
    estimates = accuracy(sample)
    assert estimates is not None
    assert estimates.never.low <= truth <= estimates.never.high
    unweighted = sum(bool(p.side("off").correct) for p in sample) / len(sample)
    assert abs(unweighted - truth) > 0.03  # ignoring the propensities would be wrong


def test_hajek_equals_the_mean_at_equal_propensities_and_edges() -> None:
    estimate = hajek([1.0, 0.0, 1.0, 1.0], [0.2] * 4)
    assert estimate.value == pytest.approx(0.75)
    sd = math.sqrt(4 / 3 * sum((v - 0.75) ** 2 for v in (1, 0, 1, 1))) / 4
    assert estimate.high - estimate.value == pytest.approx(1.959963984540054 * sd)
    assert hajek([], []).n == 0 and math.isnan(hajek([], []).value)
    assert math.isnan(hajek([1.0], [0.5]).low)
    with pytest.raises(ValueError):
        hajek([1.0], [])


def test_curve_runs_from_never_to_always_and_disagreement_counts_direct_answers() -> None:
    rng = random.Random(3)
    sample = [pair(s, off, on, 0.5) for s, off, on in traffic(rng, 400)]
    points = curve(sample)
    estimates = accuracy(sample)
    assert estimates is not None
    assert points[0].think_rate.value == 0.0 and points[-1].think_rate.value == 1.0
    assert points[0].accuracy.value == pytest.approx(estimates.never.value)
    assert points[-1].accuracy.value == pytest.approx(estimates.always.value)
    rates = [p.think_rate.value for p in points]
    assert rates == sorted(rates) and len(points) <= 62
    direct = [p for p in sample if p.live.mode == "off"]
    share = sum(not p.agreement.agree for p in direct) / len(direct)
    assert disagreement(sample).value == pytest.approx(share)
    assert accuracy([p.model_copy(update={"live": p.live.model_copy(update={"correct": None})})
                     for p in sample]) is None


def rare_change_pair(off: bool, on: bool) -> ShadowPair:
    """A direct answer (auto did not think) whose thinking side is known."""
    return ShadowPair(request_id="r", policy="p", score=0.1, propensity=0.2,
                      live=SideOutcome(mode="off", correct=off),
                      shadow=SideOutcome(mode="on", budget=256, correct=on),
                      agreement=Agreement(agree=off == on, method="text"))


def test_loss_interval_stays_honest_when_thinking_rarely_changes_the_outcome() -> None:
    """Thinking changes 2 in 100 outcomes (Qwen3-8B on SimpleQA changes 4): samples of 40
    pairs often hold no changed pair, where the sandwich sd is 0 and its interval [0, 0]
    misses the true loss; with the pseudo-count floor the interval covers it at least as often
as it says (conservative here: pseudo-counts cannot know the rate is that small)."""
    rng = random.Random(15)
    population = [(off, on) for off, on in
                  ((rng.random() < 0.04, False) for _ in range(2000))]
    population = [(off, off or rng.random() < 0.01) for off, _ in population]
    for index in range(0, 2000, 100):  # 2 in 100 where thinking alone is right ...
        population[index] = (False, True)
    for index in range(50, 2000, 100):  # ... and 1 in 100 where it alone is wrong
        population[index] = (True, False)
    truth = sum(on - off for off, on in population) / len(population)
    trials, covered, degenerate, plain_covered = 400, 0, 0, 0
    for _ in range(trials):
        sample = [rare_change_pair(off, on) for off, on in rng.sample(population, 40)]
        loss = hajek([float(p.shadow.correct) - float(p.live.correct) for p in sample],
                     [p.propensity for p in sample])
        degenerate += loss.low == loss.high
        plain_covered += loss.low <= truth <= loss.high
        estimates = accuracy(sample)
        assert estimates is not None
        covered += estimates.loss.low <= truth <= estimates.loss.high
        assert estimates.loss.half_width > 0.03  # never [0, 0]
    assert degenerate > trials * 0.2  # the unfloored interval collapses often here ...
    assert plain_covered / trials < 0.85, plain_covered / trials  # ... and misses
    assert covered / trials >= 0.95, covered / trials


def test_floors_are_the_pseudo_count_sds_at_the_effective_size() -> None:
    zeros = [0.0] * 40
    weights = [5.0] * 40
    more = less = 0.5 / 42
    assert paired_floor(zeros, weights) == pytest.approx(math.sqrt((more + less) / 42))
    assert proportion_floor(zeros, weights) == pytest.approx(
        math.sqrt(2 / 44 * (42 / 44) / 44))
    # unequal weights shrink the effective size (Kish): a wider floor than equal weights'
    assert paired_floor(zeros, [1.0] * 20 + [9.0] * 20) > paired_floor(zeros, weights)
    # far from 0 the sandwich rules: the floor changes nothing there
    values = [1.0, -1.0, 0.0, 1.0] * 25
    plain, floored = hajek(values, [0.2] * 100), hajek(values, [0.2] * 100, paired_floor)
    assert floored.half_width == pytest.approx(plain.half_width, rel=0.05)
