"""Admission to the engine: a bounded number of requests at work and waiting, API keys, and
the counters `/metrics` exposes. One instance per app (no module-level state); several
worker processes share theirs through `worker_board`."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from thinkswitch.kernel.result import Result

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def latency_bucket(seconds: float) -> int:
    """The histogram bucket a request's total time falls in (the last: beyond them all)."""
    return next((i for i, b in enumerate(LATENCY_BUCKETS) if seconds <= b), len(LATENCY_BUCKETS))


class Admission:
    """At most `capacity` requests in the server at once (at work + queued); beyond it, 429."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._inside = 0
        self._entered = 0
        self._lock = threading.Lock()

    def try_enter(self) -> bool:
        with self._lock:
            if self._inside >= self.capacity:
                return False
            self._inside += 1
            self._entered += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self._inside = max(0, self._inside - 1)

    @property
    def inside(self) -> int:
        return self._inside

    @property
    def entered(self) -> int:
        """Requests admitted since the start (shadow runs see that a user arrived)."""
        return self._entered


#: What the caller-id secret is derived for, so it never equals the signing key itself.
CALLER_ID_CONTEXT = b"thinkswitch caller id v2"


def caller_id_secret(signing_key: bytes) -> bytes:
    """The secret caller ids are keyed with, derived from the server's signing key (share
    that key across replicas and they name callers alike)."""
    return hmac.new(signing_key, CALLER_ID_CONTEXT, hashlib.sha256).digest()


def legacy_caller_id(key: bytes) -> str:
    """How records written before keyed ids name a key: an unsalted hash prefix, which anyone
    with a copy of the database can test guesses against offline."""
    return "key-" + hashlib.sha256(key).hexdigest()[:12]


class ApiKeys:
    """Bearer or x-api-key tokens, compared in constant time. A caller is named by a key id,
    never by the key: HMAC-SHA256 of the key under a server secret, so a copy of the trace
    database does not let anyone test key guesses offline."""

    def __init__(self, keys: Sequence[str], secret: bytes) -> None:
        self._keys = [key.encode() for key in keys if key]
        self._secret = secret

    @property
    def required(self) -> bool:
        return bool(self._keys)

    def caller_id(self, key: bytes) -> str:
        return "key-" + hmac.new(self._secret, key, hashlib.sha256).hexdigest()[:20]

    def identify(self, presented: str | None) -> tuple[str, tuple[str, ...]] | None:
        """(key id, earlier ids of the same key) for a valid key; ('', ()) when no keys are
        configured; None when refused."""
        if not self._keys:
            return "", ()
        if not presented:
            return None
        candidate = presented.encode("utf-8", "replace")
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(candidate, key)
        if not matched:
            return None
        return self.caller_id(candidate), (legacy_caller_id(candidate),)


@dataclass
class Metrics:
    requests: Counter[str] = field(default_factory=Counter)
    tokens: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    latency: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    latency_sum: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, result: Result) -> None:
        with self._lock:
            self.requests[result.decision.mode] += 1
            self.tokens["thinking"] += result.usage.thinking_tokens
            self.tokens["answer"] += result.usage.answer_tokens
            self.tokens["prompt"] += result.usage.prompt_tokens
            total = result.timings.total_s
            self.latency_sum += total
            self.latency[latency_bucket(total)] += 1

    def error(self, kind: str) -> None:
        with self._lock:
            self.errors[kind] += 1

    def exposition(self, queue_depth: int) -> str:
        """Prometheus text format."""
        with self._lock:
            return exposition_text(self.requests, self.tokens, self.errors, self.latency,
                                   self.latency_sum, queue_depth)


def exposition_text(requests: Mapping[str, int], tokens: Mapping[str, int],
                    errors: Mapping[str, int], latency: Sequence[int], latency_sum: float,
                    queue_depth: int) -> str:
    """The request counters in Prometheus text format (one process's, or all workers')."""
    lines = ["# TYPE thinkswitch_requests_total counter"]
    lines += [f'thinkswitch_requests_total{{mode="{m}"}} {n}'
              for m, n in sorted(requests.items())]
    answered = sum(requests.values())
    thought = requests.get("on", 0)
    lines += ["# TYPE thinkswitch_think_rate gauge",
              f"thinkswitch_think_rate {thought / answered if answered else 0:.6f}",
              "# TYPE thinkswitch_tokens_total counter"]
    lines += [f'thinkswitch_tokens_total{{kind="{k}"}} {n}' for k, n in sorted(tokens.items())]
    lines += ["# TYPE thinkswitch_errors_total counter"]
    lines += [f'thinkswitch_errors_total{{kind="{k}"}} {n}' for k, n in sorted(errors.items())]
    lines += ["# TYPE thinkswitch_request_seconds histogram"]
    running = 0
    for bound, count in zip([*LATENCY_BUCKETS, "+Inf"], latency, strict=True):
        running += count
        lines.append(f'thinkswitch_request_seconds_bucket{{le="{bound}"}} {running}')
    lines += [f"thinkswitch_request_seconds_sum {latency_sum:.6f}",
              f"thinkswitch_request_seconds_count {running}",
              "# TYPE thinkswitch_queue_depth gauge",
              f"thinkswitch_queue_depth {queue_depth}"]
    return "\n".join(lines) + "\n"
