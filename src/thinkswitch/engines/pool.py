"""Replicas of one model behind the `openai` engine.

- Picking: least outstanding requests among the usable replicas; ties go round-robin, so an
  idle pool still spreads its requests.
- Circuit breaker per replica: `closed` (in service) until `breaker_failures` consecutive
  failures open it (out); after `breaker_cooldown_s` it is `half_open`: one trial request
  may go through, and its outcome closes or reopens the circuit. `acquire` hands out a
  `Lease` that says whether it is the trial, so only the trial's outcome decides (a request
  that started before the circuit opened cannot close it), and a call abandoned by its client
  (`judged=False`) decides nothing. A 4xx other than 429 is the request's fault and counts as
  a success.
- Health check: a daemon thread, started on first use of a pool of several replicas (or when
  a replica first goes out), never at import, probes every replica each `health_interval_s`
  (`probe(url)`, `GET {url}/models` in the engine): `breaker_failures` failed probes in a row
  take a replica out (one slow probe under load does not); a good probe brings an out
  replica back half-open, without waiting for the cooldown (a server can list its models and
  still fail every generation, so the trial request, not the probe, closes the circuit).
- `Watchdog`: one daemon thread that runs a callback at a deadline. The engine uses it to
  shut down the socket of a stream that missed its first-token or total deadline, which
  wakes the blocked read at once (an httpx read timeout only bounds one read).

All state changes happen under one lock; probes and callbacks run outside it.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Literal

from thinkswitch.kernel.errors import EngineUnavailableError, UsageError

BreakerState = Literal["closed", "open", "half_open"]
Probe = Callable[[str], bool]
Clock = Callable[[], float]


def split_urls(base_url: str) -> list[str]:
    """The replica URLs of a `base_url` setting (one URL or a comma-separated list)."""
    urls = [url.strip().rstrip("/") for url in base_url.split(",") if url.strip()]
    if not urls:
        raise UsageError("base_url names no server")
    repeated = first_repeated(urls)
    if repeated:
        raise UsageError(f"base_url lists {repeated} more than once")
    return urls


def first_repeated(urls: list[str]) -> str | None:
    """The first (in sorted order) URL listed more than once, trailing slashes aside."""
    stripped = [url.rstrip("/") for url in urls]
    return min((url for url in stripped if stripped.count(url) > 1), default=None)


@dataclass
class Replica:
    """One upstream server and what the pool knows about it."""

    url: str
    outstanding: int = 0
    failures: int = 0  # consecutive
    state: BreakerState = "closed"
    opened_at: float = 0.0
    trial: bool = False  # a half-open trial request is in flight
    served: int = 0
    last_error: str = ""
    failed_probes: int = 0  # consecutive


@dataclass(frozen=True)
class Lease:
    """One call's hold on a replica; `trial` when it is the half-open circuit's trial."""

    replica: Replica
    trial: bool = False

    @property
    def url(self) -> str:
        return self.replica.url


@dataclass
class Route:
    """One request's way through the pool: the replicas whose fault failed a call."""

    tried: set[str] = field(default_factory=set)
    faulted: bool = False  # the last failed call failed through its replica's fault

    def fault(self, url: str) -> None:
        self.tried.add(url)
        self.faulted = True


