"""Metric functions against values computed by hand on a four-question table."""

from __future__ import annotations

import pytest

from thinkswitch.outcomes import metrics
from thinkswitch.outcomes.paired import Outcome, PairedItem, PairedTable


def table() -> PairedTable:
    # (off correct, on correct): a wrong->right, b right both, c wrong->right, d right->wrong
    rows = {"a": (0, 1), "b": (1, 1), "c": (0, 1), "d": (1, 0)}
    items = tuple(
        PairedItem(key, f"question {key}", "g", Outcome(off, 10), Outcome(on, 100))
        for key, (off, on) in rows.items()
    )
    return PairedTable("hand", "off", "on", items)


def test_baselines() -> None:
    t = table()
    assert metrics.never(t) == metrics.Point(0.5, 10.0, 0.0)
    assert metrics.always(t) == metrics.Point(0.75, 100.0, 1.0)
    # The oracle thinks on a and c only: all four right at (100+10+100+10)/4 tokens.
    assert metrics.oracle(t) == metrics.Point(1.0, 55.0, 0.5)
    assert metrics.random_at(t, 0.5) == metrics.Point(0.625, 55.0, 0.5)


def test_curve_and_gap_summary() -> None:
    t = table()
    # Order a (0.9), b (0.8), d (0.5), c (0.1).
    curve = metrics.curve(t, [0.9, 0.8, 0.1, 0.5])
    assert [p.accuracy for p in curve.points] == [0.5, 0.75, 0.75, 0.5, 0.75]
    assert [p.tokens for p in curve.points] == [10.0, 32.5, 55.0, 77.5, 100.0]
    assert [p.think_rate for p in curve.points] == [0.0, 0.25, 0.5, 0.75, 1.0]
    gap = metrics.gap_summary(t, curve)
    # PGR = 0, 1, 1, 0, 1 -> trapezoid 0.25 * (0.5 + 1 + 0.5 + 0.5) = 0.625
    assert gap.apgr == pytest.approx(0.625)
    assert gap.cpt50 == 0.25 and gap.cpt80 == 0.25
    # accuracy trapezoid: 0.25 * (0.625 + 0.75 + 0.625 + 0.625) = 0.65625
    assert gap.auc == pytest.approx(0.65625)
    assert metrics.accuracy_at_tokens(curve, 40.0) == 0.75
    assert metrics.accuracy_at_tokens(curve, 5.0) is None


def test_ties_are_the_expectation_over_tie_breaking() -> None:
    t = table()
    curve = metrics.curve(t, [0.5, 0.5, 0.5, 0.5])
    assert [p.accuracy for p in curve.points] == pytest.approx([0.5, 0.5625, 0.625, 0.6875, 0.75])
    assert metrics.gap_summary(t, curve).apgr == pytest.approx(0.5)


def test_no_gap_means_no_apgr() -> None:
    flat = PairedTable("flat", "off", "on", tuple(
        PairedItem(k, "", "g", Outcome(1, 1), Outcome(1, 9)) for k in "xyz"))
    gap = metrics.gap_summary(flat, metrics.curve(flat, [1, 2, 3]))
    assert gap.apgr is None and gap.cpt80 is None


def test_bootstrap_interval() -> None:
    low, high = metrics.bootstrap_interval([1, 0] * 50, seed=1)
    assert low < 0.5 < high
    assert low > 0.35 and high < 0.65
    assert metrics.bootstrap_interval([1.0] * 10) == (1.0, 1.0)


def test_wrong_lengths_are_errors() -> None:
    with pytest.raises(ValueError, match="3 scores for 4 questions"):
        metrics.curve(table(), [1, 2, 3])
    with pytest.raises(ValueError, match="2 decisions for 4 questions"):
        metrics.point_for(table(), [True, False])
