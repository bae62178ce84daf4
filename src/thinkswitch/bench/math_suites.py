"""The live math suites: GSM8K, SVAMP, ASDiv, MATH-500 and AIME 2024/2025.

Each reads one JSON-lines file under `<data_dir>/benchmarks/` (never copied into the project) and
turns every row into an `Item` of kind "math" graded by `MathChecker`. What a row holds:

- gsm8k: gsm8k/test.jsonl; question; gold = the number after `####` (commas removed).
- svamp: svamp/test.jsonl; Body + Question; gold = Answer (a float: 145.0 -> "145").
- asdiv: asdiv/test.jsonl; body + question; gold = answer without its unit: "9 (apples)" -> "9".
- math500: math500/test.jsonl; problem; gold = answer (LaTeX).
- aime24, aime25: aime/aime2024_matharena.jsonl, aime/aime2025_matharena.jsonl; problem; answer.

ASDiv also has answers that are names, yes/no, clock times and ratios; a colon answer of any
solution type but "Ratio" is a clock time, and those and every other non-numeric answer are
marked `meta["match"] = "text"` so they are compared as text, not as numbers.

Options: `shuffle=1` shuffles the items with the run's seed before `--limit` takes the first N
(without it, the first N in file order). Item ids are `<suite>/<row index>`, or the file's own id
where it has one (SVAMP `ID`, AIME `id`).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from thinkswitch.bench.extract import gold_from_gsm8k
from thinkswitch.bench.items import Item, Suite, SuiteLoader
from thinkswitch.bench.jsonl import json_rows
from thinkswitch.bench.mathcheck import MathChecker
from thinkswitch.kernel.errors import DataError, UsageError
from thinkswitch.outcomes.spec import SuiteSpec

#: What is appended to every math question; extraction looks for the "Final answer:" line.
MATH_INSTRUCTION = (
    "Reason step by step, then give the final answer on the last line "
    'in the form "Final answer: <answer>".'
)
OPTIONS = ("shuffle",)
_ASDIV_UNIT = re.compile(r"^(.*?)\s*\([^()]*[A-Za-z][^()]*\)\s*$")
_ASDIV_MATH = re.compile(r"-?\(?-?\d+(?:\.\d+)?(?:/\d+)?\)?")

Row = Mapping[str, Any]


@dataclass(frozen=True)
class _Dataset:
    """How one suite reads its file: where it is and how a row becomes an item."""

    path: tuple[str, ...]
    to_item: Callable[[str, int, Row], Item]


def _field(row: Row, name: str, kind: type | tuple[type, ...] = str) -> Any:
    """A required field of `row`; a KeyError or TypeError here becomes a DataError with the line."""
    value = row[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"field {name!r} is {type(value).__name__}")
    return value


def _ask(problem: str) -> str:
    return f"{problem.strip()}\n\n{MATH_INSTRUCTION}"


def _join(body: str, question: str) -> str:
    body = body.strip()
    if body and body[-1] not in ".?!":
        body += "."
    return f"{body} {question.strip()}"


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _gsm8k(suite: str, index: int, row: Row) -> Item:
    try:
        gold = gold_from_gsm8k(_field(row, "answer"))
    except ValueError as exc:
        raise TypeError(str(exc)) from exc
    return Item(f"{suite}/{index}", _ask(_field(row, "question")), gold, "math")


def _svamp(suite: str, index: int, row: Row) -> Item:
    problem = _join(_field(row, "Body"), _field(row, "Question"))
    gold = _number_text(_field(row, "Answer", (int, float)))
    item_id = f"{suite}/{row.get('ID', index)}"
    return Item(item_id, _ask(problem), gold, "math", {"type": row.get("Type")})


def _asdiv(suite: str, index: int, row: Row) -> Item:
    problem = _join(_field(row, "body"), _field(row, "question"))
    raw = _field(row, "answer").strip()
    unit = _ASDIV_UNIT.match(raw)
    gold = unit.group(1).strip() if unit else raw
    kind = row.get("solution_type")
    meta: dict[str, object] = {"solution_type": kind}
    ratio = kind == "Ratio" and re.fullmatch(r"\d+:\d+", gold) is not None
    if not ratio and not _ASDIV_MATH.fullmatch(gold):
        meta["match"] = "text"
    return Item(f"{suite}/{index}", _ask(problem), gold, "math", meta)


def _math500(suite: str, index: int, row: Row) -> Item:
    meta = {key: row[key] for key in ("unique_id", "subject", "level") if key in row}
    gold = _field(row, "answer")
    return Item(f"{suite}/{index}", _ask(_field(row, "problem")), gold, "math", meta)


def _aime(suite: str, index: int, row: Row) -> Item:
    gold = str(_field(row, "answer", (str, int))).strip()
    item_id = f"{suite}/{row.get('id', index)}"
    return Item(item_id, _ask(_field(row, "problem")), gold, "math")


DATASETS: Mapping[str, _Dataset] = MappingProxyType(
    {
        "gsm8k": _Dataset(("benchmarks", "gsm8k", "test.jsonl"), _gsm8k),
        "svamp": _Dataset(("benchmarks", "svamp", "test.jsonl"), _svamp),
        "asdiv": _Dataset(("benchmarks", "asdiv", "test.jsonl"), _asdiv),
        "math500": _Dataset(("benchmarks", "math500", "test.jsonl"), _math500),
        "aime24": _Dataset(("benchmarks", "aime", "aime2024_matharena.jsonl"), _aime),
        "aime25": _Dataset(("benchmarks", "aime", "aime2025_matharena.jsonl"), _aime),
    }
)


def read_jsonl(path: Path) -> Iterator[tuple[int, Row]]:
    """(line number, row) for every non-blank line; DataError naming file and line otherwise.

    A missing file is reported at once, the rows only as they are read.
    """
    if not path.is_file():
        raise DataError(
            f"dataset file not found: {path}; "
            "set THINKSWITCH_DATA or --data-dir to the thinkswitch data directory"
        )
    return _rows(path)


def _rows(path: Path) -> Iterator[tuple[int, Row]]:
    with path.open(encoding="utf-8") as lines:
        yield from json_rows(path, lines)


def _wants_shuffle(spec: SuiteSpec) -> bool:
    unknown = sorted(set(spec.options) - set(OPTIONS))
    if unknown:
        raise UsageError(
            f"unknown option {unknown[0]!r} for suite {spec.base!r}; accepted: {', '.join(OPTIONS)}"
        )
    value = spec.options.get("shuffle", "0").strip().lower()
    if value not in {"0", "1", "false", "true", "no", "yes"}:
        raise UsageError(f"shuffle must be 0 or 1, not {value!r}")
    return value in {"1", "true", "yes"}


def load_math(spec: SuiteSpec, data_dir: Path, limit: int | None, seed: int) -> Suite:
    """Load one of the math suites named in `DATASETS` (the `SuiteLoader` signature)."""
    dataset = DATASETS.get(spec.base)
    if dataset is None:
        raise UsageError(f"not a math suite: {spec.base!r}; math suites: {', '.join(DATASETS)}")
    if spec.arg is not None:
        raise UsageError(f"suite {spec.base!r} takes no ':' argument (got {spec.arg!r})")
    if limit is not None and limit < 0:
        raise UsageError(f"limit must be 0 or more, not {limit}")
    shuffle = _wants_shuffle(spec)
    path = data_dir.joinpath(*dataset.path)
    stop_at = None if shuffle else limit  # without shuffling, stop reading at the limit
    items: list[Item] = []
    rows = read_jsonl(path)
    for index, (number, row) in enumerate(rows if stop_at != 0 else ()):
        try:
            items.append(dataset.to_item(spec.base, index, row))
        except KeyError as exc:
            raise DataError(f"{path}:{number}: missing field {exc.args[0]!r}") from exc
        except (TypeError, ValueError) as exc:
            raise DataError(f"{path}:{number}: bad row: {exc}") from exc
        if stop_at is not None and len(items) >= stop_at:
            break
    if shuffle:
        random.Random(seed).shuffle(items)
    if limit is not None:
        items = items[:limit]
    return Suite(spec.base, tuple(items), MathChecker())


#: Suite base name -> loader, for the suite registry.
LOADERS: Mapping[str, SuiteLoader] = MappingProxyType(dict.fromkeys(DATASETS, load_math))
