"""The official JavaScript SDKs — `openai` (openai-node) and `@anthropic-ai/sdk` from npm — as
clients of a real server on 127.0.0.1: chat completions (whole, streamed, the stream helper,
tools and `runTools`), Responses (`create`, `stream`), Anthropic Messages with thinking
(`create`, `stream`, `finalMessage`, `countTokens`), `models`, and typed errors (401, 400, 404,
429 with the SDKs' retries). The scripts (tests/js/clients.mjs) report what the SDK handed
back; the assertions are here, on exact values (the engine's answers are known: see
support.clients_server)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.clients_server import (
    ANSWER,
    API_KEY,
    FAILURE,
    MODEL,
    PROMPT_TOKENS,
    THINKING,
    TOOL_ANSWER,
    TOOL_ARGUMENTS,
    ClientsEngine,
    clients_server,
    tool_arguments,
)
from support.js_clients import run_scenario, skip_without_node

from thinkswitch.settings import Settings

THOUGHT, ANSWERED = "".join(THINKING), "".join(ANSWER)
USAGE = {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": 4, "total_tokens": 15,
         "completion_tokens_details": {"reasoning_tokens": 2}}


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, ClientsEngine]]:
    skip_without_node()
    engine = ClientsEngine()
    with clients_server(engine) as root:
        yield root, engine


@pytest.fixture(scope="module")
def busy() -> Iterator[str]:
    """A server that admits nothing: every POST under /v1/ is a 429 with Retry-After: 1."""
    skip_without_node()
    with clients_server(capacity=0, meta="key") as root:
        yield root


def scenario(name: str, root: str, **env: str) -> dict[str, Any]:
    return run_scenario(name, root, API_KEY, **env)


def test_chat_completion_carries_reasoning_and_usage(served: tuple[str, ClientsEngine]) -> None:
    seen = scenario("chat-create", served[0])
    assert seen == {"object": "chat.completion", "content": ANSWERED, "reasoning": THOUGHT,
                    "finish": "stop", "usage": USAGE}
    assert served[1].requests[-1].plan.budget == 100  # reasoning_effort "low"


def test_chat_stream_sends_reasoning_then_content_then_usage(
        served: tuple[str, ClientsEngine]) -> None:
    seen = scenario("chat-stream", served[0])
    assert seen == {"order": ["reasoning", "content", "finish", "usage"], "reasoning": THOUGHT,
                    "content": ANSWERED, "finish": "stop", "usage": USAGE}


def test_chat_stream_helper_and_final_completion(served: tuple[str, ClientsEngine]) -> None:
    seen = scenario("chat-stream-helper", served[0])
    assert seen == {"deltas": list(ANSWER), "reasoning": THOUGHT, "content": ANSWERED,
                    "finish": "stop", "usage": USAGE, "finalContent": ANSWERED}


def test_tool_calls_whole_streamed_and_run_tools(served: tuple[str, ClientsEngine]) -> None:
    root, engine = served
    seen = scenario("chat-tools", root)
    call = {"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "".join(TOOL_ARGUMENTS)}}
    assert seen["whole"] == {"finish": "tool_calls", "calls": [call], "content": None}
    assert seen["streamed"]["finish"] == "tool_calls"
    assert seen["streamed"]["calls"] == [call]
    assert [(done["name"], done["arguments"]) for done in seen["streamed"]["argumentsDone"]] == [
        ("get_weather", "".join(TOOL_ARGUMENTS))]
    # runTools: the call, the function's result sent back as a tool turn, the final answer
    assert seen["runTools"] == {"called": [tool_arguments()], "answer": "".join(TOOL_ANSWER),
                                "messages": ["user", "assistant", "tool", "assistant"]}
    tool_turn = engine.requests[-1].messages[-1]
    assert tool_turn.role == "tool" and tool_turn.tool_call_id == "call_1"
    assert '"sky":"sunny"' in tool_turn.content


def test_responses_create_and_stream(served: tuple[str, ClientsEngine]) -> None:
    seen = scenario("responses", served[0])
    usage = {"input_tokens": PROMPT_TOKENS, "input_tokens_details": {"cached_tokens": 0},
             "output_tokens": 4, "output_tokens_details": {"reasoning_tokens": 2},
             "total_tokens": 15}
    assert seen["whole"] == {"status": "completed", "text": ANSWERED, "usage": usage,
                             "kinds": ["reasoning", "message"]}
    streamed = seen["streamed"]
    thinking_events = ["response.reasoning_text.delta"] * len(THINKING)
    answer_events = ["response.output_text.delta"] * len(ANSWER)
    assert streamed["events"] == [
        "response.created", "response.in_progress",
        "response.output_item.added", "response.content_part.added", *thinking_events,
        "response.reasoning_text.done", "response.content_part.done",
        "response.reasoning_summary_part.added", "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done", "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added", "response.content_part.added", *answer_events,
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.completed"]
    assert (streamed["text"], streamed["finalText"], streamed["reasoning"]) == (
        ANSWERED, ANSWERED, THOUGHT)
    assert streamed["finalReasoning"] == [THOUGHT] and streamed["summary"]
    assert streamed["finalSummary"] == [streamed["summary"]]
    assert (streamed["status"], streamed["usage"]) == ("completed", usage)
    assert seen["call"]["output"] == [{"type": "function_call", "name": "get_weather",
                                       "arguments": "".join(TOOL_ARGUMENTS)}]
    assert "response.function_call_arguments.done" in seen["call"]["events"]


def test_models_list_and_retrieve_in_both_sdks(served: tuple[str, ClientsEngine]) -> None:
    seen = scenario("models", served[0])
    names = [MODEL, f"{MODEL}:think", f"{MODEL}:nothink", f"{MODEL}:auto"]
    assert seen == {"openai": names, "retrieved": MODEL, "anthropic": names}


def test_anthropic_messages_with_thinking(served: tuple[str, ClientsEngine]) -> None:
    seen = scenario("messages", served[0])
    whole, streamed = seen["whole"], seen["streamed"]
    for message in (whole, streamed):
        thinking, text = message["blocks"]
        assert (thinking["type"], thinking["thinking"]) == ("thinking", THOUGHT)
        assert thinking["signature"]
        assert text == {"type": "text", "text": ANSWERED}
        assert message["stop"] == "end_turn"
        assert message["usage"] == {"input_tokens": PROMPT_TOKENS, "output_tokens": 4}
    assert streamed["events"] == [
        "message_start", "content_block_start:thinking",
        *["content_block_delta:thinking_delta"] * len(THINKING),
        "content_block_delta:signature_delta", "content_block_stop",
        "content_block_start:text", *["content_block_delta:text_delta"] * len(ANSWER),
        "content_block_stop", "message_delta", "message_stop"]
    assert (streamed["thinking"], streamed["text"], streamed["finalText"]) == (
        THOUGHT, ANSWERED, ANSWERED)
    assert seen["counted"]["input_tokens"] > 0
    assert seen["parsed"] == {"count": 12, "unit": "apples"}  # output_config.format


def test_anthropic_tool_use_round_trip(served: tuple[str, ClientsEngine]) -> None:
    root, engine = served
    seen = scenario("messages-tools", root)
    assert seen["stop"] == "tool_use"
    assert (seen["use"]["name"], seen["use"]["input"]) == ("get_weather", tool_arguments())
    assert "".join(seen["jsonDeltas"]) == "".join(TOOL_ARGUMENTS)
    assert (seen["answer"], seen["answerStop"]) == (["".join(TOOL_ANSWER)], "end_turn")
    result = engine.requests[-1].messages[-1]
    assert (result.role, result.tool_call_id, result.content) == (
        "tool", seen["use"]["id"], "sunny")


def test_a_stream_that_fails_midway_raises_in_every_sdk(
        served: tuple[str, ClientsEngine]) -> None:
    """The thinking sent before the failure reaches the caller; then the SDK raises its API
    error with the engine's message (not a parse error, not a silent end)."""
    seen = scenario("stream-errors", served[0])
    for face in ("chat", "responses", "messages"):
        assert seen[face]["class"] == "APIError" and FAILURE in seen[face]["message"], face
    assert (seen["chat"]["type"], seen["responses"]["code"], seen["messages"]["type"]) == (
        "server_error", "server_error", "api_error")
    assert seen["chatReasoning"] == THOUGHT and seen["messagesThinking"] == THOUGHT
    assert seen["responsesEvents"][-len(THINKING):] == [
        "response.reasoning_text.delta"] * len(THINKING)


