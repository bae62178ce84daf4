"""The MBPP and HumanEval suites: loading, code extraction, and grading in the sandbox."""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from support.sandbox_required import sandbox  # noqa: F401  (the fixture)

from thinkswitch.bench.code_suites import (
    MBPP_FILE,
    CodeChecker,
    choose_isolation,
    extract_code,
    load_humaneval,
    load_mbpp,
    read_humaneval,
    with_isolation,
)
from thinkswitch.bench.items import Item, Suite, Verdict
from thinkswitch.kernel.errors import DataError, UsageError
from thinkswitch.outcomes.spec import SuiteSpec
from thinkswitch.settings import default_data_dir

DATA_DIR = default_data_dir()


def fenced(code: str) -> str:
    return f"Here is my solution.\n\n```python\n{code}\n```\n"


@pytest.fixture(scope="module")
def mbpp() -> Suite:
    if not (DATA_DIR / MBPP_FILE).is_file():
        pytest.skip(f"no MBPP data at {DATA_DIR / MBPP_FILE}")
    return load_mbpp(SuiteSpec.parse("mbpp"), DATA_DIR, None, 0)


@pytest.fixture(scope="module")
def humaneval() -> Suite:
    return load_humaneval(SuiteSpec.parse("humaneval"), DATA_DIR, None, 0)


def check_all(suite: Suite, answer: Callable[[Item], str]) -> list[tuple[str, Verdict]]:
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=2) as pool:
        verdicts = list(pool.map(lambda item: suite.checker.check(item, answer(item)), suite.items))
    print(f"{suite.name}: {len(verdicts)} checked in {time.monotonic() - started:.1f} s")
    return [(item.id, verdict) for item, verdict in zip(suite.items, verdicts, strict=True)]


# --- extraction -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("```python\ndef f():\n    return 1\n```", "def f():\n    return 1\n"),
        ("a\n```python\nx = 1\n```\nthen\n```python\nx = 2\n```\nend", "x = 2\n"),
        ("```python\nx = 1\n```\n```text\nnot code\n```", "x = 1\n"),
        ("```py\nx = 3\n```", "x = 3\n"),
        ("```\nx = 4\n```", "x = 4\n"),
        ("```js\nlet x\n```\n```sh\nls\n```", "ls\n"),
        ("def f():\n    return 5\n", "def f():\n    return 5\n"),
        ("Sure:\n```python\ndef f():\n    return 6", "def f():\n    return 6\n"),
        (
            "1. Code:\n   ```python\n   def f():\n       return 7\n   ```",
            "def f():\n    return 7\n",
        ),
        ("```Python3 title=x\n\nx = 8\n\n```", "x = 8\n"),
    ],
    ids=[
        "one-block",
        "last-python-block",
        "python-over-later-other",
        "py-label",
        "bare-fence",
        "last-fenced-of-any-language",
        "no-fence",
        "unclosed",
        "indented-in-list",
        "info-string",
    ],
)
def test_extract_code(text: str, code: str) -> None:
    assert extract_code(text) == code


# --- loading ----------------------------------------------------------------------------------


def test_mbpp_is_the_500_task_test_split(mbpp: Suite) -> None:
    assert mbpp.name == "mbpp"
    assert [item.id for item in mbpp.items] == [f"mbpp/{n}" for n in range(11, 511)]
    first = mbpp.items[0]
    assert first.kind == "code"
    assert "remove first and last occurrence" in first.prompt
    assert 'assert remove_Occ("hello","l") == "heo"' in first.prompt
    assert "```python" in first.prompt
    assert first.gold == first.meta["reference"]
    assert "\r" not in first.gold
    assert len(first.meta["test_list"]) == 3  # type: ignore[arg-type]


def test_mbpp_setup_code_is_kept_and_shown(mbpp: Suite) -> None:
    item = next(item for item in mbpp.items if item.id == "mbpp/367")
    assert "root = Node(1)" in str(item.meta["test_setup_code"])
    assert "root = Node(1)" in item.prompt


def test_humaneval_has_164_tasks(humaneval: Suite) -> None:
    assert humaneval.name == "humaneval"
    assert [item.id for item in humaneval.items] == [f"HumanEval/{n}" for n in range(164)]
    first = humaneval.items[0]
    assert first.meta["entry_point"] == "has_close_elements"
    assert "def has_close_elements(" in first.prompt and "```python" in first.prompt
    assert first.gold.startswith("    for idx, elem in enumerate(numbers):")
    assert "def check(candidate):" in str(first.meta["test"])


def test_limit_takes_the_first_items_and_shuffle_is_seeded() -> None:
    spec = SuiteSpec.parse("humaneval")
    assert [i.id for i in load_humaneval(spec, DATA_DIR, 3, 0).items] == [
        "HumanEval/0",
        "HumanEval/1",
        "HumanEval/2",
    ]
    shuffled = SuiteSpec.parse("humaneval?shuffle=1")
    one = [i.id for i in load_humaneval(shuffled, DATA_DIR, 10, 1).items]
    again = [i.id for i in load_humaneval(shuffled, DATA_DIR, 10, 1).items]
    other = [i.id for i in load_humaneval(shuffled, DATA_DIR, 10, 2).items]
    assert one == again != other
    assert one != [f"HumanEval/{n}" for n in range(10)]
    assert load_humaneval(spec, DATA_DIR, 0, 0).items == ()


