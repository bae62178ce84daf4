"""Scripted upstreams that speak only a native reasoning API, for the `anthropic` and
`openai_responses` engines' tests (run with `live_server` on 127.0.0.1).

- `create_messages_upstream`: Anthropic's `POST /v1/messages`, always streamed: message_start,
  a signed `thinking` block (when thinking is enabled or adaptive) and optionally a
  `redacted_thinking` block, a `text` block, or a `tool_use` block when tools are offered,
  then message_delta (stop reason, output tokens) and message_stop.
- `create_responses_upstream`: OpenAI's `POST /v1/responses`, streamed: a reasoning item
  (summary deltas; `encrypted_content` on its done event), a message item with output text, or
  a function_call item when tools are offered, then `response.completed` with usage.

`NativeScript.mode`: ``ok``; ``overloaded`` (HTTP 529, Anthropic's overloaded_error; 503 for
Responses); ``cut`` (the connection drops after `cut_after` thinking deltas); ``error_event``
(an in-stream error event after the thinking); ``nested`` (a stream line of JSON nested past
every parser, Messages only). Every request body is kept in `bodies`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from support.scripted_upstream import NESTED_LINE

Mode = Literal["ok", "overloaded", "cut", "error_event", "nested"]
THOUGHTS = ["Three boxes ", "of four ", "is twelve."]
ANSWER = ["Tom has ", "12 apples."]


class CutStream(Exception):
    """Raised inside a streaming body: the server drops the connection mid-body."""


@dataclass
class NativeScript:
    mode: Mode = "ok"
    cut_after: int = 1
    redacted: bool = False
    bodies: list[dict[str, Any]] = field(default_factory=list)

    @property
    def last_body(self) -> dict[str, Any]:
        return self.bodies[-1]


def _sse(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n"


def create_messages_upstream(script: NativeScript) -> Starlette:
    async def messages(request: Request) -> Response:
        body = await request.json()
        script.bodies.append(body)
        if script.mode == "overloaded":
            return JSONResponse({"type": "error", "error": {
                "type": "overloaded_error", "message": "Overloaded"}}, status_code=529)
        if script.mode == "nested":
            return Response(NESTED_LINE, media_type="text/event-stream")
        return StreamingResponse(_messages_stream(script, body), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/messages", messages, methods=["POST"])])


async def _messages_stream(script: NativeScript, body: dict[str, Any]) -> AsyncIterator[str]:
    yield _sse("message_start", {"message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": body["model"],
        "content": [], "usage": {"input_tokens": 21, "output_tokens": 1}}})
    index = 0
    thinking = (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")
    if thinking:
        yield _sse("content_block_start", {"index": index, "content_block": {
            "type": "thinking", "thinking": "", "signature": ""}})
        for sent, text in enumerate(THOUGHTS):
            if script.mode == "cut" and sent >= script.cut_after:
                raise CutStream("scripted cut mid-thinking")
            yield _sse("content_block_delta", {"index": index, "delta": {
                "type": "thinking_delta", "thinking": text}})
        yield _sse("content_block_delta", {"index": index, "delta": {
            "type": "signature_delta", "signature": f"sig-{len(script.bodies)}"}})
        yield _sse("content_block_stop", {"index": index})
        index += 1
        if script.redacted:
            yield _sse("content_block_start", {"index": index, "content_block": {
                "type": "redacted_thinking", "data": "opaque-bytes"}})
            yield _sse("content_block_stop", {"index": index})
            index += 1
    if script.mode == "error_event":
        yield _sse("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}})
        return
    if body.get("tools") and not any(
            isinstance(turn["content"], list) and turn["content"][0].get("type") == "tool_result"
            for turn in body["messages"][-1:]):
        tool = body["tools"][0]
        yield _sse("content_block_start", {"index": index, "content_block": {
            "type": "tool_use", "id": "toolu_1", "name": tool["name"], "input": {}}})
        for piece in ('{"q": ', '"Lisbon"}'):
            yield _sse("content_block_delta", {"index": index, "delta": {
                "type": "input_json_delta", "partial_json": piece}})
        yield _sse("content_block_stop", {"index": index})
        stop = "tool_use"
    else:
        yield _sse("content_block_start", {"index": index, "content_block": {
            "type": "text", "text": ""}})
        for text in ANSWER:
            yield _sse("content_block_delta", {"index": index, "delta": {
                "type": "text_delta", "text": text}})
        yield _sse("content_block_stop", {"index": index})
        stop = "end_turn"
    yield _sse("message_delta", {"delta": {"stop_reason": stop, "stop_sequence": None},
                                 "usage": {"output_tokens": 10}})
    yield _sse("message_stop", {})


def create_responses_upstream(script: NativeScript) -> Starlette:
    async def responses(request: Request) -> Response:
        body = await request.json()
        script.bodies.append(body)
        if script.mode == "overloaded":
            return JSONResponse({"error": {"message": "overloaded", "type": "server_error"}},
                                status_code=503)
        return StreamingResponse(_responses_stream(script, body),
                                 media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/responses", responses, methods=["POST"])])


async def _responses_stream(script: NativeScript, body: dict[str, Any]) -> AsyncIterator[str]:
    number = 0

    def event(name: str, **data: Any) -> str:
        nonlocal number
        number += 1
        return _sse(name, {"sequence_number": number - 1, **data})

    rid = f"resp_{len(script.bodies)}"
    yield event("response.created", response={"id": rid, "status": "in_progress",
                                               "output": []})
    output: list[dict[str, Any]] = []
    effort = (body.get("reasoning") or {}).get("effort")
    if effort not in (None, "none", "minimal"):
        item = {"id": f"rs_{len(script.bodies)}", "type": "reasoning", "summary": []}
        yield event("response.output_item.added", output_index=0, item=item)
        for sent, text in enumerate(THOUGHTS):
            if script.mode == "cut" and sent >= script.cut_after:
                raise CutStream("scripted cut mid-thinking")
            yield event("response.reasoning_summary_text.delta", item_id=item["id"],
                        output_index=0, summary_index=0, delta=text)
        done = {**item, "summary": [{"type": "summary_text", "text": "".join(THOUGHTS)}],
                "encrypted_content": f"enc-{len(script.bodies)}"}
        output.append(done)
        yield event("response.output_item.done", output_index=0, item=done)
    if script.mode == "error_event":
        yield event("error", code="server_error", message="scripted failure", param=None)
        return
    index = len(output)
    if body.get("tools") and not any(item.get("type") == "function_call_output"
                                     for item in body["input"]):
        call = {"id": "fc_1", "type": "function_call", "call_id": "call_9",
                "name": body["tools"][0]["name"], "arguments": '{"q": "Lisbon"}',
                "status": "completed"}
        yield event("response.output_item.added", output_index=index,
                    item={**call, "arguments": ""})
        yield event("response.function_call_arguments.delta", item_id="fc_1",
                    output_index=index, delta=call["arguments"])
        output.append(call)
        yield event("response.output_item.done", output_index=index, item=call)
    else:
        yield event("response.output_item.added", output_index=index, item={
            "id": "msg_1", "type": "message", "role": "assistant", "content": []})
        for text in ANSWER:
            yield event("response.output_text.delta", item_id="msg_1", output_index=index,
                        content_index=0, delta=text)
        output.append({"id": "msg_1", "type": "message", "role": "assistant", "content": [
            {"type": "output_text", "text": "".join(ANSWER)}]})
    usage = {"input_tokens": 17, "output_tokens": 12,
             "output_tokens_details": {"reasoning_tokens": 5 if len(output) > 1 else 0}}
    yield event("response.completed", response={"id": rid, "status": "completed",
                                                "output": output, "usage": usage})
