"""The value objects that flow out of the switch: `Decision`, `Usage`, `Timings`, `Result`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Mode = Literal["off", "on"]
RequestedMode = Literal["off", "on", "auto"]
FinishReason = Literal["stop", "budget", "length", "tool_calls"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Decision(_Frozen):
    """What the switch decided for one request, and why."""

    requested: RequestedMode
    mode: Mode
    budget: int | None = Field(description="thinking-token cap; None when mode is off")
    policy: str = Field(description="who decided: 'user' for off/on, a policy name for auto")
    score: float | None = Field(default=None, description="policy score in [0, 1], if any")
    reason: str


class Usage(_Frozen):
    prompt_tokens: int = 0
    thinking_tokens: int = 0
    answer_tokens: int = 0


class Timings(_Frozen):
    ttft_s: float | None = Field(description="seconds to the first token of any kind")
    first_answer_s: float | None = Field(description="seconds to the first answer token")
    total_s: float


class Result(_Frozen):
    """One answered request. Field names are the public JSON contract."""

    answer: str
    thinking: str
    decision: Decision
    usage: Usage
    timings: Timings
    engine: str
    model: str
    finish_reason: FinishReason
    tool_calls: list[dict[str, Any]] = Field(
        default_factory=list, description="tool calls the model made (OpenAI format), if any")
    trace_id: str | None = Field(
        default=None, description="id of the trace record, once the switch has recorded it")
