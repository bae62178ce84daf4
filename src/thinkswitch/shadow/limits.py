"""What keeps shadow work from costing users anything: free capacity and a token cap.

A shadow run starts only when the server has a free admission slot, no other shadow run is
going (`slots`), and the shadow token cap for the last minute has room for the run's worst case
(its budget plus its answer cap). Anything else drops the run: it is counted, never queued.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

WINDOW_S = 60.0


class Capacity(Protocol):
    """The server's admission gate as the shadow runner sees it."""

    @property
    def capacity(self) -> int: ...

    @property
    def inside(self) -> int: ...

    @property
    def entered(self) -> int:
        """How many requests were ever admitted (to see that one arrived since)."""


class TokenWindow:
    """At most `per_minute` shadow tokens in any 60 s: a run reserves its worst case before it
    starts and settles to what it really spent when it ends."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._spent: deque[list[float]] = deque()
        self._lock = threading.Lock()

    def _used(self, now: float) -> float:
        while self._spent and self._spent[0][0] <= now - WINDOW_S:
            self._spent.popleft()
        return sum(entry[1] for entry in self._spent)

    def reserve(self, tokens: int) -> list[float] | None:
        """A reservation of `tokens`, or None when the cap has no room for them."""
        with self._lock:
            now = self._clock()
            if self._used(now) + tokens > self.per_minute:
                return None
            entry = [now, float(tokens)]
            self._spent.append(entry)
            return entry

    def settle(self, reservation: list[float], tokens: int) -> None:
        """Replace a reservation's worst case by the tokens really spent."""
        with self._lock:
            reservation[1] = float(tokens)
