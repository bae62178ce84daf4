"""Hostile input on the command line: huge numbers, endless and absurdly nested files, ragged
CSV. Each is one line and exit 1 or 2, never the "internal error" exit 70 of a bug."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.cli import assert_one_line_error, thinkswitch_process

HUGE = str(10**30)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    (folder / "deep.toml").write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    (folder / "deep.yaml").write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    (folder / "tables.toml").write_text("[server]\nhost = " + "{a=" * 3000 + "1" + "}" * 3000)
    (folder / "forty.yaml").write_text("server:\n" + "".join(
        "  " * depth + f"k{depth}:\n" for depth in range(1, 40)) + "  " * 40 + "x: 1\n")
    (folder / "cycle.yaml").write_text("server: &a\n  x: *a\n")
    header = "model,mode,id,correct,output_tokens_total\n"
    (folder / "short.csv").write_text(header + "m,off,1,1,5\nm,on\nm,on,1,1,9\n")
    (folder / "long.csv").write_text(header + "m,off,1,1,5,extra\nm,on,1,1,9\n")
    return folder


@pytest.mark.parametrize(("args", "env", "code", "words"), [
    (["logs", "list", "--limit", HUGE, "--db", "{tmp}/t.sqlite"], {}, 2, "--limit"),
    (["ask", "q", "--engine", "instant", "--no-record", "--budget", HUGE], {}, 2, "--budget"),
    (["ask", "q", "--engine", "instant", "--no-record"], {"THINKSWITCH_N_CTX": str(2**40)}, 2,
     "n_ctx"),
    (["ask", "q", "--engine", "instant", "--no-record"], {"THINKSWITCH_SEED": HUGE}, 2, "seed"),
    (["ask", "q", "--engine", "openai", "--no-record", "--base-url", "http://127.0.0.1:9/v1"],
     {"THINKSWITCH_CONNECT_TIMEOUT_S": "1e308"}, 2, "connect_timeout_s"),
    (["config", "check", "{tmp}/deep.toml"], {}, 2, "nested too deeply"),
    (["config", "check", "{tmp}/deep.yaml"], {}, 2, "nested too deeply"),
    (["config", "check", "{tmp}/tables.toml"], {}, 2, "nested too deeply"),
    (["config", "check", "{tmp}/forty.yaml"], {}, 2, "nested deeper than 32 levels"),
    (["config", "check", "/dev/zero"], {}, 2, "larger than 1048576 bytes"),
    (["triage", "train", "--outcomes", "{tmp}/short.csv", "--out", "{tmp}/m.npz"], {}, 1,
     "short.csv:3: expected 5 fields, got fewer"),
    (["triage", "train", "--outcomes", "{tmp}/long.csv", "--out", "{tmp}/m.npz"], {}, 1,
     "long.csv:2: expected 5 fields, got more"),
    (["bench", "gsm8k", "--engine", "instant", "--limit", "1", "--modes", f"on:{HUGE}",
      "--db", "{tmp}/b.sqlite", "--out", "{tmp}/out"], {}, 2, "bad budget in mode"),
    (["serve", "--engine", "instant", "--capacity", HUGE], {}, 2, "--capacity"),
], ids=["logs-limit", "ask-budget", "n-ctx", "seed", "timeout", "deep-toml", "deep-yaml",
        "deep-inline-tables", "forty-levels", "dev-zero", "short-csv-row", "long-csv-row",
        "modes-budget", "serve-capacity"])
def test_hostile_cli_input_is_one_line_and_exit_1_or_2(
        files: Path, args: list[str], env: dict[str, str], code: int, words: str) -> None:
    run = thinkswitch_process(*[arg.replace("{tmp}", str(files)) for arg in args], env=env)
    assert_one_line_error(run, code, words)
