"""The live math suites: sizes, gold answers, options and broken files."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from thinkswitch.bench.extract import extract_answer
from thinkswitch.bench.items import Item, Suite
from thinkswitch.bench.math_suites import DATASETS, LOADERS, MATH_INSTRUCTION, load_math
from thinkswitch.bench.mathcheck import MathChecker, is_text_answer, math_equal
from thinkswitch.kernel.errors import DataError, UsageError
from thinkswitch.outcomes.spec import SuiteSpec
from thinkswitch.settings import default_data_dir

DATA = default_data_dir()
needs_data = pytest.mark.skipif(
    not (DATA / "benchmarks").is_dir(), reason="shared benchmark data not present"
)
SIZES = {"gsm8k": 1319, "svamp": 1000, "asdiv": 2215, "math500": 500, "aime24": 30, "aime25": 30}


def _load(name: str, limit: int | None = None, seed: int = 0, data: Path = DATA) -> Suite:
    return load_math(SuiteSpec.parse(name), data, limit, seed)


@needs_data
@pytest.mark.parametrize(("name", "size"), SIZES.items())
def test_sizes_and_item_shape(name: str, size: int) -> None:
    suite = _load(name)
    assert len(suite.items) == size
    assert len({item.id for item in suite.items}) == size
    assert isinstance(suite.checker, MathChecker)
    for item in suite.items:
        assert item.kind == "math"
        assert item.id.startswith(f"{name}/")
        assert item.prompt.endswith(MATH_INSTRUCTION)
        assert item.gold


@needs_data
def test_gsm8k_gold_of_item_0_is_the_number_after_the_hashes() -> None:
    first = (DATA / "benchmarks" / "gsm8k" / "test.jsonl").read_text().splitlines()[0]
    row = json.loads(first)
    expected = row["answer"].split("####")[-1].strip().replace(",", "")
    item = _load("gsm8k", limit=1).items[0]
    assert item.id == "gsm8k/0"
    assert item.gold == expected == "18"
    assert item.prompt.startswith(row["question"])


@needs_data
def test_file_ids_and_golds_of_the_other_suites() -> None:
    svamp = _load("svamp", limit=1).items[0]
    assert (svamp.id, svamp.gold) == ("svamp/chal-777", "145")
    assert "290 bananas" in svamp.prompt and "How big is each group" in svamp.prompt
    asdiv = _load("asdiv", limit=1).items[0]
    assert (asdiv.id, asdiv.gold) == ("asdiv/0", "9")  # "9 (apples)" without its unit
    aime = _load("aime24", limit=1).items[0]
    assert (aime.id, aime.gold) == ("aime24/aime_2024_I_1", "204")
    assert _load("aime25", limit=1).items[0].id == "aime25/aime_2025_I_1"
    math500 = _load("math500", limit=1).items[0]
    assert math500.gold == "\\left( 3, \\frac{\\pi}{2} \\right)"
    assert math500.meta["subject"] == "Precalculus"


def _gold_problems(item: Item) -> list[str]:
    """Why giving the gold back is not graded correct, for each way of giving it back."""
    problems = []
    checker = MathChecker(timeout=30)
    for answer in (f"Final answer: {item.gold}", f"So the result is $\\boxed{{{item.gold}}}$."):
        verdict = checker.check(item, answer)
        if not verdict.correct:
            problems.append(f"{answer!r}: {verdict}")
        extracted = extract_answer(answer)
        text = item.meta.get("match") == "text" or is_text_answer(item.gold)
        # Past the text shortcut: math-verify itself must agree the two are equal.
        if extracted is None or not (text or math_equal(item.gold, extracted)):
            problems.append(f"{answer!r}: math-verify says not equal to {extracted!r}")
    return problems


@pytest.mark.slow
@needs_data
@pytest.mark.parametrize("name", SIZES)
def test_every_gold_answer_given_back_is_correct(name: str) -> None:
    items = _load(name).items
    with ThreadPoolExecutor(max_workers=2) as pool:
        found = dict(zip((item.id for item in items), pool.map(_gold_problems, items), strict=True))
    failures = {item_id: problems for item_id, problems in found.items() if problems}
    assert not failures


@needs_data
def test_asdiv_text_answers_are_marked() -> None:
    items = {item.id: item for item in _load("asdiv").items}
    assert items["asdiv/165"].gold == "3:30 p.m." and items["asdiv/165"].meta["match"] == "text"
    assert items["asdiv/174"].meta["match"] == "text"  # "5:45", a clock time
    assert "match" not in items["asdiv/849"].meta  # "5:6", a ratio
    assert items["asdiv/29"].meta["match"] == "text"  # "Mrs. Hilt"
    assert items["asdiv/1313"].gold == "-(1/3)" and "match" not in items["asdiv/1313"].meta


@needs_data
def test_limit_and_seeded_shuffle() -> None:
    first = _load("gsm8k", limit=5)
    assert [item.id for item in first.items] == [f"gsm8k/{i}" for i in range(5)]
    shuffled = _load("gsm8k?shuffle=1", limit=5, seed=7)
    again = _load("gsm8k?shuffle=1", limit=5, seed=7)
    other = _load("gsm8k?shuffle=1", limit=5, seed=8)
    assert shuffled.items == again.items
    assert [i.id for i in shuffled.items] != [i.id for i in first.items]
    assert [i.id for i in shuffled.items] != [i.id for i in other.items]
    assert _load("gsm8k?shuffle=0", limit=2).items == first.items[:2]
    assert _load("aime24", limit=0).items == ()


def test_loaders_cover_every_dataset() -> None:
    assert set(LOADERS) == set(DATASETS) == set(SIZES)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("gsm8k?sort=1", r"unknown option 'sort'.*accepted: shuffle"),
        ("gsm8k?shuffle=maybe", "shuffle must be 0 or 1"),
        ("gsm8k:main", "takes no ':' argument"),
        ("gsm9k", "not a math suite.*gsm8k"),
    ],
)
def test_bad_options_are_usage_errors(tmp_path: Path, name: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        _load(name, data=tmp_path)


def test_missing_file_names_the_path_and_the_setting(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        _load("math500", data=tmp_path)
    message = str(caught.value)
    assert str(tmp_path / "benchmarks" / "math500" / "test.jsonl") in message
    assert "THINKSWITCH_DATA" in message and "--data-dir" in message


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "benchmarks" / "gsm8k" / "test.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD = json.dumps({"question": "1+1?", "answer": "1+1=2\n#### 2"})


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ('{"question": "1+1?", "answer": ', "not valid JSON"),
        ('["a list"]', "expected a JSON object"),
        (json.dumps({"question": "2+2?"}), "missing field 'answer'"),
        (json.dumps({"question": 4, "answer": "#### 4"}), "field 'question' is int"),
        (json.dumps({"question": "2+2?", "answer": "it is 4"}), "no '####'"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path: Path, bad_line: str, message: str) -> None:
    path = _write(tmp_path, [GOOD, "", bad_line, GOOD])
    with pytest.raises(DataError, match=message) as caught:
        _load("gsm8k", data=tmp_path)
    assert f"{path}:3:" in str(caught.value)


def test_small_fixture_loads_and_blank_lines_are_skipped(tmp_path: Path) -> None:
    _write(tmp_path, [GOOD, "", GOOD])
    suite = _load("gsm8k", data=tmp_path)
    assert [item.id for item in suite.items] == ["gsm8k/0", "gsm8k/1"]
    assert suite.checker.check(suite.items[0], "1 + 1 = 2\nFinal answer: 2").correct
    # A limit stops reading early: a broken line past it is not reached.
    _write(tmp_path / "x", [GOOD, "not json"])
    assert len(_load("gsm8k", limit=1, data=tmp_path / "x").items) == 1


def test_limit_zero_still_needs_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        _load("gsm8k", limit=0, data=tmp_path)
    _write(tmp_path, ["not json"])
    assert _load("gsm8k", limit=0, data=tmp_path).items == ()
