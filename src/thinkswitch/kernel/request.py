"""One request to the switch, and the budgets that `reasoning_effort` stands for."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from thinkswitch.kernel.decision import RequestedMode
from thinkswitch.kernel.errors import UsageError
from thinkswitch.kernel.messages import ChatMessage

#: Default thinking budgets per `reasoning_effort`; a config file's [budgets] replaces them.
EFFORT_BUDGETS: Mapping[str, int] = MappingProxyType({"low": 256, "medium": 1024, "high": 4096})


class Request(BaseModel):
    """One request to the switch. Options mirror `thinkswitch ask`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    messages: tuple[ChatMessage, ...] = Field(min_length=1)
    think: RequestedMode = Field("auto", description="off, on, or auto (triage decides)")
    budget: int | None = Field(None, ge=1, description="cap on thinking tokens")
    min_thinking: int = Field(0, ge=0, description="below it, an early end becomes 'Wait,'")
    answer_max_tokens: int | None = Field(None, ge=1, description="cap on answer tokens")
    output_cap: int | None = Field(
        None, ge=1, description="cap on thinking plus answer tokens (see "
        "thinkswitch.switch.output_cap); replaces answer_max_tokens when given")
    trace_id: str | None = Field(
        None, min_length=1, description="the id to record this request under, for faces that "
        "name their response before it is generated")
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    seed: int | None = None
    deadline_s: float | None = Field(
        None, gt=0, description="seconds the caller can wait: thinking that would not fit is "
        "switched off (see thinkswitch.switch.degrade); the answer itself is bounded by the "
        "engine's timeouts, not by this"
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="parameters the switch does not own (tools, stop, "
        "response_format, ...), passed to engines that honour them, refused by the others"
    )

    @classmethod
    def build(cls, question: str, **options: object) -> Request:
        """A single-question request; invalid options raise `UsageError`, not pydantic's."""
        try:
            return cls.model_validate(
                {"messages": [{"role": "user", "content": question}], **options}
            )
        except ValidationError as error:
            raise UsageError(_one_line(error)) from None


def _one_line(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "request"
    return f"invalid {where}: {first['msg']}"