def test_openai_errors_are_typed(served: tuple[str, ClientsEngine]) -> None:
    seen = scenario("openai-errors", served[0])
    expected = {
        "unauthorized": ("AuthenticationError", 401, "authentication_error", None, None),
        "invalid": ("BadRequestError", 400, "invalid_request_error", "temperature", None),
        "unsupported": ("BadRequestError", 400, "invalid_request_error", "logit_bias", None),
        "responses": ("BadRequestError", 400, "invalid_request_error", "temperature", None),
        "missing": ("NotFoundError", 404, "invalid_request_error", "model", "model_not_found"),
        "upstream": ("InternalServerError", 502, "upstream_error", None, None),
    }
    for case, (kind, status, error_type, param, code) in expected.items():
        error = seen[case]
        assert error["isApiError"], case
        assert (error["class"], error["status"], error["type"], error["param"],
                error["code"]) == (kind, status, error_type, param, code), case
    assert seen["unauthorized"]["message"] == "401 missing or invalid API key"
    assert "logit_bias" in seen["unsupported"]["message"]


def test_anthropic_errors_are_typed(served: tuple[str, ClientsEngine]) -> None:
    seen = scenario("anthropic-errors", served[0])
    assert (seen["unauthorized"]["class"], seen["unauthorized"]["status"]) == (
        "AuthenticationError", 401)
    assert seen["unauthorized"]["type"] == "authentication_error"
    assert (seen["invalid"]["class"], seen["invalid"]["status"]) == ("BadRequestError", 400)
    assert seen["invalid"]["type"] == "invalid_request_error"
    assert "budget_tokens" in seen["invalid"]["message"]
    assert (seen["upstream"]["class"], seen["upstream"]["status"], seen["upstream"]["type"]) == (
        "InternalServerError", 502, "api_error")
    assert FAILURE in seen["upstream"]["message"]


