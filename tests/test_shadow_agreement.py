"""Judging the two sides of a pair: math by math-verify equivalence, multiple choice by the
option, short text by normalised match, code by running both against the tests in the real
sandbox (and then each side's correctness is known)."""

from __future__ import annotations

import pytest

from thinkswitch.bench.code_suites import CodeChecker
from thinkswitch.bench.items import Item
from thinkswitch.shadow.agreement import judge, normalised, option_letter, warm


@pytest.fixture(autouse=True, scope="module")
def _math_verify_loaded() -> None:
    """As a server does before it serves: the first comparison would otherwise spend its
    5-second timeout importing math-verify, which a busy machine can take longer than."""
    warm()


@pytest.mark.parametrize(("live", "shadow", "agree"), [
    ("The answer is 1/2.", "So we get \\boxed{0.5}", True),
    ("Answer: 72", "There are 72.0 apples in all, so the answer is 72.0", True),
    ("so x = \\boxed{\\frac{3}{4}}", "Final answer: 0.75", True),
    ("Answer: 2004", "Answer:\n2005", False),
    ("\\boxed{\\sqrt{2}}", "\\boxed{2^{1/2}}", True),
])
def test_numbers_and_math_by_equivalence(live: str, shadow: str, agree: bool) -> None:
    verdict = judge("How much is it?", live, shadow)
    assert verdict.agreement.method == "math" and verdict.agreement.agree is agree


def test_multiple_choice_by_the_option() -> None:
    question = "Which is a prime?\n(A) 4\n(B) 6\n(C) 7\n(D) 9"
    same = judge(question, "The answer is (C).", "C. 7 is prime because ...")
    assert same.agreement.method == "choice" and same.agreement.agree is True
    other = judge(question, "Answer: B", "The answer is (C)")
    assert other.agreement.agree is False and other.agreement.note == "B / C"
    unsure = judge(question, "I cannot tell.", "C")
    assert unsure.agreement.agree is None
    assert option_letter("**D**") == "D"


def test_short_text_by_normalised_match() -> None:
    assert judge("Who painted it?", "Ivan Aivazovsky.", "Answer: aivazovsky").agreement.agree
    assert judge("Who painted it?", "The Beatles", "beatles").agreement.agree
    assert not judge("Who painted it?", "Repin", "Aivazovsky").agreement.agree
    assert judge("Who?", "", "Repin").agreement.agree is None
    assert normalised("Answer: The Quick, brown fox!") == "quick brown fox"


def test_long_text_only_when_equal() -> None:
    long_one = "It depends on the season and the altitude of the place you are visiting today"
    assert judge("Weather?", long_one, long_one.upper()).agreement.agree is True
    assert judge("Weather?", long_one, long_one + " too").agreement.agree is False


def test_code_by_running_both_against_the_tests() -> None:
    item = Item(id="t1", prompt="Write add(a, b).", gold="", kind="code",
                meta={"test_list": ["assert add(2, 3) == 5", "assert add(-1, 1) == 0"]})
    right = "```python\ndef add(a, b):\n    return a + b\n```"
    wrong = "```python\ndef add(a, b):\n    return a - b\n```"
    verdict = judge(item.prompt, wrong, right, item, CodeChecker(timeout_s=10))
    assert verdict.agreement.method == "code" and verdict.agreement.agree is False
    assert (verdict.live_correct, verdict.shadow_correct) == (False, True)
    both = judge(item.prompt, right, right.replace("a + b", "b + a"), item, CodeChecker())
    assert both.agreement.agree is True and both.live_correct and both.shadow_correct
