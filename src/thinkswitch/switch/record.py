"""Step 5, record: the `Result` goes to the trace store before the caller sees it, and its
record's id comes back as `Result.trace_id`. A request that failed or was stopped after its
decision is recorded too, with the error (`record_failure`, called by the pipeline)."""

from __future__ import annotations

from collections.abc import Iterator

from thinkswitch.kernel.events import SwitchEvent
from thinkswitch.kernel.result import Usage
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.turn import Turn


class Record:
    name = "record"

    def run(self, turn: Turn, parts: SwitchParts) -> Iterator[SwitchEvent]:
        if parts.recorder is not None and turn.result is not None:
            record = parts.recorder.result(turn.request.messages, turn.result, turn.caller,
                                           turn.request.trace_id)
            turn.result = turn.result.model_copy(update={"trace_id": record.id})
        yield from ()


def record_failure(turn: Turn, parts: SwitchParts, error: str) -> None:
    """Leave a trace of a request that got a decision but no `Result` (nothing before the
    decision is recorded: the request was refused as invalid)."""
    if parts.recorder is not None and turn.decision is not None:
        parts.recorder.failure(turn.request.messages, turn.decision, parts.engine.name,
                               parts.engine.model, error, turn.caller, turn.request.trace_id)


def record_stopped(turn: Turn, parts: SwitchParts) -> None:
    """Leave a trace of a request whose caller went away mid-answer: the thinking and answer
    it was sent, their tokens (the engine's tokenizer's count where it has one, else one per
    streamed delta) and their cost."""
    if parts.recorder is None or turn.decision is None:
        return
    streamed = turn.streamed
    thinking, answer = "".join(streamed.thinking), "".join(streamed.answer)
    counted = (parts.engine.usage_so_far(turn.generation, parts.dialect, thinking, answer)
               if turn.generation is not None else None)
    usage = (Usage(prompt_tokens=counted.prompt_tokens, thinking_tokens=counted.thinking_tokens,
                   answer_tokens=counted.answer_tokens) if counted is not None
             else Usage(thinking_tokens=streamed.thinking_deltas,
                        answer_tokens=streamed.answer_deltas))
    parts.recorder.failure(turn.request.messages, turn.decision, parts.engine.name,
                           parts.engine.model, "stopped by the caller before the end",
                           turn.caller, turn.request.trace_id, thinking=thinking.strip(),
                           answer=answer.strip(), usage=usage.plus(turn.spent))
