"""The decode speed an engine showed on earlier requests: what the deadline step estimates
thinking time from (see `thinkswitch.switch.degrade`)."""

from __future__ import annotations

import threading

#: Tokens per second assumed before anything was measured (on purpose slow).
PRIOR_TOKENS_PER_S = 20.0
#: Weight of the newest observation in the running mean.
ALPHA = 0.3
#: Results with fewer generated tokens say too little about the speed.
MIN_TOKENS = 4


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
