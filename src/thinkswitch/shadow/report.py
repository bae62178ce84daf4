"""`thinkswitch triage report`: what auto costs, from the trace store's requests and shadow pairs.

Think-rate, tokens and seconds are counted over the auto requests of the window; what always-
think would have spent on the requests auto answered directly is estimated from the pairs that
ran their thinking side (a Hajek mean per such request, see `thinkswitch.outcomes.estimate`).
Accuracy, where the pairs know it, and the curve come from `estimate` as well.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from thinkswitch.kernel.errors import UsageError
from thinkswitch.kernel.pairs import ShadowPair
from thinkswitch.outcomes.estimate import (
    Accuracy,
    CurvePoint,
    Estimate,
    accuracy,
    curve,
    disagreement,
    over,
)
from thinkswitch.trace.record import TraceRecord
from thinkswitch.trace.stats import auto_savings


@dataclass(frozen=True)
class Window:
    """Which records a report reads; every filter is optional."""

    since: float | None = None
    model: str | None = None
    policy_version: str | None = None
    caller: str | None = None

    def admits(self, record: TraceRecord) -> bool:
        return (record.kind == "request" and record.error is None
                and record.decision.get("requested") == "auto"
                and (self.since is None or record.created_at >= self.since)
                and (self.model is None or record.model == self.model)
                and (self.policy_version is None
                     or record.decision.get("policy") == self.policy_version)
                and (self.caller is None or record.caller == self.caller))


@dataclass(frozen=True)
class AutoReport:
    requests: int
    think_rate: float
    thinking_tokens: int
    always_thinking_tokens: float
    seconds: float
    always_seconds: float
    pairs: int
    labelled_pairs: int
    disagreement: Estimate
    accuracy: Accuracy | None
    curve: list[CurvePoint] = field(default_factory=list)

    @property
    def tokens_saved_share(self) -> float:
        if self.always_thinking_tokens <= 0:
            return 0.0
        return max(0.0, 1.0 - self.thinking_tokens / self.always_thinking_tokens)

    @property
    def seconds_saved(self) -> float:
        return max(0.0, self.always_seconds - self.seconds)

    def sentence(self) -> str:
        """One sentence an operator can act on."""
        saved = f"auto saved {self.tokens_saved_share:.0%} of thinking tokens"
        over_requests = f"over {self.requests:,} requests"
        if self.accuracy is not None and self.accuracy.loss.n >= 2:
            loss = self.accuracy.loss
            word = "loss" if loss.value >= 0 else "gain"
            text = (f"{saved} at an estimated {abs(loss.value) * 100:.1f}-point accuracy "
                    f"{word} (95% CI {span(loss.low * 100, loss.high * 100)}) "
                    f"{over_requests}")
            if loss.high > 0.02:
                text += ("; if that loss is too much, lower the policy's threshold "
                         "(`[triage] knob`) so that more requests think")
            return text + "."
        if self.disagreement.n:
            return (f"{saved} {over_requests}; thinking would have changed at most "
                    f"{self.disagreement.value:.0%} of its direct answers (95% CI "
                    f"{self.disagreement.low:.0%}–{self.disagreement.high:.0%}), an upper bound "
                    "on the accuracy it cost.")
        return (f"{saved} {over_requests}; no shadow pairs yet, so its accuracy cost is "
                "unknown: serve with --shadow-rate 0.1 or more to measure it.")

    def as_dict(self) -> dict[str, Any]:
        def estimate(value: Estimate) -> dict[str, float | int | None]:
            return {"value": _num(value.value), "low": _num(value.low),
                    "high": _num(value.high), "n": value.n}

        accuracy_part = None if self.accuracy is None else {
            name: estimate(getattr(self.accuracy, name))
            for name in ("auto", "always", "never", "loss")}
        return {
            "sentence": self.sentence(), "requests": self.requests,
            "think_rate": self.think_rate, "thinking_tokens": self.thinking_tokens,
            "always_thinking_tokens": round(self.always_thinking_tokens, 1),
            "tokens_saved_share": self.tokens_saved_share,
            "seconds": round(self.seconds, 3), "always_seconds": round(self.always_seconds, 3),
            "seconds_saved": round(self.seconds_saved, 3), "pairs": self.pairs,
            "labelled_pairs": self.labelled_pairs,
            "direct_disagreement": estimate(self.disagreement), "accuracy": accuracy_part,
            "curve": [{"threshold": _num(p.threshold), "think_rate": estimate(p.think_rate),
                       "accuracy": estimate(p.accuracy)} for p in self.curve],
        }


def span(low: float, high: float) -> str:
    """An interval as text: 0.2–1.5, or -3.4 to 16.1 (a dash would read as a minus)."""
    return f"{low:.1f} to {high:.1f}" if low < 0 else f"{low:.1f}–{high:.1f}"


def _num(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else round(value, 6)


def build_report(requests: Sequence[TraceRecord], pairs: Sequence[ShadowPair]) -> AutoReport:
    """The report over the window's auto `requests` and its shadow `pairs`."""
    if not requests:
        raise UsageError("no auto requests in this window of the trace store: nothing to report")
    direct = [r for r in requests if r.decision.get("mode") != "on"]
    thought = [r for r in requests if r.decision.get("mode") == "on"]
    used = sum(int(r.usage.get("thinking_tokens", 0)) for r in requests)
    seconds = sum(float(r.timings.get("total_s") or 0.0) for r in requests)
    direct_pairs = [p for p in pairs if p.live.mode == "off"]
    if direct_pairs:
        extra_tokens = over(direct_pairs, lambda p: p.shadow.thinking_tokens).value
        extra_seconds = over(direct_pairs, lambda p: p.shadow.seconds - p.live.seconds).value
        always_tokens = used + len(direct) * extra_tokens
    else:  # no thinking side measured yet: what auto's own thinking requests cost
        always_tokens = float(auto_savings(requests)[2])
        mean_thought = (sum(float(r.timings.get("total_s") or 0.0) for r in thought)
                        / len(thought)) if thought else 0.0
        mean_direct = (sum(float(r.timings.get("total_s") or 0.0) for r in direct)
                       / len(direct)) if direct else 0.0
        extra_seconds = max(0.0, mean_thought - mean_direct) if thought else 0.0
    return AutoReport(
        requests=len(requests), think_rate=len(thought) / len(requests),
        thinking_tokens=used, always_thinking_tokens=always_tokens, seconds=seconds,
        always_seconds=seconds + len(direct) * max(0.0, extra_seconds), pairs=len(pairs),
        labelled_pairs=sum(p.correctness_known for p in pairs),
        disagreement=disagreement(pairs), accuracy=accuracy(pairs), curve=curve(pairs),
    )
