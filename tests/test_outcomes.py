"""Paired outcome tables from the shared data, and bad tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from thinkswitch.kernel.errors import DataError, UnknownNameError, UsageError
from thinkswitch.outcomes import metrics
from thinkswitch.outcomes.paired import PAIRED_LONG_COLUMNS, load_paired
from thinkswitch.settings import default_data_dir

DATA = default_data_dir()
needs_data = pytest.mark.skipif(
    not (DATA / "outcomes").is_dir(), reason="shared outcome data not present"
)


@needs_data
def test_gemini_reproduces_the_design_figures() -> None:
    table = load_paired(DATA, "replay:simpleqa/gemini-2.5-flash")
    assert (table.off_label, table.on_label, len(table.items)) == ("no_think", "budget1024", 800)
    never, always, oracle = metrics.never(table), metrics.always(table), metrics.oracle(table)
    assert (round(never.accuracy, 3), round(never.tokens)) == (0.126, 6)
    assert (round(always.accuracy, 3), round(always.tokens)) == (0.285, 447)
    assert (round(oracle.accuracy, 3), round(oracle.tokens)) == (0.319, 88)
    assert all(item.question for item in table.items)


@needs_data
def test_concise_cot_matches_the_issue_figures() -> None:
    table = load_paired(DATA, "replay:concise_cot/gpt-35-turbo")
    assert len(table.items) == 1100
    assert len({item.group for item in table.items}) == 11
    assert round(metrics.never(table).accuracy, 3) == 0.564
    assert round(metrics.always(table).accuracy, 3) == 0.647
    assert round(metrics.oracle(table).accuracy, 3) == 0.722
    assert "\nA. " in table.items[0].question


@needs_data
@pytest.mark.parametrize(
    ("name", "off", "on", "never", "always"),
    [
        ("replay:routellm_gsm8k", "mixtral_8x7b", "gpt4_1106", 0.638, 0.857),
        ("replay:gpt3_gsm8k", "6b_finetuning", "175b_finetuning", 0.217, 0.347),
        ("replay:simpleqa/claude-sonnet4?on=budget4096", "no_think", "budget4096", None, None),
    ],
)
def test_other_tables(name: str, off: str, on: str, never: float | None,
                      always: float | None) -> None:
    table = load_paired(DATA, name)
    assert (table.off_label, table.on_label) == (off, on)
    if never is not None:
        assert round(metrics.never(table).accuracy, 3) == never
        assert round(metrics.always(table).accuracy, 3) == always
        assert "characters / 4" in table.note


@needs_data
@pytest.mark.parametrize(
    ("name", "error", "words"),
    [
        ("replay:simpleqa/nobody", UnknownNameError, "unknown model in paired_long.csv 'nobody'"),
        ("replay:simpleqa/Qwen3-8B?on=budget9", UnknownNameError, "exd0"),
        ("replay:warp", UnknownNameError, "valid: concise_cot, file"),
        ("replay:simpleqa/Qwen3-8B?colour=red", UsageError, "unknown replay option 'colour'"),
    ],
)
def test_bad_replay_names(name: str, error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        load_paired(DATA, name)


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    return path


def test_own_outcome_file_round_trips(tmp_path: Path) -> None:
    rows = [["b", "m", mode, "k", "", key, "A", correct, "0", tokens, "", "", "s"]
            for key, mode, correct, tokens in [("1", "no_think", "0", "5"),
                                               ("1", "budget64", "1", "70"),
                                               ("2", "no_think", "1", "4"),
                                               ("2", "budget64", "1", "66"),
                                               ("3", "no_think", "1", "4")]]
    path = _write(tmp_path / "mine.csv", list(PAIRED_LONG_COLUMNS), rows)
    table = load_paired(tmp_path, f"replay:file:{path}")
    assert (table.off_label, table.on_label) == ("no_think", "budget64")
    assert [item.id for item in table.items] == ["1", "2"]
    assert "1 unpaired" in table.note
    assert metrics.always(table).tokens == 68


def test_missing_columns_and_files_are_data_errors(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.csv", ["model", "mode", "id"], [["m", "no_think", "1"]])
    with pytest.raises(DataError, match="missing the correctness column"):
        load_paired(tmp_path, f"replay:file:{path}")
    with pytest.raises(DataError, match="outcome table not found"):
        load_paired(tmp_path, "replay:concise_cot/gpt-35-turbo")


def test_non_numbers_name_file_and_line(tmp_path: Path) -> None:
    rows = [["b", "m", "no_think", "k", "", "1", "A", "maybe", "0", "5", "", "", "s"]]
    path = _write(tmp_path / "x.csv", list(PAIRED_LONG_COLUMNS), rows)
    with pytest.raises(DataError, match=r"x.csv:2: column 'correct': 'maybe' is not a"):
        load_paired(tmp_path, f"replay:file:{path}")
