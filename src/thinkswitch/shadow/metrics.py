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
from typing import Protocol

from thinkswitch.kernel.pairs import ShadowPair
from thinkswitch.shadow.store_gauges import KEPT_PAIRS, gauge_lines

DROP_REASONS = ("capacity", "tokens", "busy")
OUTCOMES = ("drawn", "recorded", "preempted", "failed")
TOKEN_KINDS = ("prompt", "thinking", "answer", "judge")
#: Every counter, as `SharedCounts` keys: `outcome:drawn`, `dropped:busy`, `tokens:judge`, ...
COUNTER_KEYS = (*(f"outcome:{what}" for what in OUTCOMES),
                *(f"dropped:{reason}" for reason in DROP_REASONS),
                *(f"tokens:{kind}" for kind in TOKEN_KINDS))


class SharedCounts(Protocol):
    """Counters several processes add to and read the sums of (a server's workers)."""

    def add(self, key: str, amount: int) -> None: ...

    def total(self, key: str) -> int: ...


class ShadowMetrics:
    def __init__(self, gauges: Callable[[], list[str]] | None = None) -> None:
        #: Where the estimate gauges come from (`StoreGauges.lines`: the trace store's pairs);
        #: None: the pairs this process recorded.
        self.gauges = gauges
        #: Where the counters are also kept when several workers serve (see worker_board);
        #: the exposition then shows their sums.
        self.shared: SharedCounts | None = None
        self.counts: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter({reason: 0 for reason in DROP_REASONS})
        self.tokens: Counter[str] = Counter()
        self.pairs: deque[ShadowPair] = deque(maxlen=KEPT_PAIRS)
        self._lock = threading.Lock()

    def _share(self, key: str, amount: int) -> None:
        if self.shared is not None:
            self.shared.add(key, amount)

    def count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1
            self._share(f"outcome:{what}", 1)

    def drop(self, reason: str) -> None:
        with self._lock:
            self.dropped[reason] += 1
            self._share(f"dropped:{reason}", 1)

    def recorded(self, pair: ShadowPair) -> None:
        spent = {"thinking": pair.shadow.thinking_tokens, "answer": pair.shadow.answer_tokens,
                 "prompt": pair.shadow.prompt_tokens, "judge": pair.judge_tokens}
        with self._lock:
            self.counts["recorded"] += 1
            self._share("outcome:recorded", 1)
            for kind, amount in spent.items():
                self.tokens[kind] += amount
                self._share(f"tokens:{kind}", amount)
            self.pairs.append(pair)

    def exposition(self) -> str:
        with self._lock:
            pairs = list(self.pairs)
            shared = self.shared
            counts = ({what: shared.total(f"outcome:{what}") for what in OUTCOMES}
                      if shared else self.counts)
            dropped = ({reason: shared.total(f"dropped:{reason}") for reason in DROP_REASONS}
                       if shared else self.dropped)
            tokens = ({kind: shared.total(f"tokens:{kind}") for kind in TOKEN_KINDS}
                      if shared else self.tokens)
            lines = ["# TYPE thinkswitch_shadow_total counter"]
            lines += [f'thinkswitch_shadow_total{{outcome="{what}"}} {counts[what]}'
                      for what in OUTCOMES]
            lines += ["# TYPE thinkswitch_shadow_dropped_total counter"]
            lines += [f'thinkswitch_shadow_dropped_total{{reason="{reason}"}} {n}'
                      for reason, n in sorted(dropped.items())]
            lines += ["# TYPE thinkswitch_shadow_tokens_total counter"]
            lines += [f'thinkswitch_shadow_tokens_total{{kind="{kind}"}} {tokens[kind]}'
                      for kind in TOKEN_KINDS]
        if self.gauges is not None:
            return "\n".join(lines + self.gauges()) + "\n"
        return "\n".join(lines + gauge_lines(pairs)) + "\n"


