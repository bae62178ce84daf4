"""Step 4, generate: the engine answers under the decision, and its events become the
`Result`.

The generation is built and checked before any output (a step before may have done it: the
probe checks both of its generations before its fast attempt). Then the `Decision` is
yielded, then the engine's thinking, answer and tool-call deltas as they come; the usage, the
timings and the finish reason make the `Result`. The engine enforces the budget (budget
forcing); this step only reads what it reports. A probe's buffered fast answer, when it is
kept, is replayed instead of running the engine again.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from typing import Any

from thinkswitch.kernel.closing import close_iterator
from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.errors import EngineUnavailableError
from thinkswitch.kernel.events import (
    AnswerDelta,
    EngineEvent,
    Finish,
    SwitchEvent,
    ThinkingDelta,
    ToolCallDelta,
    UsageReport,
)
from thinkswitch.kernel.result import FinishReason, Result, Timings, Usage
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.tool_calls import merge_tool_calls
from thinkswitch.switch.turn import Streamed, Turn
from thinkswitch.thinking.steps import split_steps


class Generate:
    name = "generate"

    def run(self, turn: Turn, parts: SwitchParts) -> Iterator[SwitchEvent]:
        decision = turn.decided()
        if turn.replay is not None:
            yield decision
            turn.result = yield from answer(parts, iter(turn.replay), decision, turn.started,
                                            turn.spent, observe=False, streamed=turn.streamed)
            return
        if turn.generation is None:
            turn.generation = parts.generation(turn.request, decision)
            parts.check(turn.request, turn.generation)
        yield decision
        events = parts.engine.execute(turn.generation, parts.dialect)
        turn.result = yield from answer(parts, events, decision, turn.started, turn.spent,
                                        streamed=turn.streamed)


def answer(
    parts: SwitchParts,
    events: Iterator[EngineEvent],
    decision: Decision,
    started: float,
    spent: Usage | None = None,
    observe: bool = True,
    streamed: Streamed | None = None,
) -> Generator[SwitchEvent, None, Result]:
    """Stream an engine's events to the caller; return (not yield) the `Result`.

    `spent` is what earlier engine calls of the same request cost (the probe's fast
    attempts); it is added to the usage. `observe=False` keeps events that were buffered and
    are only replayed now out of the decode-speed estimate. `streamed` collects what the
    caller is sent, for the record of a request stopped before its end."""
    streamed = streamed or Streamed()
    thinking, text = streamed.thinking, streamed.answer
    tool_calls: list[dict[str, Any]] = []
    ttft: float | None = None
    first_answer: float | None = None
    usage = Usage()
    finish: FinishReason | None = None
    clock = time.perf_counter
    try:
        for event in events:
            if isinstance(event, ThinkingDelta):  # every delta passes here: the clock is read
                if ttft is None:                   # only for the first ones
                    ttft = clock() - started
                thinking.append(event.text)
                streamed.thinking_deltas += 1
                yield event
            elif isinstance(event, AnswerDelta):
                text_of = event.text
                if ttft is None:
                    ttft = clock() - started
                text.append(text_of)
                streamed.answer_deltas += 1
                if first_answer is None and text_of.strip():
                    first_answer = clock() - started
                yield event
            elif isinstance(event, ToolCallDelta):
                ttft = clock() - started if ttft is None else ttft
                merge_tool_calls(tool_calls, event.calls)
                yield event
            elif isinstance(event, UsageReport):
                usage = Usage(
                    prompt_tokens=event.prompt_tokens,
                    thinking_tokens=event.thinking_tokens,
                    answer_tokens=event.answer_tokens,
                )
            elif isinstance(event, Finish):
                finish = event.reason
    finally:
        # A consumer that stops early must not leave the engine's generator (and lock) open.
        close_iterator(events)
    if finish is None:
        raise EngineUnavailableError(f"engine {parts.engine.name!r} ended without finishing")
    total = time.perf_counter() - started
    if observe and ttft is not None:
        # Only this call's tokens over the time since its first token: the probe's fast
        # attempts ran before `started + ttft` and are not in `usage` yet.
        parts.speed.observe(usage.thinking_tokens + usage.answer_tokens - 1, total - ttft)
    if spent is not None:
        usage = usage.plus(spent)
    thinking_text = "".join(thinking).strip()
    return Result(
        answer="".join(text).strip(),
        thinking=thinking_text,
        steps=split_steps(thinking_text),
        decision=decision,
        usage=usage,
        timings=Timings(ttft_s=ttft, first_answer_s=first_answer, total_s=total),
        engine=parts.engine.name,
        model=parts.engine.model,
        finish_reason=finish,
        tool_calls=tool_calls,
    )
