"""Grading math answers, including the known math-verify pitfalls."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

import pytest

from thinkswitch.bench import mathcheck
from thinkswitch.bench.items import Item
from thinkswitch.bench.mathcheck import MathChecker, is_text_answer, math_equal


def _item(gold: str, meta: Mapping[str, object] | None = None) -> Item:
    return Item("t/0", "question", gold, "math", meta or {})


@pytest.fixture(scope="module")
def checker() -> MathChecker:
    math_equal("1/2", "0.5")  # import math-verify outside the first case's 5-second timeout
    return MathChecker()


def _grade(checker: MathChecker, gold: str, answer: str) -> bool:
    return checker.check(_item(gold), answer).correct


@pytest.mark.parametrize(
    ("gold", "answer", "correct"),
    [
        # A truncated decimal is another number; six correct places are accepted (math-verify's
        # rounding rule, kept on purpose and documented in mathcheck).
        ("1/3", "Final answer: 0.333", False),
        ("\\frac{1}{3}", "Final answer: 0.333", False),
        ("1/3", "Final answer: 0.333333", True),
        ("\\frac{1}{3}", "Final answer: 1/3", True),
        ("1/3", "Final answer: \\frac{1}{3}", True),
        # Ordered tuples and intervals keep their order and brackets.
        ("(1,2)", "Final answer: (2,1)", False),
        ("(1,2)", "Final answer: (1,2)", True),
        ("\\left( 3, \\frac{\\pi}{2} \\right)", "Final answer: (\\frac{\\pi}{2}, 3)", False),
        ("\\left( 3, \\frac{\\pi}{2} \\right)", "Final answer: (3, \\pi/2)", True),
        ("[1,2]", "Final answer: (1,2)", False),
        # Formatting of the same number.
        ("1234", "Final answer: 1,234", True),
        ("1,234", "Final answer: 1234", True),
        ("0.75", "so it is $\\boxed{\\dfrac{3}{4}}$", True),
        ("\\frac{3}{4}", "Final answer: 0.75", True),
        ("-5", "Final answer: −5", True),
        ("−5", "Final answer: -5", True),
        ("-5", "Final answer: 5", False),
        ("72", "Final answer: 72.0", True),
        ("72", "Final answer: 72.5", False),
        ("25", "Final answer: 25%", True),
        ("25%", "Final answer: 25", True),
        ("25\\%", "Final answer: 0.25", True),
        ("5", "Final answer: x = 5", True),
        ("x=5", "Final answer: 5", True),
        ("18", "Final answer: 18 dollars", True),
        ("18", "She makes 18 dollars every day.", True),
        ("18", "Final answer: 19 dollars", False),
        ("18.90", "Final answer: \\$18.90", True),
        ("10,\\!080", "Final answer: 10080", True),
        ("90^\\circ", "Final answer: 90", True),
        ("3\\sqrt{13}", "Final answer: \\sqrt{117}", True),
        ("1,-2", "Final answer: -2, 1", True),  # an unordered list of solutions
        ("3:4", "Final answer: 3/4", True),
        # Nothing extracted.
        ("4", "I am not sure.", False),
        ("4", "", False),
    ],
)
def test_hand_made_cases(checker: MathChecker, gold: str, answer: str, correct: bool) -> None:
    assert _grade(checker, gold, answer) is correct


def test_nothing_extracted_says_so(checker: MathChecker) -> None:
    verdict = checker.check(_item("4"), "I give up")
    assert verdict.correct is False
    assert verdict.extracted is None
    assert verdict.detail == "no answer found"


def test_verdict_carries_the_extracted_answer_and_why(checker: MathChecker) -> None:
    verdict = checker.check(_item("72"), "work...\nFinal answer: 72.0")
    assert (verdict.correct, verdict.extracted, verdict.detail) == (True, "72.0", "same number")
    verdict = checker.check(_item("\\frac{1}{3}"), "Final answer: 0.333")
    assert (verdict.correct, verdict.detail) == (False, "math-verify: not equal")


@pytest.mark.parametrize(
    ("gold", "answer", "correct"),
    [
        ("3:30 p.m.", "Final answer: 3:30 PM", True),
        ("3:30 p.m.", "Final answer: 3:45 p.m.", False),  # math-verify would read both as 3
        ("\\text{Evelyn}", "Final answer: Evelyn", True),
        ("\\text{Evelyn}", "Final answer: Nevely", False),  # an anagram: a product of letters
        ("Cesar's toothbrush", "Final answer: cesars toothbrush.", True),
        ("Yes", "Final answer: No", False),
        ("6th", "Final answer: 6th", True),
        ("\\text{(C)}", "Final answer: C", True),
    ],
)
def test_text_answers(checker: MathChecker, gold: str, answer: str, correct: bool) -> None:
    assert _grade(checker, gold, answer) is correct


def test_meta_can_ask_for_a_text_comparison(checker: MathChecker) -> None:
    clock = _item("5:45", {"match": "text"})
    assert checker.check(clock, "Final answer: 5:45").correct
    assert not checker.check(clock, "Final answer: 1:9").correct  # 5/45 == 1/9 as numbers
    assert checker.check(_item("5:45"), "Final answer: 1:9").correct  # as a ratio it is


def test_text_answer_detection() -> None:
    assert is_text_answer("Mrs. Hilt")
    assert is_text_answer("\\text{east}")
    assert is_text_answer("11:55 p.m. on 24 December 2014.")
    assert not is_text_answer("5.4 \\text{ cents}")
    assert not is_text_answer("\\frac{\\sqrt{3}}{3}")
    assert not is_text_answer("x^5 - x^4 + x^3")
    assert not is_text_answer("\\cot x")


def test_math_equal_is_gold_first_and_thread_safe() -> None:
    results: list[bool] = []
    worker = threading.Thread(target=lambda: results.append(math_equal("\\frac{1}{2}", "0.5")))
    worker.start()
    worker.join(timeout=30)
    assert results == [True]  # no "signal only works in main thread" error


def test_a_slow_comparison_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(gold: str, pred: str) -> bool:
        time.sleep(2)
        return True

    monkeypatch.setattr(mathcheck, "math_equal", slow)
    started = time.monotonic()
    verdict = MathChecker(timeout=0.2).check(_item("\\frac{1}{2}"), "Final answer: 0.5")
    assert (verdict.correct, verdict.extracted, verdict.detail) == (False, "0.5", "timeout")
    assert time.monotonic() - started < 1.5


def test_an_error_in_the_comparison_is_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(gold: str, pred: str) -> bool:
        raise RuntimeError("boom")

    monkeypatch.setattr(mathcheck, "math_equal", broken)
    with pytest.raises(RuntimeError, match="boom"):
        MathChecker().check(_item("\\frac{1}{2}"), "Final answer: 0.5")