@pytest.mark.parametrize(
    "text", ["mbpp?difficulty=3", "mbpp?shuffle=yes", "mbpp:extra", "humaneval?seed=1"]
)
def test_bad_options_are_usage_errors(text: str, tmp_path: Path) -> None:
    loader = load_mbpp if text.startswith("mbpp") else load_humaneval
    with pytest.raises(UsageError) as caught:
        loader(SuiteSpec.parse(text), tmp_path, None, 0)
    if "=" in text and "shuffle" not in text:
        assert "accepted: shuffle" in str(caught.value)


def test_a_negative_limit_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        load_humaneval(SuiteSpec.parse("humaneval"), DATA_DIR, -1, 0)


def test_a_missing_mbpp_file_is_a_data_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        load_mbpp(SuiteSpec.parse("mbpp"), tmp_path, None, 0)
    assert str(tmp_path / MBPP_FILE) in str(caught.value)


def test_a_malformed_mbpp_line_is_a_data_error_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / MBPP_FILE
    path.parent.mkdir(parents=True)
    good = '{"task_id": 11, "text": "t", "code": "c", "test_list": ["assert True"]}'
    path.write_text(f"{good}\n{{not json\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"{path}:2: not valid JSON"):
        load_mbpp(SuiteSpec.parse("mbpp"), tmp_path, None, 0)
    path.write_text(f'{good}\n{{"task_id": 12, "text": "t"}}\n', encoding="utf-8")
    with pytest.raises(DataError, match=rf"{path}:2: field 'code'"):
        load_mbpp(SuiteSpec.parse("mbpp"), tmp_path, None, 0)


def test_a_missing_or_broken_humaneval_file_is_a_data_error(tmp_path: Path) -> None:
    missing = tmp_path / "HumanEval.jsonl.gz"
    with pytest.raises(DataError, match=str(missing)):
        read_humaneval(missing)
    with gzip.open(missing, "wt", encoding="utf-8") as handle:
        handle.write('{"task_id": "HumanEval/0"}\n')
    with pytest.raises(DataError, match=rf"{missing}:1: field 'prompt'"):
        read_humaneval(missing)


# --- grading ----------------------------------------------------------------------------------

needs_sandbox = pytest.mark.usefixtures("sandbox")


@needs_sandbox
@pytest.mark.slow
def test_every_mbpp_reference_solution_passes(mbpp: Suite) -> None:
    results = check_all(mbpp, lambda item: fenced(item.gold))
    failed = [(item_id, verdict.detail) for item_id, verdict in results if not verdict.correct]
    assert failed == []
    assert all(verdict.detail == "passed" for _, verdict in results)


@needs_sandbox
@pytest.mark.slow
def test_every_humaneval_canonical_completion_passes(humaneval: Suite) -> None:
    results = check_all(humaneval, lambda item: fenced(item.gold))
    assert [(i, v.detail) for i, v in results if not v.correct] == []


@needs_sandbox
@pytest.mark.slow
def test_every_humaneval_solution_written_as_a_whole_function_passes(humaneval: Suite) -> None:
    """The answer repeats the signature (without the prompt's imports or helpers)."""

    def whole_function(item: Item) -> str:
        prompt = str(item.meta["prompt"])
        start = prompt.index(f"def {item.meta['entry_point']}(")
        return fenced(prompt[start:] + item.gold)

    results = check_all(humaneval, whole_function)
    assert [(i, v.detail) for i, v in results if not v.correct] == []


@needs_sandbox
def test_a_body_that_lost_its_indentation_is_reindented(humaneval: Suite) -> None:
    item = humaneval.items[0]
    verdict = item_check(item, "```python\n" + extract_code(item.gold) + "```")
    assert verdict.correct, verdict.detail


def item_check(item: Item, answer: str, timeout_s: float = 10.0) -> Verdict:
    return CodeChecker(timeout_s=timeout_s).check(item, answer)


@needs_sandbox
def test_wrong_and_cheating_answers_fail(mbpp: Suite) -> None:
    item = mbpp.items[0]  # remove_Occ
    wrong = item_check(item, fenced("def remove_Occ(s, ch):\n    return s"))
    assert not wrong.correct and wrong.detail == "failed: AssertionError"
    missing = item_check(item, "I cannot write this function.")
    assert not missing.correct and missing.detail.startswith("failed: SyntaxError")
    for escape in ("import sys\nsys.exit(0)", "import os\nos._exit(0)"):
        cheat = item_check(item, fenced(f"def remove_Occ(s, ch):\n    return s\n{escape}"))
        assert not cheat.correct
        assert cheat.detail == "failed: exited before the tests ran"


@needs_sandbox
def test_a_hanging_answer_times_out(mbpp: Suite) -> None:
    item = mbpp.items[0]
    verdict = item_check(item, fenced("def remove_Occ(s, ch):\n    while True:\n        pass"), 1.0)
    assert not verdict.correct and verdict.detail == "timeout"
    assert verdict.extracted is not None and "while True" in verdict.extracted


def test_unsafe_no_sandbox_swaps_only_the_code_checker(humaneval: Suite) -> None:
    """`--unsafe-no-sandbox`: the bench asks for the old launcher; grading still works."""
    assert choose_isolation(["humaneval", "gsm8k"], unsafe_no_sandbox=True) == "unsafe"
    unsafe = with_isolation(humaneval, "unsafe")
    assert isinstance(unsafe.checker, CodeChecker) and unsafe.checker.isolation == "unsafe"
    assert unsafe.items == humaneval.items
    item = humaneval.items[0]
    assert unsafe.checker.check(item, fenced(item.gold)).detail == "passed"
    assert with_isolation(humaneval, "bwrap") is humaneval
