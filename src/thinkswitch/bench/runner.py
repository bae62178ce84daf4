"""Run live suites through the switch: ask, grade, record each item, show progress.

An engine error on one item is recorded as that item's error (graded wrong) and the run goes
on; the summary counts errors. Ctrl-C stops the run; every finished item is already stored.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from thinkswitch.bench.gradebook import GradeBook
from thinkswitch.bench.items import Item, Suite, Verdict
from thinkswitch.bench.modes import ModeSpec
from thinkswitch.bench.store import ItemRecord, ResultStore, RunKey
from thinkswitch.kernel.errors import ThinkswitchError
from thinkswitch.kernel.request import Request
from thinkswitch.switch.pipeline import Switch


@dataclass(frozen=True)
class RunContext:
    switch: Switch
    store: ResultStore
    policy_label: str
    answer_max_tokens: int | None = None
    fresh: bool = False
    concurrency: int = 1
    #: Where each asked item is registered for shadow grading (`bench --shadow-rate`).
    grades: GradeBook | None = None


def run_key(context: RunContext, suite: Suite, mode: ModeSpec) -> RunKey:
    engine = context.switch.engine
    policy = context.policy_label if mode.think == "auto" else ""
    return RunKey(engine.name, engine.model, suite.name, mode.label, policy)


def ask_item(context: RunContext, suite: Suite, mode: ModeSpec, item: Item) -> ItemRecord:
    """Ask one item and grade it; engine failures become an error record, not an exception."""
    request = Request.build(item.prompt, think=mode.think, budget=mode.budget,
                            answer_max_tokens=context.answer_max_tokens)
    if context.grades is not None:
        context.grades.register(item, suite.checker)
    try:
        result = context.switch.run(request)
    except ThinkswitchError as error:
        return ItemRecord(item.id, mode.budget, "", "", "", "", None, False, "error", 0, 0, 0,
                          None, None, 0.0, error=str(error))
    try:
        verdict = suite.checker.check(item, result.answer)
    except Exception as error:  # a checker bug on one item must not end the run
        verdict = Verdict(False, None, f"checker failed: {type(error).__name__}: {error}")
    return ItemRecord(
        item_id=item.id,
        budget=result.decision.budget,
        decided_mode=result.decision.mode,
        decision=result.decision.model_dump_json(),
        answer=result.answer,
        thinking=result.thinking,
        extracted=verdict.extracted,
        correct=verdict.correct,
        detail=verdict.detail,
        prompt_tokens=result.usage.prompt_tokens,
        thinking_tokens=result.usage.thinking_tokens,
        answer_tokens=result.usage.answer_tokens,
        ttft_s=result.timings.ttft_s,
        first_answer_s=result.timings.first_answer_s,
        total_s=result.timings.total_s,
    )


def run_suite(
    context: RunContext,
    suite: Suite,
    modes: tuple[ModeSpec, ...],
    progress: Progress,
) -> dict[str, list[ItemRecord]]:
    """Every mode over every item of `suite`; returns records in item order per mode label."""
    results: dict[str, list[ItemRecord]] = {}
    for mode in modes:
        key = run_key(context, suite, mode)
        if context.fresh:
            context.store.forget(key)
        done = context.store.load(key)
        # Items that failed with an engine error are asked again: the outage may be over.
        todo = [item for item in suite.items
                if item.id not in done or done[item.id].error is not None]
        task = progress.add_task(f"{suite.name} {mode.label}", total=len(suite.items),
                                 completed=len(suite.items) - len(todo), accuracy="")
        kept = [r for r in done.values() if r.error is None]
        tally = _Tally(sum(r.correct for r in kept), len(kept))
        progress.update(task, accuracy=tally.text())

        def finished(record: ItemRecord, key: RunKey = key, task: TaskID = task,
                     tally: _Tally = tally, done: dict[str, ItemRecord] = done) -> None:
            context.store.save(key, record)
            done[record.item_id] = record
            tally.add(record.correct)
            progress.update(task, advance=1, accuracy=tally.text())

        _ask_all(context, suite, mode, todo, finished)
        results[mode.label] = [done[item.id] for item in suite.items]
    return results


def _ask_all(
    context: RunContext,
    suite: Suite,
    mode: ModeSpec,
    items: list[Item],
    finished: Callable[[ItemRecord], None],
) -> None:
    if context.concurrency <= 1:
        for item in items:
            finished(ask_item(context, suite, mode, item))
        return
    with ThreadPoolExecutor(max_workers=context.concurrency) as pool:
        for record in pool.map(lambda item: ask_item(context, suite, mode, item), items):
            finished(record)


@dataclass
class _Tally:
    correct: int
    total: int

    def add(self, correct: bool) -> None:
        self.correct += int(correct)
        self.total += 1

    def text(self) -> str:
        return f"acc {self.correct / self.total:.1%}" if self.total else "acc -"


def make_progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[accuracy]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
