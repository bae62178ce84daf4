"""A new user's own outcome tables through the real CLI: `bench replay:file:PATH`, `triage eval`
and `triage train`, in every shape a person plausibly has, and a one-line error naming the file,
row and column for what cannot be read (thinkswitch.outcomes.user_table)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli import assert_one_line_error, thinkswitch

#: Six questions: (id, question, off correct, on correct, off tokens, on tokens). Thinking turns
#: q2 and q4 right and q5 wrong: never 2/6, always 3/6 (q1, q2, q4).
QUESTIONS = [
    ("q1", "Who wrote \"Faust\"?", 1, 1, 5, 60),
    ("q2", "Münze: what is 17 × 23?\nShow the product.", 0, 1, 4, 80),
    ("q3", "Capital of Perú, in one word", 0, 0, 3, 40),
    ("q4", "ゼータ関数の零点はどこにありますか", 0, 1, 6, 90),
    ("q5", "Is 91 prime?", 1, 0, 2, 70),
    ("q6", "Largest planet?", 0, 0, 3, 50),
]


def _csv(path: Path, lines: list[list[str]], *, bom: bool = False, end: str = "\n") -> Path:
    def cell(value: str) -> str:
        return f'"{value.replace(chr(34), chr(34) * 2)}"' if any(
            c in value for c in ',"\n') else value
    text = end.join(",".join(cell(v) for v in line) for line in lines) + end
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    return path


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows),
                    encoding="utf-8")
    return path


def _long_rows() -> list[list[str]]:
    """A spreadsheet export: renamed columns, words for correctness, an extra column, a
    question answered in one mode only (q7)."""
    rows = [["Model", "Mode", "Question ID", "Prompt", "is_correct", "Tokens", "latency_s"]]
    for key, text, off, on, off_t, on_t in QUESTIONS:
        rows.append(["mine", "no_think", key, text, "TRUE" if off else "FALSE", str(off_t), "1"])
        rows.append(["mine", "think", key, text, "TRUE" if on else "FALSE", str(on_t), "2"])
    rows.append(["mine", "think", "q7", "Only thought about", "TRUE", "9", "3"])
    return rows


def _accuracies(stdout: str) -> tuple[str, str]:
    line = next(line for line in stdout.splitlines() if "never " in line)
    never = line.split("never ")[1].split(",")[0]
    always = line.split("always ")[1].split(",")[0]
    return never, always


def test_long_csv_with_bom_crlf_quoted_newlines_and_aliases(tmp_path: Path) -> None:
    path = _csv(tmp_path / "mine.csv", _long_rows(), bom=True, end="\r\n")
    run = thinkswitch("triage", "eval", "--policy", "learned", "--suite", f"replay:file:{path}")
    assert run.returncode == 0, run.stderr
    assert _accuracies(run.stdout) == ("33.3%", "50.0%")
    bench = thinkswitch("bench", f"replay:file:{path}?off=no_think&on=think",
                        "--modes", "off,on,auto", "--db", str(tmp_path / "b.sqlite"))
    assert bench.returncode == 0, bench.stderr
    assert "| never think | 33.3% | 3.8 |" in bench.stdout
    assert "| always think | 50.0% | 65.0 |" in bench.stdout
    assert "1 unpaired questions" in bench.stdout


def test_wide_csv_trains_a_model(tmp_path: Path) -> None:
    lines = [["id", "text", "no_think_correct", "think_correct", "no_think_tokens",
              "think_tokens", "notes"]]
    lines += [[k, t, f"{off:.1f}", "yes" if on else "no", str(a), str(b), ""]
              for k, t, off, on, a, b in QUESTIONS]
    lines[3][3] = ""  # q3 not answered with thinking: left out, said so
    path = _csv(tmp_path / "wide.csv", lines)
    run = thinkswitch("triage", "eval", "--policy", "learned", "--suite", str(path))
    assert run.returncode == 0, run.stderr
    assert _accuracies(run.stdout) == ("40.0%", "60.0%")
    out = tmp_path / "model.npz"
    trained = thinkswitch("triage", "train", "--out", str(out), "--outcomes", str(path))
    assert trained.returncode == 0, trained.stderr
    assert "on 5 questions" in trained.stdout and out.stat().st_size > 0


def test_jsonl_long_with_grader_letters_and_several_models(tmp_path: Path) -> None:
    rows: list[dict[str, object]] = []
    for number, (_, text, off, on, a, b) in enumerate(QUESTIONS):
        for model in ("big", "small"):
            rows.append({"model": model, "setting": "low_effort", "id": number, "input": text,
                         "grading": "A" if off else "C", "output_tokens": a})
            rows.append({"model": model, "setting": "high_effort", "id": number, "input": text,
                         "grading": "A" if on else "B", "output_tokens": b})
    path = _jsonl(tmp_path / "runs.jsonl", rows)
    run = thinkswitch("triage", "eval", "--policy", "learned", "--suite", f"{path}?model=small")
    assert run.returncode == 0, run.stderr
    assert _accuracies(run.stdout) == ("33.3%", "50.0%")
    assert "runs.jsonl/small" in run.stdout
    assert_one_line_error(thinkswitch("triage", "eval", "--suite", f"replay:file:{path}"), 2,
                          "holds several models; choose one with ?model= (big, small)")


def test_json_wide_with_characters_for_tokens(tmp_path: Path) -> None:
    rows = [{"question_id": k, "question": t, "correct_off": bool(off), "correct_on": on,
             "off_chars": a * 4, "on_chars": b * 4} for k, t, off, on, a, b in QUESTIONS]
    path = tmp_path / "wide.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    run = thinkswitch("bench", str(path), "--modes", "off,on",  # a bare path names the table
                      "--db", str(tmp_path / "b.sqlite"))
    assert run.returncode == 0, run.stderr
    assert "| always think | 50.0% | 65.0 |" in run.stdout
    assert "tokens estimated as characters / 4" in run.stdout


def test_semicolon_csv_without_ids_or_tokens(tmp_path: Path) -> None:
    """The question text stands in for the id; without tokens the report says so."""
    lines = [["Question", "Condition", "Score"]]
    lines += [[t, m, str(c)] for _, t, off, on, _, _ in QUESTIONS
              for m, c in (("direct", off), ("reasoning", on))]
    path = tmp_path / "plain.csv"
    path.write_text("\n".join(";".join(f'"{v}"' for v in line) for line in lines) + "\n",
                    encoding="utf-8")
    run = thinkswitch("bench", str(path), "--modes", "off,on", "--db", str(tmp_path / "b.db"))
    assert run.returncode == 0, run.stderr
    assert "| always think | 50.0% | 0.0 |" in run.stdout
    assert "never = `direct`, always = `reasoning` (no token column" in run.stdout


def test_a_mode_without_tokens_is_said(tmp_path: Path) -> None:
    path = _csv(tmp_path / "half.csv", [["id", "question", "off_correct", "on_correct",
                                         "on_tokens"], ["1", "a", "1", "0", "5"],
                                        ["2", "b", "0", "1", "7"]])
    run = thinkswitch("bench", str(path), "--modes", "off,on", "--db", str(tmp_path / "b.db"))
    assert run.returncode == 0, run.stderr
    assert "(no token column for off: its tokens are 0)" in run.stdout
    assert "| always think | 50.0% | 6.0 |" in run.stdout


def test_budget_tiers_of_a_users_table(tmp_path: Path) -> None:
    lines = [["id", "question", "mode", "correct", "tokens"]]
    for key, text, off, on, a, b in QUESTIONS:
        lines += [[key, text, "medium_effort", str(on), str(b)],
                  [key, text, "low_effort", str(off), str(a)],
                  [key, text, "high_effort", str(on), str(2 * b)]]
    path = _csv(tmp_path / "efforts.csv", lines)
    run = thinkswitch("triage", "eval", "--tiers", "--folds", "2", "--suite", str(path))
    assert run.returncode == 0, run.stderr
    assert "low_effort" in run.stdout and "fixed high_effort" in run.stdout
    assert run.stdout.index("fixed low_effort") < run.stdout.index("fixed medium_effort") < (
        run.stdout.index("fixed high_effort"))


LONG_HEADER = ["id", "question", "mode", "correct", "tokens"]


@pytest.mark.parametrize(("lines", "query", "words"), [
    ([LONG_HEADER, ["1", "a", "off", "1", "3"], ["1", "a", "on", "maybe", "9"]], "",
     "bad.csv:3: column 'correct': 'maybe' is not a correctness"),
    ([LONG_HEADER, ["1", "a", "off", "1", "3"], ["1", "a", "on", "7", "9"]], "",
     "bad.csv:3: column 'correct': '7' is not a correctness in [0, 1]"),
    ([LONG_HEADER, ["1", "a", "off", "1", "3"], ["1", "a", "on", "1", "lots"]], "",
     "bad.csv:3: column 'tokens' is not a count: 'lots'"),
    ([LONG_HEADER, ["1", "a", "off", "1", "3"], ["1", "a", "off", "0", "3"]], "",
     "bad.csv:3: duplicate id '1' in mode 'off' of bad (first at line 2)"),
    ([["id", "mode", "score", "is_correct"], ["1", "off", "1", "1"]], "",
     "columns 'is_correct', 'score' could each be the correct column; choose one with "
     "?correct_column=NAME"),
    ([["id", "question", "answer"], ["1", "a", "x"]], "",
     "bad.csv: no mode column (mode, setting"),
    ([LONG_HEADER, ["1", "a", "fast", "1", "3"], ["1", "a", "slow", "1", "3"],
      ["1", "a", "slower", "1", "3"]], "",
     "cannot tell which mode is the off side among fast, slow, slower; choose with "
     "?off=MODE&on=MODE"),
    ([LONG_HEADER, ["1", "a", "exd2", "1", "3"]], "", "bad has only mode 'exd2'"),
    ([LONG_HEADER, ["1", "a", "off", "1", "3"], ["1", "a", "on", "0", "3"]], "?model=x",
     "has no model column; leave out ?model="),
    ([LONG_HEADER, ["1", "a", "off", "1", "3"], ["1", "a", "on", "0", "3"]],
     "?correct_column=grade", "bad.csv: no column 'grade' (from ?correct_column=)"),
    ([LONG_HEADER, ["1", "a", "off", "1", "3"], ["1", "a", "on", "0", "3"]],
     "?answer_column=x", "unknown replay option 'answer_column'"),
    ([[*LONG_HEADER, "Correct"], ["1", "a", "off", "1", "3", "0"]], "",
     "bad.csv: columns 'Correct', 'correct' have the same name"),
    ([LONG_HEADER, ["1", "a", "off", "1", "3"], ["1", "a", "on", "0"]], "",
     "bad.csv:3: expected 5 fields, got fewer"),
])
def test_unreadable_tables_are_one_line_errors(tmp_path: Path, lines: list[list[str]],
                                               query: str, words: str) -> None:
    path = _csv(tmp_path / "bad.csv", lines)
    for args in (("triage", "eval", "--policy", "learned", "--suite", f"replay:file:{path}"
                  f"{query}"),
                 ("bench", f"replay:file:{path}{query}", "--modes", "off,on,auto", "--db",
                  str(tmp_path / "b.sqlite"))):
        run = thinkswitch(*args)
        assert run.returncode in (1, 2)
        assert_one_line_error(run, run.returncode, words)


def test_unreadable_files_are_one_line_errors(tmp_path: Path) -> None:
    latin = tmp_path / "latin.csv"
    latin.write_bytes("id,mode,correct\n1,off,1\n2,Perú,1\n".encode("latin-1"))
    nested = _jsonl(tmp_path / "nested.jsonl", [{"id": 1, "mode": "off", "correct": [1]}])
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": 1, "mode": "off", "correct": 1}\n{"id": 2,\n', encoding="utf-8")
    workbook = tmp_path / "book.csv"
    workbook.write_bytes(b"PK\x03\x04\x14\x00\x06\x00")
    modeless = _jsonl(tmp_path / "modeless.jsonl", [{"id": 1, "mode": "off", "correct": 1},
                                                    {"id": 1, "correct": 0}])
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    for path, words in ((latin, "latin.csv: not UTF-8 text"),
                        (nested, "nested.jsonl:1: column 'correct' holds a nested list"),
                        (broken, "broken.jsonl:2: not a JSON object"),
                        (empty, "empty.csv: empty file"),
                        (modeless, "modeless.jsonl:2: column 'mode' is empty"),
                        (workbook, "book.csv: looks like a zip file (an Excel .xlsx workbook?)"),
                        (tmp_path / "gone.csv", "outcome table not found")):
        run = thinkswitch("triage", "train", "--out", str(tmp_path / "m.npz"), "--outcomes",
                          f"replay:file:{path}")
        assert_one_line_error(run, 1, words)
