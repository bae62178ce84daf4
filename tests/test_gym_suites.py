"""Generated reasoning suites from reasoning-gym."""

from __future__ import annotations

from pathlib import Path

import pytest

from thinkswitch.bench.gym_suites import (
    DEFAULT_LIMIT,
    GYM_INSTRUCTION,
    GymChecker,
    extract_gym_answer,
    gym_config,
    load_gym,
)
from thinkswitch.bench.items import Item, Suite
from thinkswitch.kernel.errors import UsageError
from thinkswitch.outcomes.spec import SuiteSpec


def _load(name: str, limit: int | None = 5, seed: int = 3) -> Suite:
    return load_gym(SuiteSpec.parse(name), Path("unused"), limit, seed)


def test_same_seed_same_items_other_seed_other_items() -> None:
    first = _load("gym:basic_arithmetic?difficulty=2", seed=11)
    again = _load("gym:basic_arithmetic?difficulty=2", seed=11)
    other = _load("gym:basic_arithmetic?difficulty=2", seed=12)
    assert first.items == again.items
    assert [i.prompt for i in first.items] != [i.prompt for i in other.items]
    assert first.name == "gym:basic_arithmetic?difficulty=2"
    assert [i.id for i in first.items] == [f"basic_arithmetic/11/{n}" for n in range(5)]


def test_item_shape_and_default_limit() -> None:
    suite = _load("gym:leg_counting", limit=None)
    assert len(suite.items) == DEFAULT_LIMIT
    item = suite.items[0]
    assert item.kind == "gym"
    assert item.prompt.endswith(GYM_INSTRUCTION)
    assert item.meta["dataset"] == "leg_counting" and item.meta["seed"] == 3
    assert isinstance(suite.checker, GymChecker)


@pytest.mark.parametrize(
    "name",
    [
        "gym:basic_arithmetic?difficulty=1",
        "gym:basic_arithmetic?difficulty=4",
        "gym:chain_sum?difficulty=3",
        "gym:leg_counting?difficulty=2",
        "gym:leg_counting",
        "gym:fraction_simplification?difficulty=2",
        "gym:gsm_symbolic?difficulty=1",
        "gym:word_sorting",
        "gym:sentence_reordering",
        "gym:maze",
    ],
)
def test_an_items_own_answer_scores_correct(name: str) -> None:
    suite = _load(name)
    for item in suite.items:
        verdict = suite.checker.check(item, f"Let me think.\nFinal answer: {item.gold}")
        assert verdict.correct, (item.id, item.gold, verdict)
        assert verdict.detail == "score 1"


def test_wrong_and_partial_answers_are_wrong() -> None:
    suite = _load("gym:chain_sum?difficulty=2")
    item = suite.items[0]
    wrong = str(int(item.gold) + 1)
    verdict = suite.checker.check(item, f"Final answer: {wrong}")
    assert (verdict.correct, verdict.extracted) == (False, wrong)
    assert not suite.checker.check(item, "no idea").correct
    words = _load("gym:word_sorting")
    partial = words.checker.check(words.items[0], f"Final answer: {words.items[0].gold} and more")
    assert not partial.correct and partial.detail.startswith("score ")


def test_numbers_are_extracted_like_math_answers() -> None:
    suite = _load("gym:basic_arithmetic?difficulty=1")
    item = suite.items[0]
    assert suite.checker.check(item, f"so it is \\boxed{{{item.gold}}}").correct
    assert suite.checker.check(item, f"step 1... the result is {item.gold}").correct
    assert extract_gym_answer("Final answer: 1,234 legs", "1234") == "1234"
    assert extract_gym_answer("Final answer: 4.0", "4") == "4"
    assert extract_gym_answer("Final answer: −3", "-3") == "-3"
    assert extract_gym_answer("Final answer: 2.50", "2.5") == "2.50"


def test_text_answers_keep_their_period_or_use_the_last_line() -> None:
    assert extract_gym_answer("Final answer: He left.", "He left.") == "He left."
    assert extract_gym_answer("thinking\nHe left.\n", "He left.") == "He left."
    grid = "1 2\n3 4"
    assert extract_gym_answer(f"work\nFinal answer:\n{grid}\n", grid) == grid


def test_difficulty_mapping_is_the_curriculum_level() -> None:
    assert gym_config("basic_arithmetic", {"difficulty": "1"}) == {
        "min_terms": 2, "max_terms": 2, "min_digits": 1, "max_digits": 1,
    }  # fmt: skip
    assert gym_config("basic_arithmetic", {"difficulty": "3"})["max_terms"] == 4
    assert gym_config("basic_arithmetic", {"difficulty": "99"})["max_digits"] == 4  # clamped
    chain = gym_config("chain_sum", {"difficulty": "3"})
    assert (chain["min_terms"], chain["max_terms"], chain["max_digits"]) == (4, 4, 3)
    legs = gym_config("leg_counting", {"difficulty": "2"})
    assert (legs["max_animals"], legs["min_instances"], legs["max_instances"]) == (2, 4, 8)
    assert gym_config("gsm_symbolic", {"difficulty": "2"}) == {"difficulty": 2}


def test_generated_items_follow_the_difficulty() -> None:
    easy = _load("gym:chain_sum?difficulty=1", limit=10)
    hard = _load("gym:chain_sum?difficulty=4", limit=10)
    assert all(item.prompt.count("+") + item.prompt.count(" - ") == 1 for item in easy.items)
    assert max(len(item.gold.lstrip("-")) for item in hard.items) >= 4


def test_other_options_pass_through_and_win_over_difficulty() -> None:
    config = gym_config(
        "basic_arithmetic",
        {"difficulty": "2", "max_terms": "5", "allow_negation": "false", "operators": "+,-"},
    )
    assert config["min_terms"] == 3 and config["max_terms"] == 5
    assert config["allow_negation"] is False
    assert config["operators"] == ["+", "-"]
    suite = _load("gym:basic_arithmetic?operators=+&max_terms=2&min_terms=2")
    assert all("*" not in item.prompt.split("\n")[0] for item in suite.items)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("gym:basic_arithmatic", "'basic_arithmatic'; did you mean: basic_arithmetic"),
        ("gym:no_such_thing_at_all", r"unknown gym dataset .*for example: .*datasets in"),
        ("gym", "needs a dataset name"),
        ("gym:basic_arithmetic?levels=3", r"unknown option 'levels'.*: difficulty, .*max_terms"),
        ("gym:basic_arithmetic?difficulty=0", "difficulty must be a whole number >= 1"),
        ("gym:basic_arithmetic?difficulty=hard", "difficulty must be a whole number >= 1"),
        ("gym:basic_arithmetic?min_terms=5&max_terms=2", "bad options for gym:basic_arithmetic"),
        ("gym:composite?difficulty=1", "has no difficulty levels"),
        ("gym:basic_arithmetic?seed=4", "unknown option 'seed'"),
    ],
)
def test_bad_suites_are_usage_errors(name: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        _load(name)


def test_bad_limit_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="limit"):
        _load("gym:chain_sum", limit=0)


def test_an_item_from_elsewhere_is_not_graded() -> None:
    suite = _load("gym:chain_sum")
    stranger = Item("chain_sum/3/999", "q", "5", "gym")
    assert suite.checker.check(stranger, "Final answer: 5").correct is False
