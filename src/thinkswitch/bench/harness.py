"""One bench invocation: every suite under every mode, summarised for the report.

Replay suites are answered from their outcome tables (no engine); live suites go through the
switch and the results store. A live run with an `off` and an `on` mode also yields a paired
table, so its policy curve and baselines are reported like a replay suite's.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from rich.progress import Progress

from thinkswitch.bench.gradebook import GradeBook
from thinkswitch.bench.modes import ModeSpec
from thinkswitch.bench.runner import RunContext, run_suite
from thinkswitch.bench.sandbox import Isolation
from thinkswitch.bench.store import ItemRecord, ResultStore
from thinkswitch.bench.suites import is_replay, load_live_suite
from thinkswitch.bench.summary import (
    SuiteSummary,
    paired_from_records,
    pick_on_mode,
    replay_mode_summary,
    summarize_mode,
    summarize_paired,
)
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.outcomes.paired import PAIRED_LONG_COLUMNS, PairedTable, load_paired
from thinkswitch.switch.pipeline import Switch
from thinkswitch.triage.base import TriagePolicy, decide_alone


@dataclass(frozen=True)
class BenchOptions:
    suites: tuple[str, ...]
    modes: tuple[ModeSpec, ...]
    policy: TriagePolicy
    policy_label: str
    data_dir: Path
    default_budget: int = 1024
    limit: int | None = None
    seed: int = 0
    fresh: bool = False
    concurrency: int = 1
    answer_max_tokens: int | None = None
    sandbox: Isolation = "bwrap"
    grades: GradeBook | None = None


@dataclass
class LiveRecords:
    """What a live suite produced, kept for `--save-outcomes`."""

    suite: str
    model: str
    modes: tuple[ModeSpec, ...]
    records: dict[str, list[ItemRecord]]
    #: Each item's prompt by id: saved outcome tables carry it, so policies can train on them.
    questions: dict[str, str] = field(default_factory=dict)


def run_replay(options: BenchOptions, name: str) -> SuiteSummary:
    table = load_paired(options.data_dir, name)
    if options.limit is not None:
        items = list(table.items)
        random.Random(options.seed).shuffle(items)
        table = replace(table, items=tuple(items[: options.limit]))
    auto = [_decide(options, table, mode) for mode in options.modes if mode.think == "auto"]
    modes = []
    for mode in options.modes:
        if mode.think == "auto":
            think = _decide(options, table, mode)
        else:
            think = [mode.think == "on"] * len(table.items)
        modes.append(replay_mode_summary(mode.label, table, think))
    paired = summarize_paired(table, options.policy, auto[0] if auto else None)
    notes = [
        f"replay: `off` is the recorded `{table.off_label}` run and `on` the recorded "
        f"`{table.on_label}` run, whatever budget the mode names"
    ]
    return SuiteSummary(table.name, "replay", table.name.removeprefix("replay:"), modes, paired,
                        notes)


def _decide(options: BenchOptions, table: PairedTable, mode: ModeSpec) -> list[bool]:
    budget = mode.budget or 1024
    return [
        decide_alone(options.policy, (ChatMessage(role="user", content=item.question),),
                     budget).mode
        == "on"
        for item in table.items
    ]


def run_live(
    options: BenchOptions, name: str, switch: Switch, store: ResultStore, progress: Progress
) -> tuple[SuiteSummary, LiveRecords]:
    suite = load_live_suite(name, options.data_dir, options.limit, options.seed)
    if options.sandbox != "bwrap":
        from thinkswitch.bench.code_suites import with_isolation

        suite = with_isolation(suite, options.sandbox)
    context = RunContext(switch, store, options.policy_label, options.answer_max_tokens,
                         options.fresh, options.concurrency, options.grades)
    records = run_suite(context, suite, options.modes, progress)
    modes = [summarize_mode(label, rows, options.seed) for label, rows in records.items()]
    paired = None
    notes = []
    on_mode = pick_on_mode(options.modes, options.default_budget)
    if options.policy.probes_first is not None:
        # It decides after a fast attempt, not from the question: there is no score per
        # question to draw a curve over its knob from; each threshold needs its own live run.
        notes.append(f"{options.policy.name}: no policy curve over the knob (it decides after a "
                     "fast attempt; run one auto mode per threshold); auto tokens include the "
                     "fast attempts")
    elif "off" in records and on_mode is not None:
        questions = {item.id: item.prompt for item in suite.items}
        table = paired_from_records(suite.name, questions, records["off"],
                                    records[on_mode.label], "off", on_mode.label)
        auto = next((m for m in options.modes if m.think == "auto"), None)
        decisions = [r.thought for r in records[auto.label]] if auto else None
        paired = summarize_paired(table, options.policy, decisions)
    engine = switch.engine
    summary = SuiteSummary(suite.name, engine.name, engine.model, modes, paired, notes)
    return summary, LiveRecords(suite.name, engine.model, options.modes, records,
                                {item.id: item.prompt for item in suite.items})


def run_bench(
    options: BenchOptions,
    switch_factory: Callable[[], Switch],
    store_factory: Callable[[], ResultStore],
    progress: Progress,
) -> tuple[list[SuiteSummary], list[LiveRecords]]:
    summaries: list[SuiteSummary] = []
    live: list[LiveRecords] = []
    switch: Switch | None = None
    store: ResultStore | None = None
    try:
        for name in options.suites:
            if is_replay(name):
                summaries.append(run_replay(options, name))
                continue
            switch = switch or switch_factory()
            store = store or store_factory()
            summary, records = run_live(options, name, switch, store, progress)
            summaries.append(summary)
            live.append(records)
    finally:
        if store is not None:
            store.close()
        if switch is not None:
            switch.close()
    return summaries, live


def save_outcomes(live: list[LiveRecords], path: Path) -> int:
    """Write live results as a paired outcome table (the columns of paired_long.csv)."""
    rows = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=(*PAIRED_LONG_COLUMNS, "question"))
        writer.writeheader()
        for run in live:
            for mode in run.modes:
                label, kind, level = _mode_columns(mode)
                for record in run.records[mode.label]:
                    writer.writerow({
                        "benchmark": run.suite, "model": run.model, "mode": label,
                        "mode_kind": kind, "budget_or_level": level, "id": record.item_id,
                        "grading": "A" if record.correct else "B",
                        "correct": int(record.correct), "not_attempted": 0,
                        "output_tokens_total": record.tokens,
                        "thinking_tokens": record.thinking_tokens,
                        "answer_tokens": record.answer_tokens,
                        "source_file": "thinkswitch bench",
                        "question": run.questions.get(record.item_id, ""),
                    })
                    rows += 1
    return rows


def _mode_columns(mode: ModeSpec) -> tuple[str, str, str]:
    """Mode names as the shared outcome tables spell them (no_think, budgetN, auto)."""
    if mode.think == "off":
        return "no_think", "no_think", ""
    if mode.think == "on":
        budget = str(mode.budget or "")
        return f"budget{budget}" if budget else "think", "thinking_budget", budget
    return mode.label.replace(":", ""), "auto", str(mode.budget or "")
