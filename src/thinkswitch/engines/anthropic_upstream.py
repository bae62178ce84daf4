"""`anthropic`: the switch in front of Anthropic's Messages API (`POST {base_url}/messages`).

The `anthropic` dialect sends `thinking: {type: enabled, budget_tokens}` (at least the API's
1024; a smaller budget is raised to it), `{type: adaptive}` or `{type: disabled}`; `max_tokens`
is the budget plus the answer cap, as the API counts thinking inside it, and `temperature` is
left out while thinking (the API takes only 1 then). The stream's `thinking_delta`s are the
thinking, `text_delta`s the answer, `tool_use` blocks tool calls (OpenAI-shaped, for the
switch). Signed `thinking` blocks and `redacted_thinking` blocks are kept by the engine
(`upstream_common.ReasoningMemo`) and sent back before that assistant turn's text on the next
request, as the API requires in tool-use loops; redacted thinking is never shown.

Tools come from the switch in OpenAI form and go out as Anthropic tools (`parameters` →
`input_schema`; `tool_choice` auto / required / none / a function → auto / any / none /
tool); tool turns become `tool_result` blocks. The API does not split output tokens into
thinking and text, so the usage splits `output_tokens` by the characters of each.

Errors: a 529 (overloaded), 5xx or 429 is the upstream's failure (502 to the client), another
4xx the request's (400); an `error` event or a broken connection mid-stream ends the answer
with an error (not retried: part of it was sent).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from thinkswitch.engines.http_upstream import HttpUpstreamEngine
from thinkswitch.engines.upstream_common import ReasoningMemo, message_key
from thinkswitch.kernel.errors import UsageError
from thinkswitch.kernel.events import (
    AnswerDelta,
    EngineEvent,
    ThinkingDelta,
    ToolCallDelta,
    UsageReport,
)
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.kernel.plan import GenerationRequest
from thinkswitch.kernel.result import FinishReason
from thinkswitch.thinking.dialects import Dialect

API_VERSION = "2023-06-01"
STOP_REASONS: Mapping[str, FinishReason] = {"max_tokens": "length", "tool_use": "tool_calls"}
CHOICES: Mapping[str, dict[str, str]] = {"auto": {"type": "auto"}, "required": {"type": "any"},
                                         "none": {"type": "none"}}


def anthropic_tools(options: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAI `tools` / `tool_choice` / `stop` / `top_p` in the Messages API's names."""
    out: dict[str, Any] = {}
    if options.get("tools"):
        out["tools"] = [{"name": tool["function"]["name"],
                         "description": tool["function"].get("description", ""),
                         "input_schema": tool["function"].get("parameters")
                         or {"type": "object"}}
                        for tool in options["tools"]]
    choice = options.get("tool_choice")
    if isinstance(choice, str):
        out["tool_choice"] = CHOICES[choice]
    elif isinstance(choice, dict):
        out["tool_choice"] = {"type": "tool", "name": choice["function"]["name"]}
    if options.get("stop"):
        stop = options["stop"]
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if options.get("top_p") is not None:
        out["top_p"] = options["top_p"]
    return out


def anthropic_messages(messages: tuple[ChatMessage, ...], memo: ReasoningMemo
                       ) -> tuple[str, list[dict[str, Any]]]:
    """(system text, Messages API turns); tool turns join one user turn of results."""
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        if message.role == "tool":
            block = {"type": "tool_result", "tool_use_id": message.tool_call_id,
                     "content": message.content}
            if turns and turns[-1]["role"] == "user" and isinstance(turns[-1]["content"], list):
                turns[-1]["content"].append(block)
            else:
                turns.append({"role": "user", "content": [block]})
            continue
        if message.role == "user":
            turns.append({"role": "user", "content": [{"type": "text", "text": message.content}]})
            continue
        blocks = memo.recall(message_key(message))
        if message.content:
            blocks.append({"type": "text", "text": message.content})
        for call in message.tool_calls or ():
            function = call.get("function") or {}
            blocks.append({"type": "tool_use", "id": call.get("id"),
                           "name": function.get("name"), "input": _tool_input(function)})
        turns.append({"role": "assistant", "content": blocks})
    return system, turns


def _tool_input(function: Mapping[str, Any]) -> dict[str, Any]:
    """A passed-back tool call's arguments as the API's `input` object. They come from the
    caller, so text that is not a JSON object (or nests past the parser) is the caller's
    mistake, a 400, not a failure of ours."""
    try:
        arguments = json.loads(function.get("arguments") or "{}")
    except (ValueError, RecursionError):
        arguments = None
    if not isinstance(arguments, dict):
        raise UsageError(f"the arguments of the earlier call to tool {function.get('name')!r} "
                         "are not a JSON object")
    return arguments


@dataclass
class _Reading:
    """What one streamed answer has produced so far."""

    blocks: dict[int, dict[str, Any]] = field(default_factory=dict)
    thinking_chars: int = 0
    answer_chars: int = 0
    answer: list[str] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    stop: str | None = None
    calls: int = 0


