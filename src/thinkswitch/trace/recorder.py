"""Turn what the switch did into trace records: results, and failures with their error."""

from __future__ import annotations

from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.kernel.pairs import ShadowPair
from thinkswitch.kernel.result import Result, Usage
from thinkswitch.trace.feedback import Feedback, feedback_record
from thinkswitch.trace.prices import PriceTable
from thinkswitch.trace.record import TraceRecord
from thinkswitch.trace.redact import redact, redact_feedback
from thinkswitch.trace.store import TraceStore


class Recorder:
    """Appends one record per request to a store (redacted if asked)."""

    def __init__(self, store: TraceStore, prices: PriceTable | None = None,
                 redact_inputs: bool = False) -> None:
        self.store = store
        self.prices = prices or PriceTable()
        self.redact_inputs = redact_inputs
        self._salt = store.salt() if redact_inputs else ""

    def _append(self, record: TraceRecord) -> TraceRecord:
        if self.redact_inputs:
            record = redact(record, self._salt)
        return self.store.append(record)

    def result(self, messages: tuple[ChatMessage, ...], result: Result,
               caller: str = "", record_id: str | None = None) -> TraceRecord:
        return self._append(TraceRecord(
            **_named(record_id),
            caller=caller,
            messages=[m.model_dump(exclude_none=True) for m in messages],
            decision=result.decision.model_dump(),
            thinking=result.thinking,
            steps=[step.model_dump() for step in result.steps],
            answer=({"content": result.answer, "tool_calls": result.tool_calls}
                    if result.tool_calls else result.answer),
            usage=result.usage.model_dump(),
            timings=result.timings.model_dump(),
            engine=result.engine,
            model=result.model,
            finish_reason=result.finish_reason,
            cost=self.prices.cost(result.model, result.usage),
        ))

    def failure(self, messages: tuple[ChatMessage, ...], decision: Decision | None,
                engine: str, model: str, error: str, caller: str = "",
                record_id: str | None = None, *,
                thinking: str = "", answer: str = "", usage: Usage | None = None
                ) -> TraceRecord:
        """A request that did not finish, with what it had produced and cost by then (a
        caller that left mid-stream still received, and is billed for, those tokens)."""
        spent = usage or Usage()
        return self._append(TraceRecord(
            **_named(record_id),
            caller=caller,
            messages=[m.model_dump(exclude_none=True) for m in messages],
            decision=decision.model_dump() if decision else {},
            thinking=thinking,
            answer=answer,
            engine=engine,
            model=model,
            usage=spent.model_dump(),
            cost=self.prices.cost(model, spent),
            error=error,
        ))

    def feedback(self, target: TraceRecord, feedback: Feedback, caller: str = "") -> TraceRecord:
        """Append a person's `feedback` on the request `target` (its texts redacted if asked);
        a step the trace does not have is refused (`UsageError`)."""
        record = feedback_record(target, feedback, caller)
        if self.redact_inputs:
            record = redact_feedback(record, self._salt)
        return self.store.append(record)

    def shadow(self, pair: ShadowPair) -> TraceRecord:
        """Chain a shadow pair, priced apart: its cost is the shadow work's (the other side
        and any judge call), never added to the request it shadows. A redacting recorder
        keeps the pair's label and no text."""
        if self.redact_inputs:
            pair = pair.redacted_with(self._salt)
        usage = Usage(prompt_tokens=pair.shadow.prompt_tokens,
                      thinking_tokens=pair.shadow.thinking_tokens,
                      answer_tokens=pair.shadow.answer_tokens + pair.judge_tokens)
        return self.store.append_shadow_pair(pair, self.prices.cost(pair.model, usage))


def _named(record_id: str | None) -> dict[str, str]:
    """The record's id when the caller chose one (else the record makes its own)."""
    return {} if record_id is None else {"id": record_id}
