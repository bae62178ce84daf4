"""`openai_responses`: the switch in front of a server that speaks only OpenAI's Responses API
(`POST {base_url}/responses`), such as OpenAI's newest reasoning models.

The `openai_effort` dialect picks `reasoning.effort` from the budget (off is its `minimal`);
`reasoning.summary: auto` asks for the reasoning summary, whose deltas are the thinking (a
server that streams the reasoning itself, `response.reasoning_text.delta`, is read the same
way; one kind per answer, never both). `max_output_tokens` is the budget plus the answer cap,
since the API counts reasoning inside it. Calls are stateless (`store: false`) and ask for
`reasoning.encrypted_content`: the encrypted reasoning items of an answer are kept by the
engine (`upstream_common.ReasoningMemo`) and passed back before that assistant turn on the next
request, so the model keeps its reasoning across a tool loop without server-side state.

Tools go out flat (`{type: function, name, parameters}`), calls come back as
`function_call` items (as OpenAI-shaped tool calls for the switch), and tool turns go back as
`function_call_output` items. Usage comes from `response.completed`
(`output_tokens_details.reasoning_tokens`). Errors as for the `anthropic` engine: 5xx/429 are
the upstream's failure, other 4xx the request's; `error` / `response.failed` events and
broken connections end the answer with an error.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from thinkswitch.engines.http_upstream import HttpUpstreamEngine
from thinkswitch.engines.upstream_common import ReasoningMemo, message_key
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

THINKING_EVENTS = ("response.reasoning_summary_text.delta", "response.reasoning_text.delta")


def responses_input(messages: tuple[ChatMessage, ...], memo: ReasoningMemo
                    ) -> tuple[str, list[dict[str, Any]]]:
    """(instructions, input items) for the switch's turns."""
    instructions = "\n\n".join(m.content for m in messages if m.role == "system")
    items: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "user":
            items.append({"role": "user", "content": message.content})
        elif message.role == "tool":
            items.append({"type": "function_call_output", "call_id": message.tool_call_id,
                          "output": message.content})
        elif message.role == "assistant":
            items += memo.recall(message_key(message))
            if message.content:
                items.append({"role": "assistant", "content": message.content})
            for call in message.tool_calls or ():
                function = call.get("function") or {}
                items.append({"type": "function_call", "call_id": call.get("id"),
                              "name": function.get("name"),
                              "arguments": function.get("arguments") or "{}"})
    return instructions, items


def responses_tools(options: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if options.get("tools"):
        out["tools"] = [{"type": "function", **tool["function"]} for tool in options["tools"]]
    choice = options.get("tool_choice")
    if isinstance(choice, str):
        out["tool_choice"] = choice
    elif isinstance(choice, dict):
        out["tool_choice"] = {"type": "function", "name": choice["function"]["name"]}
    if options.get("top_p") is not None:
        out["top_p"] = options["top_p"]
    return out


@dataclass
class _Reading:
    thinking_kind: str | None = None
    thinking: int = 0
    answer: list[str] = field(default_factory=list)
    reasoning_items: list[dict[str, Any]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    usage: dict[str, Any] | None = None
    finish: FinishReason | None = None


class ResponsesEngine(HttpUpstreamEngine[_Reading]):
    """A model behind the Responses API; see the module docstring."""

    name = "openai_responses"
    default_dialect = "openai_effort"
    passthrough = frozenset({"tools", "tool_choice", "top_p"})
    path = "/responses"

    @staticmethod
    def headers(api_key: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def body(self, request: GenerationRequest, dialect: Dialect) -> dict[str, Any]:
        plan = request.plan
        prompt = dialect.prepare(request.messages, plan)
        instructions, items = responses_input(prompt.messages, self.memo)
        thinking = plan.mode == "on"
        budget = (plan.budget or 0) if thinking else 0
        reasoning: dict[str, Any] = {"effort": prompt.request_extras.get("reasoning_effort")}
        if thinking:
            reasoning["summary"] = "auto"
        body: dict[str, Any] = {
            "model": self.model, "input": items, "stream": True, "store": False,
            "reasoning": reasoning, "include": ["reasoning.encrypted_content"],
            "max_output_tokens": budget + plan.answer_max_tokens,
            **responses_tools(request.options)}
        if instructions:
            body["instructions"] = instructions
        return body

    def start_reading(self) -> _Reading:
        return _Reading()

    def finish(self, reading: _Reading) -> Iterator[EngineEvent]:
        if reading.finish is None:
            raise self.ended_before("the response completed")
        usage = reading.usage or {}
        details = usage.get("output_tokens_details") or {}
        output = int(usage.get("output_tokens") or 0)
        reasoning = int(details.get("reasoning_tokens") or reading.thinking)
        yield from self.finished(
            "".join(reading.answer), reading.calls, reading.reasoning_items,
            UsageReport(int(usage.get("input_tokens") or 0), reasoning,
                        max(0, output - reasoning)),
            reading.finish)

    def read(self, event: dict[str, Any], reading: _Reading) -> Iterator[EngineEvent]:
        kind = str(event.get("type", ""))
        if kind in THINKING_EVENTS:
            if reading.thinking_kind in (None, kind):
                reading.thinking_kind = kind
                reading.thinking += 1
                yield ThinkingDelta(str(event.get("delta", "")))
        elif kind == "response.output_text.delta":
            text = str(event.get("delta", ""))
            reading.answer.append(text)
            yield AnswerDelta(text)
        elif kind == "response.output_item.done":
            yield from self._item_done(event.get("item") or {}, reading)
        elif kind in ("response.completed", "response.incomplete"):
            response = event.get("response") or {}
            reading.usage = response.get("usage") or {}
            reading.finish = "length" if kind == "response.incomplete" else (
                "tool_calls" if reading.calls else "stop")
        elif kind in ("error", "response.failed"):
            error = event.get("error") or (event.get("response") or {}).get("error") or event
            raise self.failed_mid_stream(str(error.get("message", "error")))

    @staticmethod
    def _item_done(item: dict[str, Any], reading: _Reading) -> Iterator[EngineEvent]:
        if item.get("type") == "reasoning":
            reading.reasoning_items.append({key: item[key] for key in (
                "type", "id", "summary", "encrypted_content") if key in item})
        elif item.get("type") == "function_call":
            reading.calls.append(str(item.get("call_id", "")))
            yield ToolCallDelta(({"index": len(reading.calls) - 1, "id": item.get("call_id"),
                                  "type": "function",
                                  "function": {"name": item.get("name"),
                                               "arguments": item.get("arguments") or "{}"}},))
