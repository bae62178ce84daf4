"""The engine interface: one method, `execute`, that yields events.

An engine receives a `GenerationRequest` (messages, the thinking plan) and a `Dialect`, and
yields `ThinkingDelta` / `AnswerDelta` text as it is produced, then one `UsageReport` and one
`Finish` (the kernel's events, `thinkswitch.kernel.events`). It enforces the budget by
plugging into `thinking.forcing` (a `ForcingHost`), which decides where to cut, wait or close;
only the engine can stop and continue its own generation.

One optional capability: asked with `GenerationRequest.logprobs`, an engine that can measure
them yields one `TokenLogprobs` (the log-probability of each token it generated) before its
`UsageReport`. Engines that cannot simply do not yield it; the caller falls back to something
else (the cascade policy compares two samples instead).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import ClassVar

from thinkswitch.kernel.events import EngineEvent, UsageReport
from thinkswitch.kernel.plan import GenerationRequest
from thinkswitch.thinking.dialects import Dialect


class Engine(ABC):
    """A model backend. Subclasses set `name` and `default_dialect` and implement `execute`."""

    name: ClassVar[str]
    default_dialect: ClassVar[str] = "prompted"
    #: Request parameters the switch does not own that this engine honours (`tools`, `stop`,
    #: ...), passed in `GenerationRequest.options`. Any other is refused, never ignored.
    passthrough: ClassVar[frozenset[str]] = frozenset()
    #: True when the engine generates for one request at a time (a model lock): work that no
    #: user waits for (shadow runs) then stops as soon as a user request arrives.
    exclusive: ClassVar[bool] = False

    @property
    @abstractmethod
    def model(self) -> str:
        """The model this engine serves, as shown to users."""

    @abstractmethod
    def execute(self, request: GenerationRequest, dialect: Dialect) -> Iterator[EngineEvent]:
        """Generate one answer, yielding deltas, then a `UsageReport` and a `Finish`."""

    def validate(self, request: GenerationRequest, dialect: Dialect) -> None:  # noqa: B027
        """Raise a `UsageError` for a request this engine cannot serve, before any output."""

    def usage_so_far(self, request: GenerationRequest, dialect: Dialect, thinking: str,
                     answer: str) -> UsageReport | None:
        """The tokens of a generation stopped before its end (its caller went away), counted
        with this engine's tokenizer; None when it has none (the switch then counts the
        deltas it streamed)."""
        return None

    def supports(self, dialect: Dialect) -> bool:
        """Whether this engine can drive `dialect`."""
        return True

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release resources (connections, model memory)."""
