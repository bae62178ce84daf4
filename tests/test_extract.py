"""Finding the final answer in a model's answer text."""

from __future__ import annotations

import pytest

from thinkswitch.bench.extract import (
    clean_answer,
    extract_answer,
    gold_from_gsm8k,
    last_boxed,
    last_number,
    marked_answer,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("so the answer is $\\boxed{5}$.", "5"),
        ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", "\\left( 3, \\frac{\\pi}{2} \\right)"),
        ("first \\boxed{1} then \\boxed{2}", "2"),
        ("\\boxed{a_{b_{c}}} done", "a_{b_{c}}"),
        ("\\fbox{42}", "42"),
        ("\\boxed {7}", "7"),
        ("\\boxed 9 apples", "9"),
        ("\\boxed{\\{1, 2\\}}", "\\{1, 2\\}"),
        ("\\boxed{\\boxed{3}}", "\\boxed{3}"),
    ],
)
def test_boxed_takes_the_last_balanced_box(text: str, expected: str) -> None:
    assert last_boxed(text) == expected
    assert extract_answer(text) == expected


def test_an_unclosed_box_is_skipped_for_an_earlier_closed_one() -> None:
    assert last_boxed("\\boxed{4} and then \\boxed{5") == "4"
    assert last_boxed("\\boxed{5") is None
    assert extract_answer("I think 12. \\boxed{5") == "5"  # falls back to the last number


def test_boxed_wins_over_a_final_answer_line() -> None:
    assert extract_answer("\\boxed{7}\nFinal answer: 8") == "7"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("work 3 + 4 = 7\nFinal answer: 7", "7"),
        ("Final Answer: 18.", "18"),
        ("FINAL ANSWER: $\\frac{3}{4}$", "\\frac{3}{4}"),
        ("The final answer is 12", "12"),
        ("The final answer is: $1,234$.", "1,234"),
        ("so the answer is 42 apples.", "42 apples"),
        ("Answer: (1, 2)", "(1, 2)"),
        ("**Final answer:** **25**", "25"),
        ("Final answer: $18", "18"),
        ("Final answer: \\$18.90", "18.90"),
        ("Final answer:\n\n  x = 5  \n", "x = 5"),
        ("Answer: 3\nlater... Final answer: 4", "4"),
        ("Final answer: They are equal.", "They are equal"),
        ("Final answer: \\(2\\sqrt{3}\\)", "2\\sqrt{3}"),
    ],
)
def test_final_answer_variants(text: str, expected: str) -> None:
    assert extract_answer(text) == expected


def test_a_sentence_keeps_its_period_when_asked() -> None:
    assert marked_answer("Final answer: He left.", strip_period=False) == "He left."
    assert clean_answer("  **$5$.**  ") == "5"


def test_final_answer_with_nothing_after_it_falls_through() -> None:
    assert marked_answer("Final answer:") is None
    assert extract_answer("it is 3 or 4. Final answer:") == "4"


def test_gsm8k_hashes() -> None:
    assert extract_answer("She pays 3 * 6 = 18\n#### 18") == "18"
    assert extract_answer("#### 1,234\nmore text 5") == "1,234"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("She has 3 apples and buys 1,234 more", "1234"),
        ("it costs 1,234,567.89 dollars", "1234567.89"),
        ("the temperature is -5 degrees", "-5"),
        ("the temperature is −5 degrees", "-5"),
        ("about 3.75 liters", "3.75"),
        ("she ate 3/4 of it", "3/4"),
        ("from 3-5 days", "5"),
        ("a tiny .5 share", ".5"),
        ("(-7)", "-7"),
        ("1,2 and 3", "3"),
    ],
)
def test_last_number(text: str, expected: str) -> None:
    assert last_number(text) == expected
    assert extract_answer(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "I do not know.", "no digits at all\n"])
def test_nothing_found_is_none(text: str) -> None:
    assert extract_answer(text) is None


def test_gold_from_gsm8k() -> None:
    assert gold_from_gsm8k("She makes 9 * 2 = $<<9*2=18>>18.\n#### 18") == "18"
    assert gold_from_gsm8k("so\n#### 1,450,000") == "1450000"
    assert gold_from_gsm8k("#### -3") == "-3"
    with pytest.raises(ValueError, match="####"):
        gold_from_gsm8k("no marker 18")
    with pytest.raises(ValueError, match="nothing after"):
        gold_from_gsm8k("#### ")
