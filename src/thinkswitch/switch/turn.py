"""One request on its way through the pipeline, and the shape of a step.

A step reads and updates the `Turn` and yields what the caller should see (most yield
nothing). The pipeline yields the `Result` once every step ran, then runs the after-answer
steps.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.events import EngineEvent, SwitchEvent
from thinkswitch.kernel.plan import GenerationRequest
from thinkswitch.kernel.request import Request
from thinkswitch.kernel.result import Result, Usage
from thinkswitch.switch.parts import SwitchParts


@dataclass
class Streamed:
    """What the caller has been sent so far: enough to record, with its tokens and cost, a
    request whose caller went away before the end (those tokens were generated and sent)."""

    thinking: list[str] = field(default_factory=list)
    answer: list[str] = field(default_factory=list)
    thinking_deltas: int = 0
    answer_deltas: int = 0


@dataclass
class Turn:
    """What the steps know of one request so far."""

    request: Request
    caller: str
    started: float
    #: The thinking cap (the caller's or the default), set by `decide`.
    budget: int = 0
    decision: Decision | None = None
    #: What the engine is asked; set (and checked) by the step that builds it.
    generation: GenerationRequest | None = None
    #: Engine events already produced (a probe's buffered fast answer) to answer from instead
    #: of running the engine again.
    replay: list[EngineEvent] | None = None
    #: What earlier engine calls of this request cost (the probe's fast attempts).
    spent: Usage = field(default_factory=Usage)
    #: The deltas the generate step has streamed (for a request stopped before its end).
    streamed: Streamed = field(default_factory=Streamed)
    result: Result | None = None

    def decided(self) -> Decision:
        """The decision; a step that needs it runs after `decide`."""
        if self.decision is None:
            raise RuntimeError("a step ran before the decision was made")  # a pipeline bug
        return self.decision


class Step(Protocol):
    """One unit of the request path (see `thinkswitch.switch.pipeline.STEPS`)."""

    name: str

    def run(self, turn: Turn, parts: SwitchParts) -> Iterator[SwitchEvent]:
        """Do this step's part of `turn`, yielding what the caller should see."""