def refused(root: str) -> int:
    """How many requests the server refused with 429 so far (its /metrics counter)."""
    metrics = httpx.get(f"{root}/metrics", headers={"Authorization": f"Bearer {API_KEY}"})
    for line in metrics.text.splitlines():
        if line.startswith('thinkswitch_errors_total{kind="429"}'):
            return int(float(line.split()[-1]))
    return 0


def test_a_busy_server_is_a_rate_limit_error_without_retries(busy: str) -> None:
    before = refused(busy)
    seen = scenario("busy", busy, THINKSWITCH_RETRIES="0")
    for face in ("chat", "messages"):
        error = seen[face]
        assert (error["class"], error["status"], error["type"], error["retryAfter"]) == (
            "RateLimitError", 429, "rate_limit_error", "1"), face
    assert refused(busy) - before == 2  # one request per SDK: maxRetries 0 is honoured


def test_the_sdk_retries_a_429_after_retry_after(busy: str) -> None:
    before = refused(busy)
    started = time.monotonic()
    seen = scenario("busy", busy, THINKSWITCH_RETRIES="1")
    assert seen["chat"]["class"] == "RateLimitError"
    assert 1.0 <= seen["chatSeconds"] < time.monotonic() - started
    assert refused(busy) - before == 3  # the chat call twice (one retry), messages once


def test_the_sdks_read_the_request_id_of_answers_and_errors(
        served: tuple[str, ClientsEngine]) -> None:
    seen = scenario("request-ids", served[0])
    for face, prefix in (("chat", "chatcmpl-"), ("responses", "resp_"), ("messages", "msg_")):
        request_id = seen[face]["requestId"]
        assert request_id and seen[face]["id"] == prefix + request_id, face
    assert all(seen["errors"]) and len(set(seen["errors"])) == 2


def test_chat_stream_on_the_real_engine(llama_engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    skip_without_node()
    settings = Settings(temperature=0.0, n_ctx=2048, answer_max_tokens=24)
    with clients_server(llama_engine, settings, effort_budgets={"low": 12, "medium": 24,
                                                                "high": 48}) as root:
        seen = scenario("chat-stream", root, THINKSWITCH_MODEL="smollm2")
    assert seen["order"][0] == "reasoning" and seen["order"][-2:] == ["finish", "usage"]
    assert "content" in seen["order"] and seen["reasoning"].strip() and seen["content"].strip()
    details = seen["usage"]["completion_tokens_details"]
    assert 0 < details["reasoning_tokens"] <= 12
    assert seen["usage"]["total_tokens"] == (seen["usage"]["prompt_tokens"]
                                             + seen["usage"]["completion_tokens"])