class AnthropicEngine(HttpUpstreamEngine[_Reading]):
    """Claude through the Messages API; see the module docstring."""

    name = "anthropic"
    default_dialect = "anthropic"
    passthrough = frozenset({"tools", "tool_choice", "stop", "top_p"})
    path = "/messages"

    @staticmethod
    def headers(api_key: str | None) -> dict[str, str]:
        headers = {"anthropic-version": API_VERSION, "content-type": "application/json"}
        if api_key:
            headers["x-api-key"] = api_key
        return headers

    def validate(self, request: GenerationRequest, dialect: Dialect) -> None:
        """Passed-back tool calls must carry JSON-object arguments (refused before a stream
        starts, so a streaming caller gets its 400 too)."""
        for message in request.messages:
            for call in message.tool_calls or ():
                _tool_input(call.get("function") or {})

    def body(self, request: GenerationRequest, dialect: Dialect) -> dict[str, Any]:
        plan = request.plan
        prompt = dialect.prepare(request.messages, plan)
        thinking = dict(prompt.request_extras)["thinking"]
        budget = thinking.get("budget_tokens", 0) if isinstance(thinking, dict) else 0
        system, turns = anthropic_messages(prompt.messages, self.memo)
        body: dict[str, Any] = {"model": self.model, "messages": turns, "stream": True,
                                "max_tokens": budget + plan.answer_max_tokens,
                                "thinking": thinking, **anthropic_tools(request.options)}
        if system:
            body["system"] = system
        if plan.mode == "off":
            body["temperature"] = min(1.0, request.temperature)
        return body

    def start_reading(self) -> _Reading:
        return _Reading()

    def read(self, event: dict[str, Any], reading: _Reading) -> Iterator[EngineEvent]:
        kind = event.get("type")
        if kind == "error":
            error = event.get("error") or {}
            raise self.failed_mid_stream(f"{error.get('type', 'error')}: "
                                         f"{error.get('message', '')}")
        if kind == "message_start":
            usage = (event.get("message") or {}).get("usage") or {}
            reading.input_tokens = int(usage.get("input_tokens") or 0)
        elif kind == "content_block_start":
            block = dict(event.get("content_block") or {})
            reading.blocks[int(event.get("index", 0))] = block
        elif kind == "content_block_delta":
            yield from self._delta(event, reading)
        elif kind == "content_block_stop":
            block = reading.blocks.get(int(event.get("index", 0))) or {}
            if block.get("type") == "tool_use":
                yield self._tool_call(block, reading)
        elif kind == "message_delta":
            reading.stop = (event.get("delta") or {}).get("stop_reason") or "end_turn"
            reading.output_tokens = int((event.get("usage") or {}).get("output_tokens") or 0)

    @staticmethod
    def _delta(event: dict[str, Any], reading: _Reading) -> Iterator[EngineEvent]:
        block = reading.blocks.setdefault(int(event.get("index", 0)), {"type": "text"})
        delta = event.get("delta") or {}
        kind = delta.get("type")
        if kind == "thinking_delta":
            text = str(delta.get("thinking", ""))
            block["thinking"] = block.get("thinking", "") + text
            reading.thinking_chars += len(text)
            yield ThinkingDelta(text)
        elif kind == "signature_delta":
            block["signature"] = block.get("signature", "") + str(delta.get("signature", ""))
        elif kind == "text_delta":
            text = str(delta.get("text", ""))
            reading.answer.append(text)
            reading.answer_chars += len(text)
            yield AnswerDelta(text)
        elif kind == "input_json_delta":
            block["partial_json"] = block.get("partial_json", "") + str(
                delta.get("partial_json", ""))

    @staticmethod
    def _tool_call(block: dict[str, Any], reading: _Reading) -> ToolCallDelta:
        arguments = block.get("partial_json") or json.dumps(block.get("input") or {})
        index = reading.calls
        reading.calls += 1
        return ToolCallDelta(({"index": index, "id": block.get("id"), "type": "function",
                               "function": {"name": block.get("name"),
                                            "arguments": arguments}},))

    def finish(self, reading: _Reading) -> Iterator[EngineEvent]:
        if reading.stop is None:
            raise self.ended_before("message_stop")
        blocks = [reading.blocks[index] for index in sorted(reading.blocks)]
        kept = [{key: block[key] for key in ("type", "thinking", "signature", "data")
                 if key in block} for block in blocks
                if block.get("type") in ("thinking", "redacted_thinking")]
        calls = [str(block.get("id", "")) for block in blocks if block.get("type") == "tool_use"]
        chars = reading.thinking_chars + reading.answer_chars
        thinking = (round(reading.output_tokens * reading.thinking_chars / chars)
                    if chars else 0)
        yield from self.finished(
            "".join(reading.answer), calls, kept,
            UsageReport(reading.input_tokens, thinking, reading.output_tokens - thinking),
            STOP_REASONS.get(reading.stop, "stop"))
