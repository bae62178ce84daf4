"""A thinkswitch server for client-library tests: every face on a real uvicorn server (the
protocol `thinkswitch serve` runs) in front of an engine whose answers are known, so a test can
assert on the exact text, reasoning and usage a client library hands back.

`ClientsEngine` is a fake at the engine boundary: it thinks `THINKING` when thinking is on,
then answers `ANSWER`; with `tools` in the request (and no tool result yet) it calls the first
tool with `TOOL_ARGUMENTS`; with `response_format` it answers `STRUCTURED` (the JSON an
engine that honours the schema would write); when the last turn says `FAIL_MIDWAY` it fails
after its thinking, as an upstream that drops. It declares those options as passed through,
as an upstream engine does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from support.live_server import live_server
from thinkswitch.engines.base import Engine
from thinkswitch.kernel.errors import EngineUnavailableError
from thinkswitch.kernel.events import (
    AnswerDelta,
    EngineEvent,
    Finish,
    ThinkingDelta,
    ToolCallDelta,
    UsageReport,
)
from thinkswitch.kernel.plan import GenerationRequest
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import Dialect, get_dialect
from thinkswitch.trace.recorder import Recorder
from thinkswitch.triage.rules import RulesPolicy

MODEL = "scripted-model"
API_KEY = "sk-clients-test"
THINKING = ("First, 3 boxes of 4.", " So 3 times 4 is 12.")
ANSWER = ("There are ", "12 apples.")
TOOL_ARGUMENTS = ('{"city": ', '"Paris"}')
STRUCTURED = ('{"count": 12, ', '"unit": "apples"}')
TOOL_ANSWER = ("It is sunny ", "in Paris.")
PROMPT_TOKENS = 11
FAIL_MIDWAY = "FAIL_MIDWAY"
FAILURE = "scripted upstream went away"
EFFORT_BUDGETS = {"low": 100, "medium": 200, "high": 300}


class ClientsEngine(Engine):
    """Known answers for client tests (see the module docstring); records what it was asked."""

    name = "scripted"
    passthrough = frozenset({"tools", "tool_choice", "parallel_tool_calls", "response_format"})

    def __init__(self) -> None:
        self.requests: list[GenerationRequest] = []

    @property
    def model(self) -> str:
        return MODEL

    def execute(self, request: GenerationRequest, dialect: Dialect) -> Iterator[EngineEvent]:
        self.requests.append(request)
        thinking = THINKING if request.plan.mode == "on" else ()
        for text in thinking:
            yield ThinkingDelta(text)
        if FAIL_MIDWAY in request.messages[-1].content:
            raise EngineUnavailableError(FAILURE)
        answer: tuple[str, ...] = ANSWER
        if request.options.get("tools") and request.messages[-1].role != "tool":
            yield from _tool_call(request.options["tools"][0], len(thinking))
            return
        if request.messages[-1].role == "tool":
            answer = TOOL_ANSWER
        elif request.options.get("response_format", {}).get("type") == "json_schema":
            answer = STRUCTURED
        for text in answer:
            yield AnswerDelta(text)
        yield UsageReport(PROMPT_TOKENS, len(thinking), len(answer))
        yield Finish("stop")


def _tool_call(tool: dict[str, Any], thinking_tokens: int) -> Iterator[EngineEvent]:
    name = tool["function"]["name"]
    yield ToolCallDelta(({"index": 0, "id": "call_1", "type": "function",
                          "function": {"name": name, "arguments": ""}},))
    for piece in TOOL_ARGUMENTS:
        yield ToolCallDelta(({"index": 0, "function": {"arguments": piece}},))
    yield UsageReport(PROMPT_TOKENS, thinking_tokens, len(TOOL_ARGUMENTS))
    yield Finish("tool_calls")


def tool_arguments() -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads("".join(TOOL_ARGUMENTS))
    return parsed


@contextmanager
def clients_server(engine: Engine | None = None, settings: Settings | None = None,
                   recorder: Recorder | None = None, **options: Any) -> Iterator[str]:
    """The root URL of a server in front of `engine` (a `ClientsEngine` by default), with the
    key `API_KEY` and the effort budgets `EFFORT_BUDGETS`, recording with `recorder` (none:
    no trace); `options` go to `create_app`."""
    from thinkswitch.server.app import create_app

    switch = Switch(SwitchParts(engine or ClientsEngine(), get_dialect("prompted"),
                                RulesPolicy(), settings or Settings(), recorder))
    app = create_app(switch, **{"api_keys": [API_KEY], "effort_budgets": EFFORT_BUDGETS,
                                **options})
    with live_server(app, guarded=True) as root:
        yield root
