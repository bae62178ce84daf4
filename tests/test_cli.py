"""`thinkswitch` as a user runs it: a real process, its stdout, stderr and exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli import REPLAY_DATA, assert_one_line_error, thinkswitch, thinkswitch_process


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["ask", "", "--think", "off"], 2, "the question is empty"),
        (["ask", "q", "--think", "on", "--budget", "-5"], 2, "budget"),
        (["ask", "q", "--think", "on", "--budget", "lots"], 2, "Invalid value for '--budget'"),
        (["ask", "q", "--think", "maybe"], 2, "'maybe' is not one of"),
        (["serve", "--reasoning-field", "thoughts"], 2,
         "unknown reasoning field 'thoughts'; valid: both, reasoning, reasoning_content"),
        (["ask", "q", "--engine", "warp"], 2,
         "unknown engine 'warp'; valid: anthropic, gemini, instant, llama_cpp, openai, "
         "openai_responses"),
        (["ask", "q", "--engine", "replay", "--dialect", "klingon"], 2,
         "unknown dialect 'klingon'; valid: anthropic, deepseek_r1, gemini, granite, "
         "openai_effort, prompted, qwen3"),
        (["ask", "q", "--model", "/nonexistent/model.gguf"], 1,
         "model file not found: /nonexistent/model.gguf"),
        (["ask", "q", "--engine", "openai", "--base-url", "http://127.0.0.1:9/v1",
          "--model", "m"], 1, "cannot reach"),
        (["ask", "q", "--think", "on", "--budget", "100000"], 2, "exceed the context window"),
        (["ask", "q", "--think", "on", "--budget", "10", "--min-thinking", "50"], 2,
         "min_thinking 50 is larger than the budget 10"),
    ],
    ids=["empty", "negative-budget", "non-integer-budget", "unknown-mode",
         "unknown-reasoning-field", "unknown-engine",
         "unknown-dialect", "missing-model", "unreachable-server", "budget-over-context",
         "min-over-budget"],
)
def test_bad_input_is_one_line_and_an_exit_code(args: list[str], code: int, words: str) -> None:
    assert_one_line_error(thinkswitch(*args), code, words)


def test_engines_lists_engines_and_dialects() -> None:
    run = thinkswitch("engines")
    assert run.returncode == 0
    for name in ["llama_cpp", "openai", "replay", "qwen3", "granite", "deepseek_r1",
                 "openai_effort", "prompted", "Here is my thought process:"]:
        assert name in run.stdout


@pytest.mark.skipif(not REPLAY_DATA.is_dir(), reason="shared outcome data not present")
def test_ask_json_on_replay_has_exactly_the_result_fields() -> None:
    question = json.loads(
        (REPLAY_DATA / "qwen3-8b" / "Qwen3-8B_simpleqa_exd0.jsonl").open().readline()
    )
    run = thinkswitch("ask", question["problem"], "--engine", "replay", "--model", "Qwen3-8B",
                      "--think", "on", "--json")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert set(result) == {"answer", "thinking", "decision", "usage", "timings", "engine",
                           "model", "finish_reason", "trace_id", "tool_calls", "steps"}
    assert result["trace_id"]
    assert set(result["decision"]) == {"requested", "mode", "budget", "policy", "score", "reason"}
    assert set(result["usage"]) == {"prompt_tokens", "thinking_tokens", "answer_tokens",
                                    "probe_tokens"}
    assert result["usage"]["probe_tokens"] == 0
    assert set(result["timings"]) == {"ttft_s", "first_answer_s", "total_s"}
    assert result["usage"]["thinking_tokens"] == question["thinking_tokens"]
    assert result["answer"] == question["response"].removesuffix("<|im_end|>").strip()


@pytest.mark.llama
def test_ask_streams_thinking_to_stderr_and_answer_to_stdout() -> None:
    pytest.importorskip("llama_cpp")
    run = thinkswitch_process("ask", "What is 2 plus 2?", "--think", "on", "--budget", "4",
                              "--answer-max-tokens", "16", "--temperature", "0")
    assert run.returncode == 0, run.stderr
    assert "[on → on, budget 4]" in run.stderr
    assert "thinking:" in run.stderr
    assert "finish budget" in run.stderr
    assert run.stdout.strip()
    assert "thinking:" not in run.stdout


@pytest.mark.llama
def test_ask_hide_thinking(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    run = thinkswitch_process("ask", "What is 2 plus 2?", "--think", "on", "--budget", "8",
                              "--answer-max-tokens", "8", "--temperature", "0",
                              "--hide-thinking")
    assert run.returncode == 0, run.stderr
    assert "thinking:" not in run.stderr
