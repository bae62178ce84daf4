"""Step 2, degrade: under a deadline, thinking that would not fit is switched off.

A request may carry a deadline (seconds). Thinking up to a budget of B tokens takes about
B / (decode speed) seconds, so when that exceeds the deadline the switch answers without
thinking and says so, with the numbers, in the decision's reason. The decode speed is an
exponentially weighted mean of what the engine showed on earlier requests of the same switch
(tokens after the first one over the time after the first one, so the prompt's prefill does not
count); before any observation a slow prior is assumed, which errs on the side of answering in
time.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.errors import UsageError
from thinkswitch.kernel.events import SwitchEvent
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.speed import DecodeSpeed
from thinkswitch.switch.turn import Turn

HEADER = "x-thinkswitch-deadline"


def _seconds(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def degrade(decision: Decision, deadline_s: float | None, speed: DecodeSpeed) -> Decision:
    """`decision`, or thinking off when its budget would not fit in `deadline_s`."""
    if deadline_s is None or decision.mode != "on" or decision.budget is None:
        return decision
    rate = speed.tokens_per_s
    needed = decision.budget / rate
    if needed <= deadline_s:
        return decision
    reason = (
        f"deadline {deadline_s:g} s: thinking up to {decision.budget} tokens would take "
        f"~{_seconds(needed)} s at ~{rate:.0f} tok/s; answering without thinking "
        f"(instead of: {decision.reason})"
    )
    return decision.model_copy(update={"mode": "off", "budget": None, "reason": reason})


class Degrade:
    name = "degrade"

    def run(self, turn: Turn, parts: SwitchParts) -> Iterator[SwitchEvent]:
        turn.decision = degrade(turn.decided(), turn.request.deadline_s, parts.speed)
        yield from ()


def earliest(*deadlines: float | None) -> float | None:
    """The strictest of the deadlines given (None when none is)."""
    given = [deadline for deadline in deadlines if deadline is not None]
    return min(given) if given else None


def parse_deadline(value: str | None) -> float | None:
    """The deadline header's value in seconds; None when absent."""
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise UsageError(f"invalid {HEADER} header: {value!r} is not a number of seconds") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise UsageError(f"invalid {HEADER} header: {value!r} must be a positive number of seconds")
    return seconds
