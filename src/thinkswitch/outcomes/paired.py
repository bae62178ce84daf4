"""Paired outcome tables: each question answered both ways (never think / always think).

They are the ground truth for judging triage without running a model, the way RouteLLM
judges routers: for any decision per question, the recorded correctness and tokens of the
chosen side are the outcome. Sources (under the data directory's `outcomes/`):

- `simpleqa/<model>`: `paired_long.csv` rows (model, mode, id, correct, token counts); the
  off side defaults to `no_think` (else the lowest effort), the on side to `exd0` (natural
  thinking), else `budget1024`, else the highest effort. `?off=MODE&on=MODE` choose others.
- `concise_cot/gpt-35-turbo`: answer-only (`baseline`) vs `chain_of_thought` on 11 exams;
  the group of a question is its exam (for leave-one-exam-out evaluation).
- `routellm_gsm8k`: Mixtral-8x7B (off) vs GPT-4 (on) on GSM8K; `gpt3_gsm8k`: GPT-3 6B vs
  175B (`?off=&on=` pick fine-tuning or verification). These record response characters, not
  tokens: tokens are estimated as characters / 4, and said so in the table's `note`.
- a user's own table, or one written by `thinkswitch bench --save-outcomes`:
  `file:PATH[?model=M&off=MODE&on=MODE]`, CSV or JSON lines, long or wide, read by
  `thinkswitch.outcomes.user_table` (its docstring lists the columns and their aliases).

Sides not chosen are picked by name only (`OFF_MODES`, `ON_MODES`, the largest `budgetN`), never
by guess: `default_sides`.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from thinkswitch.kernel.errors import DataError, UnknownNameError, UsageError
from thinkswitch.outcomes.spec import SuiteSpec
from thinkswitch.outcomes.user_table import COLUMN_OPTIONS, OutcomeRow, UserTable, read_user_table

CHARS_PER_TOKEN = 4.0
PAIRED_LONG_COLUMNS = (
    "benchmark", "model", "mode", "mode_kind", "budget_or_level", "id", "grading", "correct",
    "not_attempted", "output_tokens_total", "thinking_tokens", "answer_tokens", "source_file",
)
#: Optional columns of a user's outcome file (`replay:file:PATH`).
FILE_TEXT_COLUMNS = ("question", "group")


@dataclass(frozen=True, slots=True)
class Outcome:
    correct: float
    tokens: float


@dataclass(frozen=True, slots=True)
class PairedItem:
    id: str
    question: str
    group: str
    off: Outcome
    on: Outcome


@dataclass(frozen=True)
class PairedTable:
    name: str
    off_label: str
    on_label: str
    items: tuple[PairedItem, ...]
    note: str = ""


def _read_csv(path: Path, required: Iterable[str]) -> list[dict[str, str]]:
    if not path.is_file():
        raise DataError(f"outcome table not found: {path} (set THINKSWITCH_DATA or --data-dir)")
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise DataError(f"{path}: missing columns {', '.join(missing)}")
            rows = []
            for row in reader:
                # DictReader fills a short row with None, and files a long row's rest
                # under the key None: either would surface later as a TypeError.
                if None in row or None in row.values():
                    raise DataError(f"{path}:{reader.line_num}: expected "
                                    f"{len(reader.fieldnames or [])} fields, got "
                                    f"{'more' if None in row else 'fewer'}")
                rows.append(row)
            return rows
    except (UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{path}: not a readable CSV file: {error}") from None


def _number(row: Mapping[str, str], column: str, path: Path, line: int) -> float:
    value = (row.get(column) or "").strip()
    if not value:
        return 0.0
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise DataError(f"{path}:{line}: column {column!r} is not a number: {value!r}")
    return number


def _questions(path: Path, key: str = "id", text: str = "problem") -> dict[str, str]:
    if not path.is_file():
        return {}
    found: dict[str, str] = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                found[str(row[key])] = str(row.get(text, ""))
            except (ValueError, KeyError, TypeError) as error:
                raise DataError(f"{path}:{number}: malformed question row: {error}") from None
    return found


def pair_rows(rows: tuple[OutcomeRow, ...], path: Path, model: str, off: str | None,
              on: str | None, questions: Mapping[str, str], name: str) -> PairedTable:
    """Pair one model's rows: one item per id answered in both modes."""
    mine = [r for r in rows if r.model.lower() == model.lower()]
    if not mine:
        raise UnknownNameError(f"model in {path.name}", model, {r.model for r in rows})
    modes = {r.mode for r in mine}
    if len(modes) < 2:
        raise DataError(f"{path}: {model} has only mode {min(modes)!r}; pairing needs each "
                        "question answered in two modes (an off and an on side)")
    off, on = default_sides(modes, off, on)
    for label in (off, on):
        if label not in modes:
            raise UnknownNameError(f"mode of {model} in {path.name}", label, modes)
    if off == on:
        raise UsageError(f"{path.name}: {model} has only mode {off!r} chosen for both sides; "
                         f"pairing needs two (modes: {', '.join(sorted(modes))})")
    sides: dict[str, dict[str, OutcomeRow]] = defaultdict(dict)
    for row in mine:
        if row.mode in (off, on):
            sides[row.id][row.mode] = row
    unpaired = [key for key, side in sides.items() if len(side) < 2]
    if unpaired and len(unpaired) == len(sides):
        raise DataError(f"{path}: no question of {model} has both {off!r} and {on!r}")
    items = tuple(
        PairedItem(key, questions.get(key) or side[off].question or side[on].question,
                   side[off].group or side[on].group or model,
                   Outcome(side[off].correct, side[off].tokens),
                   Outcome(side[on].correct, side[on].tokens))
        for key, side in sorted(sides.items(), key=lambda kv: kv[0])
        if len(side) == 2
    )
    note = (f"{len(unpaired)} unpaired questions (answered in one mode only) left out"
            if unpaired else "")
    return PairedTable(name, off, on, items, note)


