"""`logs stats`: requests, think-rate, tokens, cost and latency per mode and per policy, and
the thinking tokens `auto` saved against thinking on every request at the same budget."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from thinkswitch.trace.record import TraceRecord


@dataclass(frozen=True)
class GroupStats:
    key: str
    requests: int
    errors: int
    think_rate: float
    thinking_tokens: int
    answer_tokens: int
    cost: float
    latency_p50_s: float | None
    latency_p95_s: float | None
    latency_p99_s: float | None


def _group(key: str, records: Sequence[TraceRecord]) -> GroupStats:
    latencies = [r.timings.get("total_s") for r in records if r.error is None]
    values = np.array([v for v in latencies if v is not None], dtype=float)

    def pct(q: float) -> float | None:
        return float(np.percentile(values, q)) if len(values) else None

    return GroupStats(
        key=key,
        requests=len(records),
        errors=sum(r.error is not None for r in records),
        think_rate=sum(r.decision.get("mode") == "on" for r in records) / max(len(records), 1),
        thinking_tokens=sum(r.usage.get("thinking_tokens", 0) for r in records),
        answer_tokens=sum(r.usage.get("answer_tokens", 0) for r in records),
        cost=sum(r.cost.total for r in records),
        latency_p50_s=pct(50), latency_p95_s=pct(95), latency_p99_s=pct(99),
    )


def stats(records: Sequence[TraceRecord]) -> dict[str, list[GroupStats]]:
    requests = [r for r in records if r.kind == "request"]
    by_mode: dict[str, list[TraceRecord]] = defaultdict(list)
    by_policy: dict[str, list[TraceRecord]] = defaultdict(list)
    for record in requests:
        by_mode[str(record.decision.get("mode", "failed before deciding"))].append(record)
        by_policy[str(record.decision.get("policy", "-"))].append(record)
    return {
        "all": [_group("all", requests)],
        "mode": [_group(k, v) for k, v in sorted(by_mode.items())],
        "policy": [_group(k, v) for k, v in sorted(by_policy.items())],
    }


def auto_savings(records: Sequence[TraceRecord]) -> tuple[int, int, int]:
    """(auto requests, thinking tokens they used, an estimate of what thinking on all would use).

    The estimate charges each auto request that did not think the mean thinking tokens of the
    auto requests that did think at the same budget (those that thought are counted as they
    were): the tokens `always on` would have spent on the same requests.
    """
    auto = [r for r in records if r.kind == "request" and r.decision.get("requested") == "auto"
            and r.error is None]
    used = sum(r.usage.get("thinking_tokens", 0) for r in auto)
    thought = [r for r in auto if r.decision.get("mode") == "on"]
    per_budget: dict[object, list[int]] = defaultdict(list)
    for record in thought:
        per_budget[record.decision.get("budget")].append(record.usage.get("thinking_tokens", 0))
    overall = float(np.mean([r.usage.get("thinking_tokens", 0) for r in thought])) if thought \
        else 0.0
    estimate = used
    for record in auto:
        if record.decision.get("mode") != "on":
            samples = per_budget.get(record.decision.get("budget")) or []
            estimate += round(float(np.mean(samples)) if samples else overall)
    return len(auto), used, int(estimate)


def verdicts(records: Sequence[TraceRecord]) -> dict[str, dict[str, dict[str, int]]]:
    """Feedback verdicts counted per mode and per policy of the request they are about:
    {"mode": {"on": {"step wrong": 2, "answer right": 5, ...}}, "policy": {...}}. A step
    verdict and an answer verdict of the same word are different counts."""
    counts: dict[str, dict[str, dict[str, int]]] = {"mode": {}, "policy": {}}
    for record in records:
        if record.kind != "feedback" or not record.feedback:
            continue
        target = "step" if "step" in record.feedback else "answer"
        label = f"{target} {record.feedback.get('verdict')}"
        for group in ("mode", "policy"):
            key = str(record.decision.get(group, "-"))
            bucket = counts[group].setdefault(key, {})
            bucket[label] = bucket.get(label, 0) + 1
    return counts
