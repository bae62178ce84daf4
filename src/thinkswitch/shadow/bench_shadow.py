"""Shadow evaluation during `thinkswitch bench`: pairs graded by the suite's checker.

A bench run has no users to protect, so its shadow runner sees a capacity that is always free,
and the bench waits for each drawn request's shadow run before asking the next item: every
drawn auto request gets its pair, in order, and no two runs share the engine. Both sides of a
pair on a bench item are graded by the suite's checker (the reference answer, or the tests of
a code item, in the sandbox), so the pair carries correctness with `correctness_source="bench"`
and trains `triage train --from-traces` like any other labelled pair.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thinkswitch.bench.gradebook import GradeBook
from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.result import Result
from thinkswitch.shadow.runner import ShadowOptions, ShadowRunner

if TYPE_CHECKING:
    from thinkswitch.kernel.request import Request
    from thinkswitch.switch.pipeline import Switch

#: Seconds the bench waits for one shadow run before it asks the next item anyway.
WAIT_S = 600.0


class FreeCapacity:
    """The admission gate of a run with no users: always room."""

    capacity = 1
    inside = 0
    entered = 0


class BenchShadow:
    """The after-answer step `bench --shadow-rate` adds: shadow, then wait for the pair."""

    name = "bench shadow evaluation"

    def __init__(self, switch: Switch, rate: float, seed: int, grades: GradeBook) -> None:
        self.runner = ShadowRunner(switch, FreeCapacity(),
                                   ShadowOptions(rate=rate, seed=seed, tokens_per_minute=10**9),
                                   grades=grades)
        switch.after_answer = (*switch.after_answer, self)

    def __call__(self, request: Request, decision: Decision, result: Result) -> None:
        self.runner(request, decision, result)
        self.runner.wait_idle(WAIT_S)

    def close(self) -> None:
        self.runner.close()
