"""The plain TF-IDF router and the gap metrics, on hand-made tables whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from thinkswitch.outcomes import metrics
from thinkswitch.outcomes.paired import Outcome, PairedItem, PairedTable
from thinkswitch.triage.baseline import PlainRouter, train_plain
from thinkswitch.triage.evaluate import evaluate
from thinkswitch.triage.training import folds_for, out_of_fold_scores


def four() -> PairedTable:
    """never 25%, always 75%: thinking turns q0 and q1 right, q2 stays wrong, q3 stays right."""
    rows = [(0, 1), (0, 1), (0, 0), (1, 1)]
    return PairedTable("four", "off", "on", tuple(
        PairedItem(str(i), f"q{i}", "g", Outcome(off, 10), Outcome(on, 100))
        for i, (off, on) in enumerate(rows)))


def test_apgr_is_routellm_area_of_the_gap_recovered_between_never_and_always() -> None:
    table = four()
    assert metrics.never(table).accuracy == 0.25 and metrics.always(table).accuracy == 0.75
    assert metrics.oracle(table).accuracy == 0.75 and metrics.oracle(table).think_rate == 0.5
    # best first: PGR 0, .5, 1, 1, 1 at rates 0, .25, .5, .75, 1 -> trapezoid .75
    best = metrics.gap_summary(table, metrics.curve(table, [3, 2, 1, 0]))
    assert best.apgr == pytest.approx(0.75)
    assert (best.cpt50, best.cpt80) == (0.25, 0.5)
    # worst first: PGR 0, 0, 0, .5, 1 -> .25
    worst = metrics.gap_summary(table, metrics.curve(table, [0, 1, 2, 3]))
    assert worst.apgr == pytest.approx(0.25)
    assert (worst.cpt50, worst.cpt80) == (0.75, 1.0)
    # one tie of all questions is random routing: the straight line, APGR 1/2, CPT(x) = x
    tied = metrics.gap_summary(table, metrics.curve(table, [1, 1, 1, 1]))
    assert tied.apgr == pytest.approx(0.5)
    assert tied.cpt50 == pytest.approx(0.5) and tied.cpt80 == 1.0  # first k/n reaching 0.8
    assert tied.auc == pytest.approx(0.5)
    assert metrics.below_random(table, metrics.curve(table, [3, 2, 1, 0])) == []
    assert metrics.below_random(table, metrics.curve(table, [0, 1, 2, 3])) == [0.25, 0.5, 0.75]
    flat = PairedTable("flat", "off", "on", tuple(
        PairedItem(str(i), "q", "g", Outcome(1, 1), Outcome(1, 2)) for i in range(3)))
    assert metrics.gap_summary(flat, metrics.curve(flat, [0, 1, 2])).apgr is None


def texts_table(n: int = 60) -> PairedTable:
    """Thinking turns wrong into right exactly on the arithmetic questions."""
    items = []
    for i in range(n):
        math_q = i % 2 == 0
        question = (f"compute {i} plus {i + 7} times {i % 5 + 2} then divide" if math_q
                    else f"which word names the colour of flower {i} in the story")
        items.append(PairedItem(str(i), question, f"g{i % 3}",
                                Outcome(0.0 if math_q else 1.0, 5), Outcome(1.0, 50)))
    return PairedTable("texts", "off", "on", tuple(items))


def test_plain_router_routes_the_learnable_table() -> None:
    table = texts_table()
    result = evaluate(table, None, "question", 5, 0, resamples=0, trainer=train_plain)
    # a perfect ranking (the oracle's): PGR climbs to 1 at half the questions, then stays
    assert result.gap.apgr == pytest.approx(0.75)
    assert result.gap.cpt80 == pytest.approx(0.4)
    constant = train_plain([PairedTable("c", "off", "on", table.items[1::2])])
    assert isinstance(constant, PlainRouter) and constant.model is None
    assert np.array_equal(constant.scores(["a", "b"]), np.zeros(2))


@pytest.mark.parametrize("split", ["question", "group"])
def test_the_plain_router_gets_the_same_leak_free_folds(split: str) -> None:
    table = texts_table(30)
    # a repeat of question 0 under another id must never train the fold that holds question 0
    table = PairedTable(table.name, "off", "on", (*table.items, PairedItem(
        "dup", table.items[0].question, "g1", table.items[0].off, table.items[0].on)))
    folds = folds_for(table, split, 5, 0)  # type: ignore[arg-type]
    seen: list[set[str]] = []

    def spy(tables: list[PairedTable]) -> PlainRouter:
        seen.append({i.question for t in tables for i in t.items})
        return train_plain(tables)

    out_of_fold_scores(table, split, 5, 0, trainer=spy)  # type: ignore[arg-type]
    assert len(seen) == len(folds)
    for trained, fold in zip(seen, folds, strict=True):
        assert trained.isdisjoint({table.items[i].question for i in fold})
