"""What an engine is asked to do: the resolved thinking plan and the generation request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from thinkswitch.kernel.decision import Mode
from thinkswitch.kernel.messages import ChatMessage


@dataclass(frozen=True, slots=True)
class ThinkingPlan:
    """Off or on, and the limits that go with it (already validated by the switch)."""

    mode: Mode
    budget: int | None = None
    min_thinking: int = 0
    answer_max_tokens: int = 512


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    messages: tuple[ChatMessage, ...]
    plan: ThinkingPlan
    temperature: float = 0.6
    seed: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    """Parameters passed through to the engine unchanged (see `Engine.passthrough`)."""
    logprobs: bool = False
    """Yield a `TokenLogprobs` event, if the engine can measure them (see engines.base)."""
