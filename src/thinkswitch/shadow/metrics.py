"""The shadow runner's counters and auto's estimated cost, in Prometheus text format.

Counters: requests drawn for shadowing, shadow runs recorded, runs dropped (by reason: no free
capacity, the token cap, another shadow run going), preempted and failed; shadow tokens (apart
from the callers' `thinkswitch_tokens_total`). Gauges: the estimates of `thinkswitch triage
report` over the pairs this process recorded (the last `KEPT_PAIRS`).
"""

from __future__ import annotations

import math
import threading
from collections import Counter, deque

from thinkswitch.kernel.pairs import ShadowPair
from thinkswitch.outcomes.estimate import Estimate, accuracy, disagreement

KEPT_PAIRS = 10_000
DROP_REASONS = ("capacity", "tokens", "busy")


class ShadowMetrics:
    def __init__(self) -> None:
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
        lines += ["# TYPE thinkswitch_shadow_pairs gauge", f"thinkswitch_shadow_pairs {len(pairs)}"]
        estimates = accuracy(pairs)
        if estimates is not None:
            lines += ["# TYPE thinkswitch_auto_estimated_accuracy gauge"]
            for name, estimate in (("auto", estimates.auto), ("always", estimates.always),
                                   ("never", estimates.never)):
                lines += _gauge("thinkswitch_auto_estimated_accuracy", f'policy="{name}"',
                                estimate)
            lines += ["# TYPE thinkswitch_auto_estimated_accuracy_loss gauge"]
            lines += _gauge("thinkswitch_auto_estimated_accuracy_loss", "", estimates.loss)
        rate = disagreement(pairs)
        if rate.n:
            lines += ["# TYPE thinkswitch_auto_direct_disagreement gauge"]
            lines += _gauge("thinkswitch_auto_direct_disagreement", "", rate)
        return "\n".join(lines) + "\n"


def _gauge(name: str, labels: str, estimate: Estimate) -> list[str]:
    """The estimate and its interval bounds as one gauge with a `bound` label."""
    lines = []
    for bound, value in (("estimate", estimate.value), ("low", estimate.low),
                         ("high", estimate.high)):
        if not math.isnan(value):
            joined = ",".join(filter(None, (labels, f'bound="{bound}"')))
            lines.append(f"{name}{{{joined}}} {value:.6f}")
    return lines
