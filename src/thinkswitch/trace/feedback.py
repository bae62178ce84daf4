"""A person's feedback on a trace: a verdict on one step of the thinking, or on the answer.

Feedback is evidence like the request it is about: it is appended to the chain as a record of
its own (`kind="feedback"`, `ref` = the request's id), never written into the request's record,
so `logs verify` covers it and nobody can change what was said later without breaking the
chain. It is also data: an answer rated wrong that was given without thinking is a label that
thinking was needed; "unnecessary" on a thinking step is a label against (see `labels`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from thinkswitch.kernel.errors import UsageError
from thinkswitch.trace.record import TraceRecord

STEP_VERDICTS = ("wrong", "unclear", "unnecessary", "good")
ANSWER_VERDICTS = ("right", "wrong")
COMMENT_CHARS = 2000
CORRECTION_CHARS = 8000

Verdict = Literal["wrong", "unclear", "unnecessary", "good", "right"]


class Feedback(BaseModel):
    """One verdict. With `step`, on that step of the thinking (wrong, unclear, unnecessary,
    good); without, on the answer (right or wrong, with an optional correction)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    step: StrictInt | None = Field(None, ge=1, le=100_000, description="1-based step index")
    verdict: Verdict = Field(description="wrong, unclear, unnecessary, good (a step); "
                             "right, wrong (the answer)")
    comment: str | None = Field(None, max_length=COMMENT_CHARS)
    correction: str | None = Field(None, max_length=CORRECTION_CHARS,
                                   description="what the answer should have been")

    @model_validator(mode="after")
    def _fits_its_target(self) -> Feedback:
        if self.step is not None and self.verdict not in STEP_VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is for answers; a step takes one of "
                             f"{', '.join(STEP_VERDICTS)}")
        if self.step is None and self.verdict not in ANSWER_VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is for steps; an answer takes one of "
                             f"{', '.join(ANSWER_VERDICTS)}")
        if self.step is not None and self.correction is not None:
            raise ValueError("a correction is for the answer, not for a step")
        return self


def feedback_record(target: TraceRecord, feedback: Feedback, caller: str) -> TraceRecord:
    """The record that says `feedback` about `target`; refuses a step the trace does not have.

    It repeats the target's decision (mode, policy) so that stats and training read one record,
    not two."""
    if target.kind != "request":
        raise UsageError(f"record {target.id} is not a request; feedback is on requests")
    if feedback.step is not None:
        count = len(target.steps or [])
        if feedback.step > count:
            raise UsageError(f"step {feedback.step} does not exist: trace {target.id} has "
                             f"{count} step{'s' if count != 1 else ''}")
    return TraceRecord(caller=caller, kind="feedback", ref=target.id,
                       decision={key: target.decision.get(key) for key in
                                 ("requested", "mode", "budget", "policy", "score")},
                       model=target.model, engine=target.engine,
                       feedback=feedback.model_dump(exclude_none=True))


def feedback_of(records: Iterable[TraceRecord], ref: str | None = None,
                verdict: str | None = None) -> list[TraceRecord]:
    """The feedback records among `records` (about `ref`, of `verdict`, when given)."""
    return [record for record in records if record.kind == "feedback"
            and (ref is None or record.ref == ref)
            and (verdict is None or (record.feedback or {}).get("verdict") == verdict)]


def public(record: TraceRecord) -> dict[str, Any]:
    """One feedback record as the API and the exports show it."""
    return {"id": record.id, "trace_id": record.ref, "created_at": record.created_at,
            **(record.feedback or {}), "mode": record.decision.get("mode"),
            "policy": record.decision.get("policy")}


def thinking_label(record: TraceRecord) -> bool | None:
    """What one feedback record says about whether the request needed thinking: True (an answer
    given without thinking rated wrong), False ("unnecessary" on a step, or an answer given
    without thinking rated right), None (says nothing about it)."""
    verdict = (record.feedback or {}).get("verdict")
    step = (record.feedback or {}).get("step")
    mode = record.decision.get("mode")
    if step is None and mode == "off":
        return {"wrong": True, "right": False}.get(str(verdict))
    if step is not None and verdict == "unnecessary" and mode == "on":
        return False
    return None
