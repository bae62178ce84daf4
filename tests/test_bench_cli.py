"""`thinkswitch bench` as a user runs it, including a live GSM8K run on the embedded engine."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from support.bind_over import bind_over
from support.cli import assert_one_line_error, thinkswitch, thinkswitch_process
from support.public_dir import public_dir

from thinkswitch.bench.sandbox_identity import system_tool
from thinkswitch.settings import default_data_dir

DATA = default_data_dir()
SYSTEM_BWRAP = Path(system_tool("bwrap") or "/usr/bin/bwrap")
needs_gsm8k = pytest.mark.skipif(not (DATA / "benchmarks" / "gsm8k").is_dir(),
                                 reason="shared benchmark data not present")


@pytest.mark.llama
@needs_gsm8k
def test_live_gsm8k_off_and_on_on_the_embedded_engine(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    args = ["bench", "gsm8k", "--limit", "20", "--modes", "off,on:64", "--answer-max-tokens",
            "64", "--temperature", "0", "--out", str(tmp_path / "out"),
            "--save-outcomes", str(tmp_path / "outcomes.csv")]
    run = thinkswitch_process(*args)  # the real model, as a user runs it
    assert run.returncode == 0, run.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    (suite,) = report["suites"]
    assert suite["suite"] == "gsm8k" and suite["engine"] == "llama_cpp"
    off, on = suite["modes"]
    assert (off["label"], off["n"], on["label"], on["n"]) == ("off", 20, "on:64", 20)
    assert off["mean_thinking"] == 0 and off["think_rate"] == 0
    assert 0 < on["mean_thinking"] <= 64 and on["think_rate"] == 1
    assert suite["paired"]["never"]["accuracy"] == off["accuracy"]
    assert (tmp_path / "out" / "gsm8k_pareto.png").is_file()
    rows = list(csv.DictReader((tmp_path / "outcomes.csv").open()))
    assert len(rows) == 40
    assert {r["mode"] for r in rows} == {"no_think", "budget64"}
    assert all(int(r["output_tokens_total"]) >= int(r["thinking_tokens"]) for r in rows)
    # The same command again finds every item stored and asks the model nothing.
    again = thinkswitch_process(*args)
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "out" / "report.json").read_text())["suites"][0]["modes"] == [
        off, on]


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["bench", "nosuch"], 2, "unknown suite 'nosuch'"),
        (["bench", "replay:concise_cot/gpt-35-turbo", "--modes", "off,sometimes"], 2,
         "unknown mode 'sometimes'"),
        (["bench", "replay:concise_cot/gpt-35-turbo", "--modes", "on:-3"], 2, "bad budget"),
        (["bench", "replay:concise_cot/gpt-35-turbo", "--policy", "psychic"], 2,
         "unknown policy 'psychic'; valid: cascade, learned, rules"),
        (["bench", "replay:concise_cot/gpt-35-turbo", "--knob", "3"], 2, "invalid setting knob"),
        (["bench", "gsm8k", "--limit", "2", "--data-dir", "/nonexistent/data"], 1,
         "/nonexistent/data/benchmarks/gsm8k/test.jsonl"),
    ],
    ids=["suite", "mode", "budget", "policy", "knob", "missing-data"],
)
def test_bench_bad_input(args: list[str], code: int, words: str) -> None:
    assert_one_line_error(thinkswitch(*args), code, words)


def test_code_suites_refuse_to_run_without_the_sandbox() -> None:
    """No bwrap in the system's directories: one line naming the reason and the flag, before
    any model is asked. (A bwrap on PATH would not count: only those directories do.)"""
    run = thinkswitch("bench", "mbpp", "--limit", "1",
                      prefix=bind_over({SYSTEM_BWRAP: Path("/dev/null")}))
    assert_one_line_error(run, 2, "the code sandbox cannot run: bubblewrap (bwrap) is not "
                                  "installed")
    assert "--unsafe-no-sandbox" in run.stderr


def test_code_suites_refuse_when_bwrap_cannot_make_namespaces() -> None:
    """A bwrap that fails the way it does with user namespaces disabled (in a directory that
    uid 65534 can reach: as root, bwrap is started as that uid)."""
    with public_dir("thinkswitch-fake-bwrap-") as directory:
        fake = directory / "bwrap"
        fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\n"
                        "exit 1\n")
        fake.chmod(0o755)
        run = thinkswitch("bench", "humaneval", "--limit", "1",
                          prefix=bind_over({SYSTEM_BWRAP: fake}))
    assert_one_line_error(run, 2, "bubblewrap cannot create a sandbox here (bwrap: No "
                                  "permissions to create new namespace)")
