"""The triage policy interface: messages in, a `Decision` out (always with a reason)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.errors import UsageError
from thinkswitch.kernel.messages import ChatMessage


def rate_quantile(values: Sequence[float], think_rate: float, *, thinks_below: bool,
                  what: str) -> float:
    """The threshold at which a share `think_rate` of `values` thinks: those at or above it
    (scores), or below it when `thinks_below` (confidences). A quantile, as RouteLLM does."""
    if not 0.0 < think_rate < 1.0:
        raise UsageError(f"think-rate must be strictly between 0 and 1, got {think_rate}")
    if not values:
        raise UsageError(f"no {what} to calibrate on")
    ordered = sorted(float(value) for value in values)
    share = think_rate if thinks_below else 1.0 - think_rate
    return ordered[min(max(round(share * len(ordered)), 0), len(ordered) - 1)]


class TriagePolicy(ABC):
    """Decides off/on and the budget for a request in `auto` mode."""

    name: ClassVar[str]

    @abstractmethod
    def decide(self, messages: tuple[ChatMessage, ...], budget: int) -> Decision:
        """Decide for the last user turn; `budget` is the cap to use when thinking."""
