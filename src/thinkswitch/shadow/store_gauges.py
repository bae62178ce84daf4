"""The `/metrics` estimates of what auto costs, from the trace store rather than this process.

Every process behind one store (a restarted server, several replicas on PostgreSQL) reports the
same estimates, because they come from the store's pairs (with their requests' ratings joined
in, `thinkswitch.shadow.pair_labels`), not from the pairs one process happened to record.

Kept cheap: the estimates are recomputed at most every `refresh_s` seconds (a scrape in between
gets the cached lines), and each recomputation reads only what is new since the last one (pairs
and ratings from the last read's newest timestamp on, less `SLACK_S` for records chained a
moment after they were stamped, deduplicated by id), over the newest `KEPT_PAIRS` pairs.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from thinkswitch.kernel.pairs import ShadowPair
from thinkswitch.outcomes.estimate import Estimate, accuracy, disagreement
from thinkswitch.shadow.pair_labels import answer_ratings, join_ratings
from thinkswitch.trace.store import TraceStore

KEPT_PAIRS = 10_000
#: Ratings kept for pairs not yet read (a rating normally follows its pair).
KEPT_RATINGS = 4 * KEPT_PAIRS
#: Seconds a record may be chained after the time it carries (a pair is stamped when its run
#: ends, then written): each read starts this far before the newest time already read.
SLACK_S = 60.0


def gauge_lines(pairs: Sequence[ShadowPair]) -> list[str]:
    """The estimate gauges of `thinkswitch triage report` over `pairs`, as exposition lines."""
    lines = ["# TYPE thinkswitch_shadow_pairs gauge", f"thinkswitch_shadow_pairs {len(pairs)}"]
    estimates = accuracy(pairs)
    if estimates is not None:
        lines += ["# TYPE thinkswitch_auto_labelled_pairs gauge",
                  f"thinkswitch_auto_labelled_pairs {estimates.loss.n}",
                  "# TYPE thinkswitch_auto_estimated_accuracy gauge"]
        for name, estimate in (("auto", estimates.auto), ("always", estimates.always),
                               ("never", estimates.never)):
            lines += _gauge("thinkswitch_auto_estimated_accuracy", f'policy="{name}"', estimate)
        lines += ["# TYPE thinkswitch_auto_estimated_accuracy_loss gauge"]
        lines += _gauge("thinkswitch_auto_estimated_accuracy_loss", "", estimates.loss)
    rate = disagreement(pairs)
    if rate.n:
        lines += ["# TYPE thinkswitch_auto_direct_disagreement gauge"]
        lines += _gauge("thinkswitch_auto_direct_disagreement", "", rate)
    return lines


def _gauge(name: str, labels: str, estimate: Estimate) -> list[str]:
    """The estimate and its interval bounds as one gauge with a `bound` label."""
    lines = []
    for bound, value in (("estimate", estimate.value), ("low", estimate.low),
                         ("high", estimate.high)):
        if not math.isnan(value):
            joined = ",".join(filter(None, (labels, f'bound="{bound}"')))
            lines.append(f"{name}{{{joined}}} {value:.6f}")
    return lines


class StoreGauges:
    """The estimate gauges over a store's newest pairs, recomputed at most every `refresh_s`."""

    def __init__(self, store: TraceStore, refresh_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.refresh_s = refresh_s
        self._clock = clock
        self._pairs: dict[str, ShadowPair] = {}
        self._ratings: dict[str, dict[str, Any]] = {}
        self._pairs_until: float | None = None
        self._ratings_until: float | None = None
        self._computed_at: float | None = None
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self.recomputed = 0

    def lines(self) -> list[str]:
        """The cached lines, recomputed first when older than `refresh_s`."""
        with self._lock:
            now = self._clock()
            if self._computed_at is None or now - self._computed_at >= self.refresh_s:
                self._read_new()
                self._lines = gauge_lines(join_ratings(list(self._pairs.values()),
                                                       self._ratings))
                self._computed_at = now
                self.recomputed += 1
            return list(self._lines)

    def _read_new(self) -> None:
        since = None if self._pairs_until is None else self._pairs_until - SLACK_S
        for pair in self.store.shadow_pairs(since=since):
            self._pairs.pop(pair.id, None)
            self._pairs[pair.id] = pair
            self._pairs_until = max(self._pairs_until or pair.created_at, pair.created_at)
        for stale in list(self._pairs)[:max(0, len(self._pairs) - KEPT_PAIRS)]:
            del self._pairs[stale]
        started = time.time()
        since = None if self._ratings_until is None else self._ratings_until - SLACK_S
        for request_id, rating in answer_ratings(self.store, since).items():
            self._ratings.pop(request_id, None)
            self._ratings[request_id] = rating
        self._ratings_until = started
        for stale in list(self._ratings)[:max(0, len(self._ratings) - KEPT_RATINGS)]:
            del self._ratings[stale]
