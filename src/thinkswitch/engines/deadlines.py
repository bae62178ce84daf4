"""First-token and total deadlines of one upstream streaming call.

httpx has connect and read timeouts, and a read timeout bounds one read only: a server that
trickles a chunk every few seconds, or that sends its headers at once and then stalls before
the first token, is not caught by it. So:

- until the response headers arrive, reads are capped at the smallest of the read,
  first-token and total timeouts (httpx's own timeout);
- once they are in, body reads get the plain read timeout back (httpcore reads the
  request's timeout mapping when the body starts), and the `Watchdog` holds the first-token
  and total deadlines: when one passes, it shuts the socket down, which wakes the blocked read
  at once, and the call fails with a message that names the deadline;
- each chunk also checks the clock, for transports without a socket (tests).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Literal

import httpx

from thinkswitch.engines.pool import Clock, Watchdog, WatchdogTimer
from thinkswitch.kernel.errors import EngineUnavailableError

Expiry = Literal["first", "total"]


class StreamGuard:
    """The deadlines of one call to `url`, counted from construction."""

    def __init__(
        self,
        watchdog: Watchdog,
        url: str,
        *,
        read_s: float,
        first_token_s: float,
        total_s: float,
        clock: Clock = time.monotonic,
    ) -> None:
        self.url = url
        self.read_s = read_s
        self.first_token_s = first_token_s
        self.total_s = total_s
        self._watchdog = watchdog
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()
        self._fired: Expiry | None = None
        self._first_seen = False
        self._done = False
        self._socket: socket.socket | None = None
        self._first_timer: WatchdogTimer | None = None
        self._total_timer: WatchdogTimer | None = None

    def timeout(self, base: httpx.Timeout) -> httpx.Timeout:
        """The timeouts to send the request with (see the module docstring)."""
        read = min(self.read_s, self.first_token_s, self.total_s)
        return httpx.Timeout(connect=base.connect, read=read, write=base.write, pool=base.pool)

    def attach(self, response: httpx.Response) -> None:
        """The headers are in: give body reads the read timeout and arm the watchdog."""
        timeouts = response.request.extensions.get("timeout")
        if isinstance(timeouts, dict):
            timeouts["read"] = self.read_s
        stream = response.extensions.get("network_stream")
        found = stream.get_extra_info("socket") if stream is not None else None
        self._socket = found if isinstance(found, socket.socket) else None
        elapsed = self._clock() - self._started
        self._first_timer = self._watchdog.arm(
            self.first_token_s - elapsed, lambda: self._expire("first")
        )
        self._total_timer = self._watchdog.arm(
            self.total_s - elapsed, lambda: self._expire("total")
        )

    def chunk(self, has_token: bool) -> None:
        """A chunk arrived; raises if a deadline has passed. A token disarms the first-token
        deadline."""
        error = self.expired()
        if error is not None:
            raise error
        if has_token and not self._first_seen:
            with self._lock:
                self._first_seen = True
            if self._first_timer is not None:
                self._watchdog.cancel(self._first_timer)

    def expired(self) -> EngineUnavailableError | None:
        """The error for a deadline that has passed, if one has."""
        kind = self._fired
        if kind is None:
            elapsed = self._clock() - self._started
            if elapsed >= self.total_s:
                kind = "total"
            elif not self._first_seen and elapsed >= self.first_token_s:
                kind = "first"
        if kind == "first":
            return EngineUnavailableError(
                f"{self.url} sent no token within the first-token timeout of "
                f"{self.first_token_s:g} s"
            )
        if kind == "total":
            return EngineUnavailableError(
                f"{self.url} did not finish within the total timeout of {self.total_s:g} s"
            )
        return None

    def close(self) -> None:
        """Disarm; from now on the watchdog leaves the socket alone (it may be pooled)."""
        with self._lock:
            self._done = True
        for timer in (self._first_timer, self._total_timer):
            if timer is not None:
                self._watchdog.cancel(timer)

    def _expire(self, kind: Expiry) -> None:
        # The shutdown happens under the lock: once `close` has run, the socket may be back in
        # the connection pool serving another request, and must not be touched.
        with self._lock:
            if self._done or (kind == "first" and self._first_seen):
                return
            self._fired = kind
            if self._socket is not None:
                with contextlib.suppress(OSError):  # already closed
                    self._socket.shutdown(socket.SHUT_RDWR)