class ReplicaPool:
    """Least-outstanding picking, a circuit breaker per replica and a health checker."""

    def __init__(
        self,
        urls: Collection[str],
        *,
        breaker_failures: int = 3,
        breaker_cooldown_s: float = 10.0,
        health_interval_s: float = 5.0,
        probe: Probe | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        if not urls:
            raise UsageError("a replica pool needs at least one URL")
        self.replicas = [Replica(url) for url in urls]
        self.breaker_failures = breaker_failures
        self.breaker_cooldown_s = breaker_cooldown_s
        self.health_interval_s = health_interval_s
        self._probe = probe
        self._clock = clock
        self._lock = threading.Lock()
        self._next = 0
        self._stop = threading.Event()
        self._checker: threading.Thread | None = None

    @property
    def urls(self) -> list[str]:
        return [replica.url for replica in self.replicas]

    def acquire(self, avoid: Collection[str] = ()) -> Lease:
        """Reserve the least busy usable replica not in `avoid`; the caller must `release` the
        lease."""
        with self._lock:
            now = self._clock()
            count = len(self.replicas)
            order = [self.replicas[(self._next + i) % count] for i in range(count)]
            usable = [r for r in order if r.url not in avoid and self._usable(r, now)]
            if not usable:
                raise EngineUnavailableError(self._nothing_usable(avoid, now))
            chosen = min(usable, key=lambda replica: replica.outstanding)
            trial = chosen.state != "closed"
            if trial:
                chosen.state, chosen.trial = "half_open", True
            chosen.outstanding += 1
            self._next = (self.replicas.index(chosen) + 1) % count
        if count > 1:
            self._start_checker()
        return Lease(chosen, trial)

    def release(self, lease: Lease, fault: str | None = None, *, judged: bool = True) -> None:
        """End of a call: `fault` is None when the replica did its job (even if the request
        was refused as invalid), else what went wrong; `judged=False` when the call was
        abandoned before it could tell (the client went away)."""
        opened = False
        replica, trial = lease.replica, lease.trial
        with self._lock:
            replica.outstanding = max(0, replica.outstanding - 1)
            if trial:
                replica.trial = False
            if judged and fault is None:
                replica.served += 1
                if trial or replica.state == "closed":
                    replica.failures, replica.state = 0, "closed"
            elif judged and fault is not None:
                replica.failures += 1
                replica.last_error = fault
                if trial or replica.failures >= self.breaker_failures:
                    opened = True
                    replica.state, replica.opened_at = "open", self._clock()
        if opened:
            self._start_checker()

    def usable(self, avoid: Collection[str] = ()) -> bool:
        """Whether `acquire(avoid)` would find a replica now."""
        with self._lock:
            now = self._clock()
            return any(r.url not in avoid and self._usable(r, now) for r in self.replicas)

    def check_now(self) -> None:
        """One round of health checks (the checker thread calls it every interval)."""
        if self._probe is None:
            return
        for replica in list(self.replicas):
            healthy = self._safe_probe(replica.url)
            with self._lock:
                replica.failed_probes = 0 if healthy else replica.failed_probes + 1
                if healthy and replica.state == "open":
                    replica.state = "half_open"
                elif (replica.state == "closed"
                      and replica.failed_probes >= self.breaker_failures):
                    replica.state, replica.opened_at = "open", self._clock()
                    replica.last_error = "health check failed"

    def close(self) -> None:
        """Stop the health checker (idempotent)."""
        self._stop.set()
        checker = self._checker
        if checker is not None and checker is not threading.current_thread():
            checker.join(timeout=2.0)

    def _usable(self, replica: Replica, now: float) -> bool:
        if replica.state == "closed":
            return True
        if replica.trial:
            return False
        return replica.state == "half_open" or now - replica.opened_at >= self.breaker_cooldown_s

    def _nothing_usable(self, avoid: Collection[str], now: float) -> str:
        parts = []
        for replica in self.replicas:
            if replica.url in avoid:
                parts.append(f"{replica.url} (failed this request)")
            elif replica.trial:
                parts.append(f"{replica.url} (trial request in flight)")
            else:
                wait = self.breaker_cooldown_s - (now - replica.opened_at)
                why = replica.last_error or "out"
                parts.append(f"{replica.url} (out for {max(wait, 0.0):.1f} s more: {why})")
        return "no upstream replica is available: " + "; ".join(parts)

    def _safe_probe(self, url: str) -> bool:
        assert self._probe is not None
        try:
            return self._probe(url)
        except Exception:  # a probe that breaks counts as a failed check
            return False

    def _start_checker(self) -> None:
        if self._probe is None or self._stop.is_set():
            return
        with self._lock:
            if self._checker is not None:
                return
            self._checker = threading.Thread(
                target=self._check_forever, name="thinkswitch-health", daemon=True
            )
        self._checker.start()

    def _check_forever(self) -> None:
        while not self._stop.wait(self.health_interval_s):
            self.check_now()


@dataclass(order=True)
class WatchdogTimer:
    at: float
    seq: int
    action: Callable[[], None] = field(compare=False)
    done: bool = field(default=False, compare=False)  # cancelled, or its action ran


def _nothing() -> None:
    """The action of a cancelled timer."""


#: A watchdog thread with nothing to watch for this long ends (an idle engine keeps none).
WATCHDOG_IDLE_S = 30.0


class Watchdog:
    """Runs callbacks at deadlines on one daemon thread, started on `arm` when none runs.

    Every streamed call arms and cancels timers, so both are cheap: the thread is woken only
    when a new timer is due before all the others, and a cancelled timer lets go of its action
    at once but leaves the heap lazily (skipped when due; the heap is rebuilt without the
    cancelled ones once they are half of it)."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._heap: list[WatchdogTimer] = []
        self._seq = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._cancelled = 0  # cancelled timers still in the heap

    def arm(self, delay_s: float, action: Callable[[], None]) -> WatchdogTimer:
        """Run `action` in `delay_s` seconds unless the returned timer is cancelled first."""
        timer = WatchdogTimer(self._clock() + delay_s, next(self._seq), action)
        with self._wake:
            heapq.heappush(self._heap, timer)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="thinkswitch-watchdog", daemon=True
                )
                self._thread.start()
            elif self._heap[0] is timer:  # due first: the thread waits for a later one
                self._wake.notify()
        return timer

    def cancel(self, timer: WatchdogTimer) -> None:
        """Drop `timer` now (not at its deadline), so what its action holds is freed."""
        with self._wake:
            if timer.done:
                return
            timer.done = True
            timer.action = _nothing
            self._cancelled += 1
            if self._cancelled * 2 >= len(self._heap):
                self._heap = [live for live in self._heap if not live.done]
                heapq.heapify(self._heap)
                self._cancelled = 0

    def close(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopped and (
                    not self._heap or self._heap[0].at > self._clock()
                ):
                    if self._heap:
                        self._wake.wait(self._heap[0].at - self._clock())
                    elif not self._wake.wait(WATCHDOG_IDLE_S) and not self._heap:
                        self._thread = None  # idle: the next `arm` starts a new thread
                        return
                if self._stopped:
                    return
                timer = heapq.heappop(self._heap)
                if timer.done:
                    self._cancelled -= 1
                    continue
                timer.done = True
            try:
                timer.action()
            except Exception:  # an action must never kill the watchdog
                continue
