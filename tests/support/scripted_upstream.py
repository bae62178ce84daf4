"""A tiny scripted OpenAI-compatible server, for fault and load tests and the benches.

It streams `/v1/chat/completions` in the shape vLLM sends (a role chunk, one delta per token,
a finish chunk, a usage chunk, `[DONE]`) with a fixed delay per token, and can misbehave on
purpose (`Script.mode`, changeable while it runs):

- ``ok``: answer normally;
- ``slow``: wait `slow_s` before the first token;
- ``garbage``: answer 200 with a stream line that is not JSON;
- ``nested``: answer 200 with a stream line of JSON nested past every parser (`NESTED_LINE`);
- ``cut``: send `cut_after` tokens, then drop the connection mid-body;
- ``stall``: send `cut_after` tokens, then go silent for `slow_s`;
- ``error``: answer HTTP 500;
- ``reject``: answer HTTP 400 (the request's fault, as for a bad `tools` schema);
- ``down``: like ``error``, and `/v1/models` fails too (the health check sees it).

`slots` > 0 serves that many streams at once and queues the rest, like a model server with a
fixed batch (llama.cpp server's `--parallel`); 0 serves every stream at once.

The answer names the question (`answer to <question>`), so a client can check it got its own.
Run in-process with `support.live_server`, or as a process to kill it mid-load:

    python tests/support/scripted_upstream.py --port 8101 --token-delay 0.01 --tokens 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

Mode = Literal["ok", "slow", "garbage", "nested", "cut", "stall", "error", "down", "reject"]
#: A stream line of arrays 100,000 deep: orjson stops at 1,024, `json` hits the recursion limit.
NESTED_LINE = "data: " + "[" * 100_000 + "]" * 100_000 + "\n\n"
MODEL = "scripted-upstream"


class CutStream(Exception):
    """Raised inside a streaming body: the server drops the connection mid-body."""


@dataclass
class Script:
    mode: Mode = "ok"
    token_delay_s: float = 0.0
    tokens: int = 8
    thinking_tokens: int = 0
    slow_s: float = 5.0
    cut_after: int = 2
    slots: int = 0
    calls: int = 0
    active: int = 0
    last_body: dict[str, Any] | None = None


def _chunk(**delta: Any) -> str:
    finish = delta.pop("finish", None)
    body = {"object": "chat.completion.chunk", "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(body)}\n\n"


def _question(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user":
            return str(message.get("content", ""))
    return ""


def create_upstream(script: Script) -> Starlette:
    """The app; `script` may be changed while it serves (except `slots`)."""
    slots = asyncio.Semaphore(script.slots) if script.slots > 0 else None

    async def models(request: Request) -> Response:
        if script.mode == "down":
            return JSONResponse({"error": {"message": "down"}}, status_code=503)
        return JSONResponse({"object": "list", "data": [{"id": MODEL, "object": "model"}]})

    async def chat(request: Request) -> Response:
        body = await request.json()
        script.calls += 1
        script.last_body = body
        mode = script.mode
        if mode == "reject":
            return JSONResponse({"error": {"message": "scripted rejection"}}, status_code=400)
        if mode in ("error", "down"):
            return JSONResponse({"error": {"message": "scripted failure"}}, status_code=500)
        if mode == "garbage":
            return Response("data: {this is not json\n\n", media_type="text/event-stream")
        if mode == "nested":
            return Response(NESTED_LINE, media_type="text/event-stream")
        if body.get("tools"):
            return StreamingResponse(_tool_call(body), media_type="text/event-stream")
        return StreamingResponse(_stream(script, mode, _question(body), slots),
                                 media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/models", models),
                             Route("/v1/chat/completions", chat, methods=["POST"])])


async def _tool_call(body: dict[str, Any]) -> AsyncIterator[str]:
    """Call every tool offered with `{"q": <question>}`, as parallel calls whose fragments
    interleave (each call's name first, then its arguments in two pieces), as vLLM may."""
    names = [tool["function"]["name"] for tool in body["tools"]]
    arguments = json.dumps({"q": _question(body)})
    half = len(arguments) // 2
    yield _chunk(role="assistant", content=None, tool_calls=[
        {"index": k, "id": f"call_{k + 1}", "type": "function",
         "function": {"name": name, "arguments": arguments[:half]}}
        for k, name in enumerate(names)])
    for k in range(len(names)):
        yield _chunk(tool_calls=[{"index": k, "function": {"arguments": arguments[half:]}}])
    yield _chunk(finish="tool_calls")
    yield "data: [DONE]\n\n"


async def _stream(script: Script, mode: Mode, question: str,
                  slots: asyncio.Semaphore | None) -> AsyncIterator[str]:
    if slots is not None:
        await slots.acquire()
    script.active += 1
    try:
        yield _chunk(role="assistant", content="")
        if mode == "slow":
            await asyncio.sleep(script.slow_s)
        words = f"answer to {question}".split()
        words += [f"w{i}" for i in range(max(0, script.tokens - len(words)))]
        for i in range(script.thinking_tokens):
            await asyncio.sleep(script.token_delay_s)
            yield _chunk(reasoning_content=f"t{i} ")
        for sent, word in enumerate(words):
            if mode in ("cut", "stall") and sent >= script.cut_after:
                if mode == "cut":
                    raise CutStream("scripted cut")
                await asyncio.sleep(script.slow_s)
            await asyncio.sleep(script.token_delay_s)
            yield _chunk(content=word if sent == 0 else f" {word}")
        yield _chunk(finish="stop")
        usage = {"prompt_tokens": 10, "completion_tokens": len(words) + script.thinking_tokens}
        final = {"object": "chat.completion.chunk", "choices": [], "usage": usage}
        yield f"data: {json.dumps(final)}\n\n"
        yield "data: [DONE]\n\n"
    finally:
        script.active -= 1
        if slots is not None:
            slots.release()


@contextmanager
def upstream_process(
    token_delay_s: float = 0.0, tokens: int = 8, port: int | None = None, slots: int = 0,
    start_timeout_s: float = 20.0,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The scripted upstream in its own process (so it can be killed); yields its `/v1` URL.
    `port` reuses a port (to restart a killed replica at the same URL)."""
    from support.live_server import free_port
    from support.startup_wait import wait_until_answering

    port = port or free_port()
    process = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--port", str(port),
         "--token-delay", str(token_delay_s), "--tokens", str(tokens), "--slots", str(slots)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_until_answering(f"{url}/models", process, start_timeout_s,
                             f"scripted upstream on port {port}", interval_s=0.05)
        yield url, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


@contextmanager
def thinkswitch_in_front(urls: list[str], dialect: str = "prompted", recorder: Any = None,
                         capacity: int = 16, **engine_options: Any) -> Iterator[tuple[str, Any]]:
    """thinkswitch (the `openai` engine over `urls`) served on 127.0.0.1; yields its root URL
    and the engine."""
    from support.live_server import live_server
    from thinkswitch.engines.openai_compat import OpenAICompatEngine
    from thinkswitch.server.app import create_app
    from thinkswitch.settings import Settings
    from thinkswitch.switch.parts import SwitchParts
    from thinkswitch.switch.pipeline import Switch
    from thinkswitch.thinking.dialects import get_dialect
    from thinkswitch.triage.rules import RulesPolicy

    engine = OpenAICompatEngine(base_url=",".join(urls), model=MODEL, **engine_options)
    switch = Switch(SwitchParts(engine, get_dialect(dialect), RulesPolicy(), Settings(), recorder))
    try:
        with live_server(create_app(switch, capacity=capacity)) as root:
            yield root, engine
    finally:
        engine.close()


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="scripted OpenAI-compatible upstream")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token-delay", type=float, default=0.0)
    parser.add_argument("--tokens", type=int, default=8)
    parser.add_argument("--slots", type=int, default=0, help="streams at once (0: no limit)")
    args = parser.parse_args()
    script = Script(token_delay_s=args.token_delay, tokens=args.tokens, slots=args.slots)
    uvicorn.run(create_upstream(script), host="127.0.0.1", port=args.port,
                log_level="critical", backlog=1024)


if __name__ == "__main__":
    main()