#: Names a direct (off) side goes by, first preferred; then those a thinking side does.
OFF_MODES = ("no_think", "nothink", "no_thinking", "non_thinking", "baseline", "off", "direct",
             "no_cot", "answer_only", "minimal_effort", "minimal", "none", "low_effort", "low",
             "medium_effort", "medium")
ON_MODES = ("exd0", "budget1024", "chain_of_thought", "cot", "think", "thinking", "reasoning",
            "on", "high_effort", "high", "medium_effort", "medium")


_THINKING = re.compile(r"^(budget|exd)\d+$")


def _named(modes: set[str], names: tuple[str, ...], other: str | None) -> str | None:
    return next((label for label in names if label in modes and label != other), None)


def _on_by_name(modes: set[str], other: str | None) -> str | None:
    budgets = sorted((m for m in modes if m.startswith("budget") and m[6:].isdigit()),
                     key=lambda m: int(m[6:]))
    largest = budgets[-1] if budgets and budgets[-1] != other else None
    return _named(modes, ON_MODES, other) or largest


def default_sides(modes: set[str], off: str | None, on: str | None) -> tuple[str, str]:
    """The sides not chosen, by name (OFF_MODES, ON_MODES, else the largest budget); with two
    modes and one side known, the other. Never a guess: an error naming the modes otherwise."""
    off = off or _named(modes, OFF_MODES, on)
    on = on or _on_by_name(modes, off)
    if len(modes) == 2 and (off is None) != (on is None):
        rest = next(iter(modes - {off or on or ""}))
        if on is None:
            on = rest
        elif not _THINKING.match(rest):  # exd2 beside exd0 is more thinking, not less
            off = rest
    if off is None or on is None:
        raise UsageError(f"cannot tell which mode is the {'off' if off is None else 'on'} side "
                         f"among {', '.join(sorted(modes))}; choose with ?off=MODE&on=MODE")
    return off, on


