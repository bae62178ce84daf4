"""What the switch decided for one request: off or on, the budget, who decided and why."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Mode = Literal["off", "on"]
RequestedMode = Literal["off", "on", "auto"]


class Decision(BaseModel):
    """What the switch decided for one request, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    requested: RequestedMode
    mode: Mode
    budget: int | None = Field(description="thinking-token cap; None when mode is off")
    policy: str = Field(description="who decided: 'user' for off/on, a policy name for auto")
    score: float | None = Field(default=None, description="policy score in [0, 1], if any")
    reason: str
