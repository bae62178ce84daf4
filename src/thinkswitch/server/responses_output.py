"""What `/v1/responses` sends back: the response object and its streaming events.

Output items, in order: a `reasoning` item when the model thought (the thinking as
`reasoning_text` content, and a `summary_text` part when `reasoning.summary` was asked), a
`message` item with the `output_text`, then one `function_call` item per tool call. Item ids
derive from the response id, so a response retrieved later shows the ids it was sent with.

Streaming sends `response.created` and `response.in_progress`, then per item
`response.output_item.added`, `response.content_part.added` for a reasoning or message
part, its deltas (`response.reasoning_text.delta`,
`response.reasoning_summary_text.delta`, `response.output_text.delta`,
`response.function_call_arguments.delta`) and `...done` events, `response.output_item.done`,
and last `response.completed` (or `response.incomplete` when the output cap cut the answer).
Every event carries a `sequence_number` counting from 0. Tool calls are sent whole, after the
text, as on `/v1/messages` (an upstream may interleave the fragments of parallel calls).
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

from thinkswitch.kernel.closing import close_iterator
from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.events import AnswerDelta, SwitchEvent, ThinkingDelta
from thinkswitch.kernel.result import Result
from thinkswitch.server.responses_schema import ResponsesRequest, SummaryKind
from thinkswitch.thinking.summary import summarize
from thinkswitch.trace.prices import PriceTable


def item_id(response_id: str, prefix: str, index: int = 0) -> str:
    base = response_id.removeprefix("resp_")
    return f"{prefix}_{base}" if index == 0 else f"{prefix}_{base}_{index}"


@dataclass
class Shell:
    """The request-dependent part of every response object (echoed as OpenAI does)."""

    response_id: str
    body: ResponsesRequest
    model: str
    created_at: int = field(default_factory=lambda: int(time.time()))

    def response(self, status: str, output: list[dict[str, Any]],
                 usage: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        body = self.body
        reasoning = body.reasoning
        return {
            "id": self.response_id, "object": "response", "created_at": self.created_at,
            "status": status, "error": None,
            "incomplete_details": ({"reason": "max_output_tokens"}
                                   if status == "incomplete" else None),
            "instructions": body.instructions, "max_output_tokens": body.max_output_tokens,
            "model": self.model, "output": output, "parallel_tool_calls": True,
            "previous_response_id": body.previous_response_id,
            "reasoning": {"effort": reasoning.effort if reasoning else None,
                          "summary": body.summary_kind()},
            "store": body.store, "temperature": body.temperature, "top_p": body.top_p,
            "text": {"format": {"type": "text"}}, "tool_choice": body.tool_choice or "auto",
            "tools": body.tools or [], "truncation": "disabled", "usage": usage,
            "user": None, "metadata": (body.model_extra or {}).get("metadata") or {},
            **extra,
        }


def usage_of(result: Result) -> dict[str, Any]:
    usage = result.usage
    output = usage.thinking_tokens + usage.answer_tokens
    return {"input_tokens": usage.prompt_tokens, "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output,
            "output_tokens_details": {"reasoning_tokens": usage.thinking_tokens},
            "total_tokens": usage.prompt_tokens + output}


def extension(result: Result, prices: PriceTable) -> dict[str, Any]:
    cost = prices.cost(result.model, result.usage)
    return {"thinkswitch": {"decision": result.decision.model_dump(),
                            "timings": result.timings.model_dump(),
                            "finish_reason": result.finish_reason, "engine": result.engine,
                            "trace_id": result.trace_id,
                            "steps": [step.model_dump() for step in result.steps],
                            "cost": {**cost.model_dump(), "total": cost.total}}}


def status_of(result: Result) -> str:
    return "incomplete" if result.finish_reason == "length" else "completed"


def reasoning_item(response_id: str, thinking: str, summary: SummaryKind | None,
                   status: str = "completed") -> dict[str, Any]:
    parts = [] if summary is None or not thinking else [
        {"type": "summary_text", "text": summarize(thinking, summary)}]
    content = [reasoning_part(thinking)] if thinking else []
    return {"id": item_id(response_id, "rs"), "type": "reasoning", "summary": parts,
            "content": content, "encrypted_content": None, "status": status}


def reasoning_part(text: str) -> dict[str, Any]:
    """The thinking as a reasoning item's content part. A stream opens it with
    `response.content_part.added` before its first delta, as OpenAI does: openai-node's
    `responses.stream` accumulator refuses a `reasoning_text.delta` for a part not opened."""
    return {"type": "reasoning_text", "text": text}


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(response_id: str, text: str | None, status: str) -> dict[str, Any]:
    return {"id": item_id(response_id, "msg"), "type": "message", "role": "assistant",
            "status": status, "content": [] if text is None else [text_part(text)]}


def call_items(response_id: str, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"id": item_id(response_id, "fc", index), "type": "function_call",
             "call_id": call.get("id") or item_id(response_id, "call", index),
             "name": (call.get("function") or {}).get("name", ""),
             "arguments": (call.get("function") or {}).get("arguments") or "",
             "status": "completed"}
            for index, call in enumerate(calls)]


def output_items(response_id: str, thinking: str, answer: str, calls: list[dict[str, Any]],
                 summary: SummaryKind | None, status: str) -> list[dict[str, Any]]:
    items = [reasoning_item(response_id, thinking, summary)] if thinking else []
    if answer or not calls:
        items.append(message_item(response_id, answer, status))
    return items + call_items(response_id, calls)


def whole_response(shell: Shell, result: Result, prices: PriceTable) -> dict[str, Any]:
    status = status_of(result)
    output = output_items(shell.response_id, result.thinking, result.answer,
                          result.tool_calls, shell.body.summary_kind(), status)
    return shell.response(status, output, usage_of(result), **extension(result, prices))


class _Numbered:
    """Stamps each event with its type and the next sequence number."""

    def __init__(self) -> None:
        self.next = 0

    def __call__(self, kind: str, **data: Any) -> tuple[str, dict[str, Any]]:
        event = {"type": kind, "sequence_number": self.next, **data}
        self.next += 1
        return kind, event


def stream_events(events: Iterator[SwitchEvent], shell: Shell, prices: PriceTable
                  ) -> Generator[tuple[str, dict[str, Any]], None, None]:
    """(event type, data) in the Responses streaming order (see the module docstring)."""
    try:
        yield from _events(events, shell, prices, _Numbered())
    finally:
        close_iterator(events)


def _events(events: Iterator[SwitchEvent], shell: Shell, prices: PriceTable, emit: _Numbered
            ) -> Iterator[tuple[str, dict[str, Any]]]:
    rid = shell.response_id
    output: list[dict[str, Any]] = []
    thinking: list[str] = []
    answer: list[str] = []
    open_kind: str | None = None
    for event in events:
        if isinstance(event, Decision):
            started = shell.response("in_progress", [], thinkswitch={
                "decision": event.model_dump()})
            yield emit("response.created", response=started)
            yield emit("response.in_progress", response=started)
        elif isinstance(event, ThinkingDelta):
            if open_kind is None:
                open_kind = "reasoning"
                yield emit("response.output_item.added", output_index=len(output),
                           item=reasoning_item(rid, "", None, "in_progress"))
                yield emit("response.content_part.added", item_id=item_id(rid, "rs"),
                           output_index=len(output), content_index=0,
                           part=reasoning_part(""))
            if open_kind == "reasoning":
                thinking.append(event.text)
                yield emit("response.reasoning_text.delta", item_id=item_id(rid, "rs"),
                           output_index=len(output), content_index=0, delta=event.text)
        elif isinstance(event, AnswerDelta):
            if open_kind == "reasoning":
                yield from _close_reasoning(emit, output, rid, "".join(thinking),
                                            shell.body.summary_kind())
            if open_kind != "message":
                open_kind = "message"
                yield from _open_message(emit, output, rid)
            answer.append(event.text)
            yield emit("response.output_text.delta", item_id=item_id(rid, "msg"),
                       output_index=len(output), content_index=0, delta=event.text,
                       logprobs=[])
        elif isinstance(event, Result):
            status = status_of(event)
            if open_kind == "reasoning":
                yield from _close_reasoning(emit, output, rid, "".join(thinking),
                                            shell.body.summary_kind())
            if open_kind != "message" and not event.tool_calls:
                open_kind = "message"
                yield from _open_message(emit, output, rid)
            if open_kind == "message":
                yield from _close_message(emit, output, rid, "".join(answer), status)
            for call in call_items(rid, event.tool_calls):
                yield from _call_events(emit, output, call)
            final = shell.response(status, output, usage_of(event), **extension(event, prices))
            yield emit(f"response.{status}", response=final)


def _close_reasoning(emit: _Numbered, output: list[dict[str, Any]], rid: str, thinking: str,
                     summary: SummaryKind | None) -> Iterator[tuple[str, dict[str, Any]]]:
    index, rs = len(output), item_id(rid, "rs")
    item = reasoning_item(rid, thinking, summary)
    yield emit("response.reasoning_text.done", item_id=rs, output_index=index,
               content_index=0, text=thinking)
    yield emit("response.content_part.done", item_id=rs, output_index=index, content_index=0,
               part=reasoning_part(thinking))
    for number, part in enumerate(item["summary"]):
        where = {"item_id": rs, "output_index": index, "summary_index": number}
        yield emit("response.reasoning_summary_part.added", **where,
                   part={"type": "summary_text", "text": ""})
        yield emit("response.reasoning_summary_text.delta", **where, delta=part["text"])
        yield emit("response.reasoning_summary_text.done", **where, text=part["text"])
        yield emit("response.reasoning_summary_part.done", **where, part=part)
    output.append(item)
    yield emit("response.output_item.done", output_index=index, item=item)


def _open_message(emit: _Numbered, output: list[dict[str, Any]], rid: str
                  ) -> Iterator[tuple[str, dict[str, Any]]]:
    yield emit("response.output_item.added", output_index=len(output),
               item=message_item(rid, None, "in_progress"))
    yield emit("response.content_part.added", item_id=item_id(rid, "msg"),
               output_index=len(output), content_index=0, part=text_part(""))


def _close_message(emit: _Numbered, output: list[dict[str, Any]], rid: str, text: str,
                   status: str) -> Iterator[tuple[str, dict[str, Any]]]:
    index, msg = len(output), item_id(rid, "msg")
    yield emit("response.output_text.done", item_id=msg, output_index=index, content_index=0,
               text=text, logprobs=[])
    yield emit("response.content_part.done", item_id=msg, output_index=index, content_index=0,
               part=text_part(text))
    item = message_item(rid, text, status)
    output.append(item)
    yield emit("response.output_item.done", output_index=index, item=item)


def _call_events(emit: _Numbered, output: list[dict[str, Any]], call: dict[str, Any]
                 ) -> Iterator[tuple[str, dict[str, Any]]]:
    index = len(output)
    yield emit("response.output_item.added", output_index=index,
               item={**call, "arguments": "", "status": "in_progress"})
    yield emit("response.function_call_arguments.delta", item_id=call["id"],
               output_index=index, delta=call["arguments"])
    yield emit("response.function_call_arguments.done", item_id=call["id"],
               output_index=index, name=call["name"], arguments=call["arguments"])
    output.append(call)
    yield emit("response.output_item.done", output_index=index, item=call)
