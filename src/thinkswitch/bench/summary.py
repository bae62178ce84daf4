"""Turn run records (live) or outcome tables (replay) into the numbers a report shows."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from thinkswitch.bench.modes import ModeSpec
from thinkswitch.bench.store import ItemRecord
from thinkswitch.outcomes import metrics
from thinkswitch.outcomes.metrics import Curve, GapSummary, Point
from thinkswitch.outcomes.paired import Outcome, PairedItem, PairedTable
from thinkswitch.triage.base import TriagePolicy
from thinkswitch.triage.scoring import policy_scores

RANDOM_RATES = (0.25, 0.5, 0.75)


@dataclass(frozen=True)
class ModeSummary:
    label: str
    n: int
    accuracy: float
    ci_low: float
    ci_high: float
    mean_thinking: float
    median_thinking: float
    mean_tokens: float
    median_tokens: float
    mean_latency_s: float | None
    think_rate: float
    errors: int = 0


@dataclass(frozen=True)
class PairedSummary:
    off_label: str
    on_label: str
    never: Point
    always: Point
    oracle: Point
    random: dict[str, Point]
    policy: str
    curve: Curve
    gap: GapSummary
    policy_point: Point | None
    accuracy_at_half_always_tokens: float | None
    note: str = ""


@dataclass(frozen=True)
class SuiteSummary:
    suite: str
    engine: str
    model: str
    modes: list[ModeSummary]
    paired: PairedSummary | None = None
    notes: list[str] = field(default_factory=list)


def summarize_mode(label: str, records: Sequence[ItemRecord], seed: int = 0) -> ModeSummary:
    correct = [float(r.correct) for r in records]
    low, high = metrics.bootstrap_interval(correct, seed=seed)
    thinking = [float(r.thinking_tokens) for r in records]
    tokens = [float(r.tokens) for r in records]
    latencies = [r.total_s for r in records if r.error is None]
    return ModeSummary(
        label=label,
        n=len(records),
        accuracy=statistics.fmean(correct) if correct else 0.0,
        ci_low=low,
        ci_high=high,
        mean_thinking=statistics.fmean(thinking) if thinking else 0.0,
        median_thinking=statistics.median(thinking) if thinking else 0.0,
        mean_tokens=statistics.fmean(tokens) if tokens else 0.0,
        median_tokens=statistics.median(tokens) if tokens else 0.0,
        mean_latency_s=statistics.fmean(latencies) if latencies else None,
        think_rate=statistics.fmean(float(r.thought) for r in records) if records else 0.0,
        errors=sum(r.error is not None for r in records),
    )


def summarize_paired(
    table: PairedTable, policy: TriagePolicy, decisions: Sequence[bool] | None = None
) -> PairedSummary:
    """Baselines, the policy's curve over its knob, and (if given) its live decisions' point."""
    curve = metrics.curve(table, policy_scores(policy, table))
    always = metrics.always(table)
    return PairedSummary(
        off_label=table.off_label,
        on_label=table.on_label,
        never=metrics.never(table),
        always=always,
        oracle=metrics.oracle(table),
        random={f"{rate:.0%}": metrics.random_at(table, rate) for rate in RANDOM_RATES},
        policy=policy.name,
        curve=curve,
        gap=metrics.gap_summary(table, curve),
        policy_point=metrics.point_for(table, decisions) if decisions is not None else None,
        accuracy_at_half_always_tokens=metrics.accuracy_at_tokens(curve, always.tokens / 2),
        note=table.note,
    )


def paired_from_records(
    suite: str, questions: dict[str, str], off: Sequence[ItemRecord], on: Sequence[ItemRecord],
    off_label: str, on_label: str,
) -> PairedTable:
    """A paired table from a live run's off and on records (same items, same order).

    Items with an engine error on either side are left out (and counted in the note)."""
    on_by_id = {r.item_id: r for r in on if r.error is None}
    errors = sum(r.error is not None or r.item_id not in on_by_id for r in off)
    items = tuple(
        PairedItem(
            r.item_id, questions.get(r.item_id, ""), suite,
            Outcome(float(r.correct), float(r.tokens)),
            Outcome(float(on_by_id[r.item_id].correct), float(on_by_id[r.item_id].tokens)),
        )
        for r in off
        if r.item_id in on_by_id and r.error is None
    )
    note = f"{errors} items with an engine error left out" if errors else ""
    return PairedTable(suite, off_label, on_label, items, note)


def pick_on_mode(modes: Sequence[ModeSpec], default_budget: int) -> ModeSpec | None:
    """The always-think side of a live run: the `on` mode with the largest budget."""
    ons = [m for m in modes if m.think == "on"]
    return max(ons, key=lambda m: m.budget or default_budget) if ons else None


def replay_mode_summary(label: str, table: PairedTable, think: Sequence[bool]) -> ModeSummary:
    """A mode of a replay suite: the recorded side chosen per question, as if it ran."""
    chosen = [i.on if t else i.off for i, t in zip(table.items, think, strict=True)]
    correct = [o.correct for o in chosen]
    tokens = [o.tokens for o in chosen]
    low, high = metrics.bootstrap_interval(correct)
    return ModeSummary(
        label=label, n=len(chosen), accuracy=statistics.fmean(correct), ci_low=low,
        ci_high=high, mean_thinking=float("nan"), median_thinking=float("nan"),
        mean_tokens=statistics.fmean(tokens), median_tokens=statistics.median(tokens),
        mean_latency_s=None, think_rate=statistics.fmean(float(t) for t in think),
    )
