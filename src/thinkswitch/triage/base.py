"""The triage policy interface: messages in, a `Decision` out (always with a reason)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar, Protocol

from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.errors import UsageError
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.triage.confidence import Confidence, Source


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


class ProbeFirst(Protocol):
    """The probe-first capability: a policy that decides only after a fast attempt with
    thinking off. The switch's probe-first step runs the attempt (its `decide()` gave the
    provisional decision for it), measures the answer's confidence from `source`, and asks
    `after_probe()` for the decision."""

    source: Source

    def after_probe(self, confidence: Confidence, budget: int) -> Decision:
        """The decision once the fast attempt's confidence is known."""


class TriagePolicy(ABC):
    """Decides off/on and the budget for a request in `auto` mode."""

    name: ClassVar[str]

    @property
    def probes_first(self) -> ProbeFirst | None:
        """The probe-first capability, for a policy that declares it (None: it decides from the
        messages alone)."""
        return None

    @abstractmethod
    def decide(self, messages: tuple[ChatMessage, ...], budget: int) -> Decision:
        """Decide for the last user turn; `budget` is the cap to use when thinking (for a
        probe-first policy: the provisional decision its fast attempt runs under)."""


def decide_alone(policy: TriagePolicy, messages: tuple[ChatMessage, ...],
                 budget: int) -> Decision:
    """The policy's decision from the messages alone, with no engine (`triage explain`,
    replay tables, scores over a table); a probe-first policy cannot give one and says why."""
    if policy.probes_first is not None:
        raise UsageError(
            f"the {policy.name} policy decides after a fast attempt, so it needs a live engine "
            "through the switch (ask, serve, bench on live suites); it cannot score questions "
            "alone, and replay tables record no confidences to calibrate on: set the confidence "
            "threshold with --knob / THINKSWITCH_KNOB (bench/cascade.py prints live confidence "
            "quantiles)"
        )
    return policy.decide(messages, budget)
