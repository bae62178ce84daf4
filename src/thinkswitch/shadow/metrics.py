"""The shadow runner's counters and auto's estimated cost, in Prometheus text format.

Counters: requests drawn for shadowing, shadow runs recorded, runs dropped (by reason: no free
capacity, the token cap, another shadow run going), preempted and failed; shadow tokens (apart
from the callers' `thinkswitch_tokens_total`). Gauges: the estimates of `thinkswitch triage
report`, from the trace store's pairs when the server has one (`thinkswitch.shadow.store_gauges`:
every process behind the store reports the same), else over the pairs this process recorded
(the last `KEPT_PAIRS`).
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable

from thinkswitch.kernel.pairs import ShadowPair
from thinkswitch.shadow.store_gauges import KEPT_PAIRS, gauge_lines

DROP_REASONS = ("capacity", "tokens", "busy")


class ShadowMetrics:
    def __init__(self, gauges: Callable[[], list[str]] | None = None) -> None:
        #: Where the estimate gauges come from (`StoreGauges.lines`: the trace store's pairs);
        #: None: the pairs this process recorded.
        self.gauges = gauges
        self.counts: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter({reason: 0 for reason in DROP_REASONS})
        self.tokens: Counter[str] = Counter()
        self.pairs: deque[ShadowPair] = deque(maxlen=KEPT_PAIRS)
        self._lock = threading.Lock()

    def count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    def drop(self, reason: str) -> None:
        with self._lock:
            self.dropped[reason] += 1

    def recorded(self, pair: ShadowPair) -> None:
        with self._lock:
            self.counts["recorded"] += 1
            self.tokens["thinking"] += pair.shadow.thinking_tokens
            self.tokens["answer"] += pair.shadow.answer_tokens
            self.tokens["prompt"] += pair.shadow.prompt_tokens
            self.tokens["judge"] += pair.judge_tokens
            self.pairs.append(pair)

    def exposition(self) -> str:
        with self._lock:
            pairs = list(self.pairs)
            lines = ["# TYPE thinkswitch_shadow_total counter"]
            lines += [f'thinkswitch_shadow_total{{outcome="{what}"}} {self.counts[what]}'
                      for what in ("drawn", "recorded", "preempted", "failed")]
            lines += ["# TYPE thinkswitch_shadow_dropped_total counter"]
            lines += [f'thinkswitch_shadow_dropped_total{{reason="{reason}"}} {n}'
                      for reason, n in sorted(self.dropped.items())]
            lines += ["# TYPE thinkswitch_shadow_tokens_total counter"]
            lines += [f'thinkswitch_shadow_tokens_total{{kind="{kind}"}} {self.tokens[kind]}'
                      for kind in ("prompt", "thinking", "answer", "judge")]
        if self.gauges is not None:
            return "\n".join(lines + self.gauges()) + "\n"
        return "\n".join(lines + gauge_lines(pairs)) + "\n"


