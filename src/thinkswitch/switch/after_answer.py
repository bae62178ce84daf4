"""After-answer steps: work on a request once its `Result` was recorded and handed over.

Shadow evaluation plugs in here (run the other side, judge the pair, record it), and so can
anything else that must see a finished request without delaying its answer. A step receives
the request, the decision and the recorded `Result` (with its `trace_id`). The switch runs the
steps in order in the request's own thread, after the `Result` was yielded and the caller
asked for more (a face that iterates the stream to its end, or `Switch.run`); a step with slow
work should hand it off (a thread pool, a queue) and return. A step that raises is logged and
does not fail the request: its answer is already delivered. The list is empty by default:
`Switch(parts, after_answer=[step, ...])`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.request import Request
from thinkswitch.kernel.result import Result

log = logging.getLogger(__name__)


class AfterAnswer(Protocol):
    """One after-answer step."""

    name: str

    def __call__(self, request: Request, decision: Decision, result: Result) -> None:
        """Act on the finished request (quickly: hand slow work off)."""


def run_after_answer(steps: Sequence[AfterAnswer], request: Request, result: Result) -> None:
    """Each step in order; a failing one is logged and the others still run."""
    for step in steps:
        try:
            step(request, result.decision, result)
        except Exception:
            log.exception("after-answer step %r failed for trace %s", step.name,
                          result.trace_id)
