"""Step 5, record: the `Result` goes to the trace store before the caller sees it, and its
record's id comes back as `Result.trace_id`. A request that failed or was stopped after its
decision is recorded too, with the error (`record_failure`, called by the pipeline)."""

from __future__ import annotations

from collections.abc import Iterator

from thinkswitch.kernel.events import SwitchEvent
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
