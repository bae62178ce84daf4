"""Graceful degradation under a deadline: thinking that would not fit is switched off.

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
import threading

from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.errors import UsageError

#: Tokens per second assumed before anything was measured (on purpose slow).
PRIOR_TOKENS_PER_S = 20.0
#: Weight of the newest observation in the running mean.
ALPHA = 0.3
#: Results with fewer generated tokens say too little about the speed.
MIN_TOKENS = 4
HEADER = "x-thinkswitch-deadline"


class DecodeSpeed:
    """The running decode speed of one engine (thread-safe)."""

    def __init__(
        self, prior_tokens_per_s: float = PRIOR_TOKENS_PER_S, alpha: float = ALPHA
    ) -> None:
        self._tokens_per_s = prior_tokens_per_s
        self._alpha = alpha
        self._lock = threading.Lock()
        self.observations = 0

    @property
    def tokens_per_s(self) -> float:
        return self._tokens_per_s

    def observe(self, tokens: int, seconds: float) -> None:
        """`tokens` decoded in `seconds`; the first observation replaces the prior."""
        if tokens < MIN_TOKENS or seconds <= 0:
            return
        speed = tokens / seconds
        with self._lock:
            if self.observations == 0:
                self._tokens_per_s = speed
            else:
                self._tokens_per_s += self._alpha * (speed - self._tokens_per_s)
            self.observations += 1


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
