"""A user's own outcome table (`replay:file:PATH`), in whatever shape a person plausibly has.

Files: CSV (comma, semicolon or tab, told by the header line; `.tsv` is tab), JSONL (one object
a line) or JSON (an array of objects); UTF-8 with or without a byte-order mark, any line ends,
quoted newlines inside CSV fields.

Shapes:
- long: one row per question and mode, with a mode column;
- wide: one row per question, one correctness column per mode (`<mode>_correct` or
  `correct_<mode>`, any correctness name below), tokens in `<mode>_tokens` (any token name),
  or characters in `<mode>_chars` / `<mode>_response_chars` (read as characters / 4).

Columns are matched ignoring case, with spaces and hyphens read as underscores, by role
(`COLUMN_ALIASES`; the first name of a role is its own and wins when present). Two other names
of one role in one file is an error naming both, never a silent pick: `?<role>_column=NAME`
chooses. Only `correct` is required (and an `id`, or the `question` text standing in for it).

Correctness: 1/0 or a score in [0, 1], true/false, yes/no, correct/incorrect, pass/fail, and in
a `grading` / `grade` column SimpleQA's grader letters (A correct; B incorrect, C not attempted:
both 0). An empty cell (or nan, null, n/a) means the question was not answered in that mode:
the row is left out and counted. A duplicate (model, mode, id) is an error naming both lines.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from thinkswitch.kernel.errors import DataError

CHARS_PER_TOKEN = 4.0
#: Each role's column names, its own name first.
COLUMN_ALIASES: Mapping[str, tuple[str, ...]] = {
    "id": ("id", "question_id", "qid", "item_id", "problem_id", "example_id", "uid"),
    "question": ("question", "prompt", "text", "input", "problem", "query", "request"),
    "model": ("model", "model_name", "model_id", "llm"),
    "mode": ("mode", "setting", "condition", "variant", "arm", "effort", "reasoning_effort"),
    "correct": ("correct", "is_correct", "score", "grading", "grade", "correctness",
                "accuracy", "passed", "exact_match"),
    "tokens": ("output_tokens_total", "output_tokens", "tokens", "completion_tokens",
               "num_tokens", "n_tokens", "generated_tokens", "token_count"),
    "chars": ("chars", "characters", "response_chars", "solution_chars", "output_chars"),
    "group": ("group", "source", "task", "category", "subject", "exam", "dataset", "domain"),
}
#: `?<role>_column=NAME` options a file table accepts.
COLUMN_OPTIONS = frozenset(f"{role}_column" for role in COLUMN_ALIASES)
_TRUE = frozenset({"1", "true", "t", "yes", "y", "correct", "right", "pass", "passed"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "incorrect", "wrong", "fail", "failed"})
_MISSING = frozenset({"", "nan", "null", "none", "n/a", "na"})
_GRADES = {"a": 1.0, "b": 0.0, "c": 0.0}
#: Files people export tables to that are not text, by their first bytes.
_BINARY = ((b"PK\x03\x04", "a zip file (an Excel .xlsx workbook?)"),
           (b"PAR1", "a Parquet file"), (b"\xd0\xcf\x11\xe0", "an old Excel .xls workbook"),
           (b"SQLite format 3", "an SQLite database"))


@dataclass(frozen=True, slots=True)
class OutcomeRow:
    """One recorded answer: a question in one mode of one model."""

    line: int
    model: str
    mode: str
    id: str
    correct: float
    tokens: float
    question: str
    group: str


@dataclass(frozen=True)
class UserTable:
    path: Path
    rows: tuple[OutcomeRow, ...]
    has_model: bool
    #: Rows left out for an empty correctness cell.
    unanswered: int
    notes: tuple[str, ...]


def _key(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _records(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and (line, row) of every record, all values as text."""
    if not path.is_file():
        raise DataError(f"outcome table not found: {path}")
    raw = path.read_bytes()
    for magic, kind in _BINARY:
        if raw.startswith(magic):
            raise DataError(f"{path}: looks like {kind}; export it as CSV or JSONL")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text (byte {error.start}); save it as UTF-8 "
                        "CSV or JSONL") from None
    if not text.strip():
        raise DataError(f"{path}: empty file; expected a header line or JSON objects")
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json") or text.lstrip()[0] in "[{":
        header, rows = _json_records(path, text)
    else:
        header, rows = _csv_records(path, text)
    keys = [_key(name) for name in header]
    twice = sorted({name for name, key in zip(header, keys, strict=True) if keys.count(key) > 1})
    if twice:
        raise DataError(f"{path}: columns {', '.join(map(repr, twice))} have the same name")
    return header, rows


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json_records(path: Path, text: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    if text.lstrip().startswith("["):
        try:
            loaded = json.loads(text)
        except ValueError as error:
            raise DataError(f"{path}: not valid JSON: {error}") from None
        objects = list(enumerate(loaded if isinstance(loaded, list) else [loaded], start=1))
    else:
        objects = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    objects.append((number, json.loads(line)))
                except ValueError as error:
                    raise DataError(f"{path}:{number}: not a JSON object: {error}") from None
    header: dict[str, None] = {}
    rows = []
    for number, row in objects:
        if not isinstance(row, dict):
            raise DataError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
        for name, value in row.items():
            if isinstance(value, (dict, list)):
                raise DataError(f"{path}:{number}: column {name!r} holds a nested "
                                f"{type(value).__name__}; expected a single value")
            header.setdefault(name)
        rows.append((number, {name: _cell(value) for name, value in row.items()}))
    return list(header), rows


def _csv_records(path: Path, text: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    first = text.splitlines()[0]
    delimiter = "\t" if path.suffix.lower() == ".tsv" else max(
        ",;\t", key=lambda d: (first.count(d), d == ","))
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = []
    try:
        header = list(reader.fieldnames or [])
        for row in reader:
            # DictReader fills a short row with None and files a long row's rest under None.
            if None in row or None in row.values():
                raise DataError(f"{path}:{reader.line_num}: expected {len(header)} fields, got "
                                f"{'more' if None in row else 'fewer'}")
            rows.append((reader.line_num, row))
    except csv.Error as error:
        raise DataError(f"{path}:{reader.line_num}: not readable as CSV: {error}") from None
    return header, rows


def _column(path: Path, header: list[str], role: str, options: Mapping[str, str]
            ) -> str | None:
    """The header name that plays `role`, or None; an error where two names could."""
    chosen = options.get(f"{role}_column")
    by_key = {_key(name): name for name in header}
    if chosen is not None:
        if _key(chosen) not in by_key:
            raise DataError(f"{path}: no column {chosen!r} (from ?{role}_column=); columns: "
                            f"{', '.join(header)}")
        return by_key[_key(chosen)]
    aliases = COLUMN_ALIASES[role]
    if aliases[0] in by_key:
        return by_key[aliases[0]]
    found = [by_key[a] for a in aliases if a in by_key]
    if len(found) > 1:
        raise DataError(f"{path}: columns {', '.join(map(repr, found))} could each be the "
                        f"{role} column; choose one with ?{role}_column=NAME")
    return found[0] if found else None


def _wide_columns(path: Path, header: list[str]) -> dict[str, dict[str, str]]:
    """Per mode of a wide table, its correct/tokens/chars columns (`<mode>_<name>` or
    `<name>_<mode>`); longer names first, so `off_is_correct` is mode `off`."""
    found: dict[str, dict[str, str]] = {}
    claimed: set[str] = set()
    for role in ("correct", "tokens", "chars"):
        for alias in sorted(COLUMN_ALIASES[role], key=len, reverse=True):
            for name in header:
                key = _key(name)
                mode = (key[: -len(alias) - 1] if key.endswith("_" + alias) else
                        key[len(alias) + 1:] if key.startswith(alias + "_") else "")
                if not mode or name in claimed or (role != "correct" and mode not in found):
                    continue
                if role in found.setdefault(mode, {}):
                    raise DataError(f"{path}: columns {found[mode][role]!r} and {name!r} could "
                                    f"each be the {role} column of mode {mode!r}")
                found[mode][role] = name
                claimed.add(name)
    return found


def _correct(value: str, column: str, where: str) -> float | None:
    text = value.strip().lower()
    if text in _MISSING:
        return None
    if _key(column) in ("grading", "grade") and text in _GRADES:
        return _GRADES[text]
    if text in _TRUE or text in _FALSE:
        return float(text in _TRUE)
    try:
        number = float(text)
    except ValueError:
        raise DataError(f"{where}: column {column!r}: {value!r} is not a correctness (1/0, "
                        "a score in [0, 1], true/false, yes/no)") from None
    if not 0.0 <= number <= 1.0:
        raise DataError(f"{where}: column {column!r}: {value!r} is not a correctness in "
                        "[0, 1]")
    return number


def _amount(value: str, column: str, where: str) -> float:
    text = value.strip()
    if text.lower() in _MISSING:
        return 0.0
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number < 0:
        raise DataError(f"{where}: column {column!r} is not a count: {value!r}")
    return number


def _sides(path: Path, header: list[str], options: Mapping[str, str]
           ) -> list[tuple[str | None, dict[str, str]]]:
    """(mode column, None) for a long table, else (None, columns) per wide mode."""
    mode = _column(path, header, "mode", options)
    if mode is not None:
        return [(None, {"mode": mode})]
    wide = _wide_columns(path, header)
    if not wide:
        raise DataError(
            f"{path}: no mode column ({', '.join(COLUMN_ALIASES['mode'])}) and no per-mode "
            f"correctness columns (<mode>_correct); columns: {', '.join(header)}")
    return list(wide.items())


def _at(record: Mapping[str, str], column: str | None) -> str:
    """A cell's text; "" where the column is not there (a JSON object may leave keys out)."""
    return record.get(column, "") if column else ""


def _needed(record: Mapping[str, str], column: str | None, default: str, where: str) -> str:
    """A cell that must not be empty (`default` where the file has no such column)."""
    value = _at(record, column).strip() if column else default
    if not value:
        raise DataError(f"{where}: column {column!r} is empty")
    return value


def read_user_table(path: Path, options: Mapping[str, str]) -> UserTable:
    """Every answered row of the file at `path`, checked (see the module docstring)."""
    header, records = _records(path)
    roles = {role: _column(path, header, role, options)
             for role in ("id", "question", "model", "group")}
    sides = _sides(path, header, options)
    long = sides[0][0] is None
    columns: dict[str, str | None] = {}
    if long:
        columns = {role: _column(path, header, role, options)
                   for role in ("correct", "tokens", "chars")}
        if columns["correct"] is None:
            raise DataError(f"{path}: missing the correctness column (one of "
                            f"{', '.join(COLUMN_ALIASES['correct'])}); columns: "
                            f"{', '.join(header)}")
    if roles["id"] is None and roles["question"] is None:
        raise DataError(f"{path}: missing an id column (one of {', '.join(COLUMN_ALIASES['id'])})"
                        f" or a question column to stand for it; columns: {', '.join(header)}")
    rows: list[OutcomeRow] = []
    seen: dict[tuple[str, str, str], int] = {}
    unanswered = 0
    for line, record in records:
        where = f"{path}:{line}"
        question = _at(record, roles["question"])
        key = _at(record, roles["id"]).strip() or _needed(record, roles["question"], "", where)
        model = _needed(record, roles["model"], path.stem, where)
        group = _at(record, roles["group"]).strip()
        for wide_mode, side in sides:
            cols: Mapping[str, str | None] = columns if long else side
            mode = _needed(record, side["mode"], "", where) if long else str(wide_mode)
            correct = _correct(_at(record, cols["correct"]), cols["correct"] or "", where)
            if correct is None:
                unanswered += 1
                continue
            if cols.get("tokens"):
                tokens = _amount(_at(record, cols["tokens"]), cols["tokens"] or "", where)
            elif cols.get("chars"):
                tokens = _amount(_at(record, cols["chars"]), cols["chars"] or "", where) / (
                    CHARS_PER_TOKEN)
            else:
                tokens = 0.0
            first = seen.setdefault((model, mode, key), line)
            if first != line:
                raise DataError(f"{where}: duplicate id {key!r} in mode {mode!r} of {model} "
                                f"(first at line {first})")
            rows.append(OutcomeRow(line, model, mode, key, correct, tokens, question, group))
    if not rows:
        raise DataError(f"{path}: no row with a correctness value")
    return UserTable(path, tuple(rows), roles["model"] is not None, unanswered,
                     _notes(sides, long, columns, unanswered))


def _notes(sides: list[tuple[str | None, dict[str, str]]], long: bool,
           columns: Mapping[str, str | None], unanswered: int) -> tuple[str, ...]:
    notes = []
    if unanswered:
        notes.append(f"{unanswered} answers without a correctness value left out")
    counted: list[Mapping[str, str | None]] = [columns] if long else [s for _, s in sides]
    if not any(c.get("tokens") or c.get("chars") for c in counted):
        notes.append("no token column: token figures are 0")
    elif any(c.get("chars") and not c.get("tokens") for c in counted):
        notes.append("tokens estimated as characters / 4")
    bare = sorted(str(mode) for mode, c in sides if not long and not (
        c.get("tokens") or c.get("chars")))
    if bare and len(bare) < len(sides):
        notes.append(f"no token column for {', '.join(bare)}: its tokens are 0")
    return tuple(notes)


#: File name endings read as a user's outcome table where a suite or table name is asked for.
TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".json")


def as_table_name(name: str) -> str:
    """`replay:file:NAME` for the path of an existing table file (options after a `?` kept:
    `mine.csv?model=m`), else NAME unchanged."""
    path = name.partition("?")[0]
    if name.startswith("replay:") or not path.lower().endswith(TABLE_SUFFIXES):
        return name
    return f"replay:file:{name}" if Path(path).expanduser().is_file() else name