@dataclass(frozen=True, slots=True)
class ReplaySpec:
    """`replay:<source>[/<sub>][:arg][?key=value...]`, parsed."""

    source: str
    sub: str
    arg: str | None
    options: Mapping[str, str]


def simpleqa_path(data_dir: Path) -> Path:
    path = data_dir / "outcomes" / "simpleqa" / "paired_long.csv"
    if not path.is_file():
        raise DataError(f"outcome table not found: {path} (set THINKSWITCH_DATA or --data-dir)")
    return path


def load_simpleqa(data_dir: Path, spec: ReplaySpec) -> PairedTable:
    path = simpleqa_path(data_dir)
    model = spec.sub or "Qwen3-8B"
    questions = _questions(path.parent / "simpleqa_800.jsonl")
    return pair_rows(read_user_table(path, {}).rows, path, model, spec.options.get("off"),
                     spec.options.get("on"), questions, f"replay:simpleqa/{model}")


def load_concise_cot(data_dir: Path, spec: ReplaySpec) -> PairedTable:
    base = data_dir / "outcomes" / "concise_cot"
    path = base / "gpt35_details_long.csv"
    rows = _read_csv(path, ("Model", "Prompt", "Exam", "Problem Id", "Score", "Output Tokens"))
    off, on = spec.options.get("off", "baseline"), spec.options.get("on", "chain_of_thought")
    prompts = {r["Prompt"] for r in rows}
    for label in (off, on):
        if label not in prompts:
            raise UnknownNameError("concise_cot prompt", label, prompts)
    sides: dict[tuple[str, str], dict[str, Outcome]] = defaultdict(dict)
    for line, row in enumerate(rows, start=2):
        if row["Prompt"] in (off, on):
            outcome = Outcome(_number(row, "Score", path, line),
                              _number(row, "Output Tokens", path, line))
            sides[(row["Exam"], row["Problem Id"])][row["Prompt"]] = outcome
    exams = {exam: _exam_questions(base / "exams", exam) for exam, _ in sides}
    items = tuple(
        PairedItem(f"{exam}/{problem}", exams[exam].get(problem, ""), exam, side[off], side[on])
        for (exam, problem), side in sorted(sides.items())
        if len(side) == 2
    )
    return PairedTable("replay:concise_cot/gpt-35-turbo", off, on, items)


def _exam_questions(folder: Path, exam: str) -> dict[str, str]:
    path = folder / f"{exam}.jsonl"
    found: dict[str, str] = {}
    if not path.is_file():
        return found
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            choices = row.get("choices") or {}
            listed = "\n".join(f"{k}. {v}" for k, v in choices.items())
            context = f"{row['context']}\n" if row.get("context") else ""
            found[str(row["id"])] = f"{context}{row['question']}\n{listed}".strip()
    return found


def _gsm8k_questions(data_dir: Path) -> dict[str, str]:
    path = data_dir / "benchmarks" / "gsm8k" / "test.jsonl"
    if not path.is_file():
        return {}
    lines = path.read_text(encoding="utf-8").splitlines()
    return {str(i): json.loads(line)["question"] for i, line in enumerate(lines) if line.strip()}


#: Per GSM8K pair source: file name, default off and on sides, and each side's chars column.
GSM8K_PAIRS: Mapping[str, tuple[str, str, str, Mapping[str, str]]] = {
    "routellm_gsm8k": (
        "gsm8k_paired_compact.csv", "mixtral_8x7b", "gpt4_1106",
        {"mixtral_8x7b": "mixtral_response_chars", "gpt4_1106": "gpt4_response_chars"},
    ),
    "gpt3_gsm8k": (
        "paired_compact.csv", "6b_finetuning", "175b_finetuning",
        {f"{size}_{kind}": f"{size}_{kind}_solution_chars"
         for size in ("6b", "175b") for kind in ("finetuning", "verification")},
    ),
}


