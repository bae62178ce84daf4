"""The guard's permutation test (thinkswitch.triage.label_permutation) on scores whose answer
is known: a reproduction of the re-fit passes, a draw of the null does not, and labels that
carry no information give no power."""

from __future__ import annotations

import numpy as np

from thinkswitch.triage.examples import LabelledExample
from thinkswitch.triage.label_permutation import beyond_null, null_scores, permuted_labels


def fit(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A stand-in recipe's scores: the labels plus noise (what a fit tracks)."""
    return labels + rng.uniform(0, 0.9, len(labels))


def test_a_reproduction_passes_and_a_draw_of_the_null_is_refused() -> None:
    rng = np.random.default_rng(1)
    pays = (rng.random(80) < 0.3).astype(float)
    reference = fit(pays, rng)
    null = [fit(rng.permutation(pays), rng) for _ in range(19)]
    passed = beyond_null(reference, reference, null)
    assert passed.passed and passed.statistic > passed.bound > passed.null_max - 1
    refused = [beyond_null(fit(rng.permutation(pays), rng), reference, null).passed
               for _ in range(200)]
    assert not any(refused)


def test_labels_without_information_give_no_power() -> None:
    """Every pair alike: the permuted re-fits are the re-fit itself, nothing passes."""
    scores = np.linspace(0, 1, 40)
    tested = beyond_null(scores, scores, [scores.copy() for _ in range(19)])
    assert not tested.passed and tested.statistic == tested.null_max


def test_permuted_copies_move_label_pairs_not_questions() -> None:
    examples = [LabelledExample(f"q{i}", f"question {i}", "off", float(i % 2), 1.0, None, 0.5,
                                float(i), 10.0, 500.0) for i in range(30)]
    copies = permuted_labels(examples, 3, np.random.default_rng(0))
    for copy in copies:
        assert [e.question for e in copy] == [e.question for e in examples]
        assert sorted(e.correct_off or 0.0 for e in copy) == sorted(
            e.correct_off or 0.0 for e in examples)
    assert any(c.correct_off != e.correct_off for c, e in zip(copies[0], examples, strict=True))
    labels = np.arange(30.0)
    drawn = null_scores(labels, lambda permuted: permuted, 4, seed=0)
    assert len(drawn) == 4 and all(sorted(d) == list(labels) for d in drawn)
    assert not np.array_equal(drawn[0], labels)
    again = null_scores(labels, lambda permuted: permuted, 4, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(drawn, again, strict=True))
    assert not np.array_equal(drawn[0], null_scores(labels, lambda p: p, 1, seed=1)[0])
