"""The switch: one call that turns a request into a `Result`, through the declared steps.

`Switch.stream` runs `STEPS` in order over one `Turn` — decide (off, on under a budget, or
auto through a triage policy), degrade (a deadline), probe-first (for a policy that declares
it), generate (the engine with the dialect's thinking control), record — and yields the
`Decision`, then thinking and answer deltas as they come, then the finished `Result`; then it
runs the after-answer steps. `Switch.run` is the same without the deltas. Adding a step is one
module with a `run(turn, parts)` and its place in `STEPS`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.errors import EngineUnavailableError, ThinkswitchError
from thinkswitch.kernel.events import SwitchEvent
from thinkswitch.kernel.request import Request
from thinkswitch.kernel.result import Result
from thinkswitch.switch.after_answer import AfterAnswer, run_after_answer
from thinkswitch.switch.decide import Decide, decision_for
from thinkswitch.switch.degrade import Degrade, degrade
from thinkswitch.switch.generate import Generate
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.probe import ProbeFirstStep
from thinkswitch.switch.record import Record, record_failure, record_stopped
from thinkswitch.switch.turn import Step, Turn

#: A request's path, in order.
STEPS: tuple[Step, ...] = (Decide(), Degrade(), ProbeFirstStep(), Generate(), Record())


class Switch(SwitchParts):
    """The parts (engine, dialect, policy, settings, recorder) and the pipeline over them.

    Built from its parts, `Switch(SwitchParts(engine, dialect, policy, settings, recorder),
    after_answer=[...])`, whose state it takes over (`SwitchParts` checks and holds it; the
    steps receive the switch as those parts)."""

    def __init__(self, parts: SwitchParts, after_answer: Sequence[AfterAnswer] = ()) -> None:
        # the same engine, dialect, policy (built or not), settings, recorder and speed
        vars(self).update(vars(parts))
        self.steps = STEPS
        self.after_answer = tuple(after_answer)

    def decide(self, request: Request) -> Decision:
        """The decision for `request`, with thinking off when it would miss the deadline
        (for a probe-first policy: the provisional one, before its fast attempt)."""
        decision = decision_for(request, self.budget_for(request), self)
        return degrade(decision, request.deadline_s, self.speed)

    def stream(self, request: Request, caller: str = "") -> Iterator[SwitchEvent]:
        """Decision, deltas, then the `Result`, which is recorded before it is yielded.

        An engine failure after the decision is recorded with its error, then raised; a
        stream closed before its `Result` is recorded as stopped by the caller."""
        turn = Turn(request, caller, time.perf_counter())
        try:
            for step in self.steps:
                yield from step.run(turn, self)
            if turn.result is None:
                raise EngineUnavailableError("the switch produced no result")  # a pipeline bug
            yield turn.result
        except ThinkswitchError as error:
            record_failure(turn, self, str(error))
            raise
        except Exception as error:  # a bug: still leave a trace of the request
            record_failure(turn, self, f"internal error: {type(error).__name__}: {error}")
            raise
        except GeneratorExit:
            # The consumer stopped early (a client's Stop, a dropped connection): an audit
            # trail must show the request was made and not finished, and what it had been
            # sent and cost. (`yield from` has closed the step, so the engine is stopped.)
            if turn.result is None:
                record_stopped(turn, self)
            raise
        run_after_answer(self.after_answer, request, turn.result)

    def run(self, request: Request, caller: str = "") -> Result:
        """The `Result` of `request` (the stream, read to its end)."""
        result: Result | None = None
        for event in self.stream(request, caller):
            if isinstance(event, Result):
                result = event
        if result is None:
            raise EngineUnavailableError("the switch produced no result")  # pragma: no cover
        return result