def load_gsm8k_pair(data_dir: Path, spec: ReplaySpec) -> PairedTable:
    filename, default_off, default_on, chars = GSM8K_PAIRS[spec.source]
    path = data_dir / "outcomes" / spec.source / filename
    off, on = spec.options.get("off", default_off), spec.options.get("on", default_on)
    for label in (off, on):
        if label not in chars:
            raise UnknownNameError(f"{spec.source} side", label, chars)
    rows = _read_csv(path, ("gsm8k_test_idx", f"{off}_correct", f"{on}_correct"))
    questions = _gsm8k_questions(data_dir)

    def side(label: str, row: Mapping[str, str], line: int) -> Outcome:
        tokens = _number(row, chars[label], path, line) / CHARS_PER_TOKEN
        return Outcome(_number(row, f"{label}_correct", path, line), tokens)

    items = tuple(
        PairedItem(row["gsm8k_test_idx"], questions.get(row["gsm8k_test_idx"], ""), spec.source,
                   side(off, row, line), side(on, row, line))
        for line, row in enumerate(rows, start=2)
    )
    return PairedTable(f"replay:{spec.source}", off, on, items,
                       "tokens estimated as response characters / 4")


def file_model(spec: ReplaySpec) -> tuple[UserTable, str]:
    """A user's table (see thinkswitch.outcomes.user_table) and the model chosen in it."""
    if not spec.arg:
        raise UsageError("file suites need a path: replay:file:PATH[?model=M]")
    table = read_user_table(Path(spec.arg).expanduser(), spec.options)
    models = sorted({r.model for r in table.rows})
    chosen = spec.options.get("model")
    if chosen and not table.has_model:
        raise UsageError(f"{table.path} has no model column; leave out ?model=")
    if not chosen and len(models) > 1:
        raise UsageError(f"{table.path} holds several models; choose one with ?model= "
                         f"({', '.join(models)})")
    return table, chosen or models[0]


def load_file(data_dir: Path, spec: ReplaySpec) -> PairedTable:
    mine, model = file_model(spec)
    path = mine.path
    table = pair_rows(mine.rows, path, model, spec.options.get("off"), spec.options.get("on"),
                      {}, f"replay:file:{path.name}/{model}")
    notes = [table.note, *mine.notes]
    if not any(item.question for item in table.items):
        notes.append("no question column: every policy scores every question alike")
    return replace(table, note="; ".join(n for n in notes if n))


REPLAY_LOADERS: Mapping[str, Callable[[Path, ReplaySpec], PairedTable]] = {
    "simpleqa": load_simpleqa,
    "concise_cot": load_concise_cot,
    "routellm_gsm8k": load_gsm8k_pair,
    "gpt3_gsm8k": load_gsm8k_pair,
    "file": load_file,
}
REPLAY_OPTIONS = frozenset({"off", "on", "model", *COLUMN_OPTIONS})


def load_paired(data_dir: Path, text: str) -> PairedTable:
    """Load `replay:<source>[/<model>][?off=&on=]` (the `replay:` prefix is optional)."""
    parsed = SuiteSpec.parse(text.removeprefix("replay:"))
    unknown = set(parsed.options) - REPLAY_OPTIONS
    if unknown:
        raise UsageError(f"unknown replay option {sorted(unknown)[0]!r}; valid: "
                         f"{', '.join(sorted(REPLAY_OPTIONS))}")
    source, _, sub = parsed.base.partition("/")
    try:
        loader = REPLAY_LOADERS[source]
    except KeyError:
        raise UnknownNameError("replay source", source, REPLAY_LOADERS) from None
    table = loader(data_dir, ReplaySpec(source, sub, parsed.arg, parsed.options))
    if not table.items:
        raise DataError(f"{table.name}: no question has both an {table.off_label!r} and an "
                        f"{table.on_label!r} outcome")
    return table
