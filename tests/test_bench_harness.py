"""The bench harness in-process: resume after an interruption, reports and their plots."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from thinkswitch.bench.harness import BenchOptions, run_bench
from thinkswitch.bench.items import Checker, Item, Suite, Verdict
from thinkswitch.bench.modes import parse_modes
from thinkswitch.bench.plots import pareto_figure, think_rate_figure
from thinkswitch.bench.report import write_report
from thinkswitch.bench.runner import RunContext, make_progress, run_suite
from thinkswitch.bench.store import ResultStore
from thinkswitch.engines.scripted import ScriptedEngine
from thinkswitch.kernel.errors import EngineUnavailableError
from thinkswitch.kernel.events import EngineEvent
from thinkswitch.kernel.plan import GenerationRequest
from thinkswitch.settings import Settings, default_data_dir
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import Dialect, get_dialect
from thinkswitch.triage.rules import RulesPolicy


class ExactChecker(Checker):
    def check(self, item: Item, answer: str) -> Verdict:
        return Verdict(answer == item.gold, answer)


def suite(n: int = 5) -> Suite:
    items = tuple(Item(f"q{i}", f"What is {i} + {i}?", str(2 * i), "math") for i in range(n))
    return Suite("toy", items, ExactChecker())


class InterruptingEngine(ScriptedEngine):
    """Answers correctly, but raises KeyboardInterrupt on call number `stop_at`."""

    def __init__(self, stop_at: int | None = None, fail_on: str | None = None) -> None:
        super().__init__()
        self.calls = 0
        self.stop_at = stop_at
        self.fail_on = fail_on

    def execute(self, request: GenerationRequest, dialect: Dialect) -> Iterator[EngineEvent]:
        self.calls += 1
        if self.calls == self.stop_at:
            raise KeyboardInterrupt
        question = request.messages[-1].content
        if self.fail_on and self.fail_on in question:
            raise EngineUnavailableError("upstream went away")
        number = int(question.split()[2])
        self.enqueue(thinking=["adding"], answer=[str(2 * number)])
        return super().execute(request, dialect)


def context(engine: ScriptedEngine, store: ResultStore) -> RunContext:
    switch = Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(), Settings()))
    return RunContext(switch, store, "rules")


def test_interrupted_run_keeps_finished_items_and_resumes(tmp_path: Path) -> None:
    db = tmp_path / "results.sqlite"
    modes = parse_modes("off")
    first = InterruptingEngine(stop_at=4)
    with pytest.raises(KeyboardInterrupt), make_progress() as progress:
        run_suite(context(first, ResultStore(db)), suite(), modes, progress)
    second = InterruptingEngine()
    with make_progress() as progress:
        results = run_suite(context(second, ResultStore(db)), suite(), modes, progress)
    assert second.calls == 2, "the three finished items are not asked again"
    assert [r.item_id for r in results["off"]] == ["q0", "q1", "q2", "q3", "q4"]
    assert all(r.correct for r in results["off"])
    fresh = InterruptingEngine()
    with make_progress() as progress:
        run_suite(RunContext(context(fresh, ResultStore(db)).switch, ResultStore(db), "rules",
                             fresh=True), suite(), modes, progress)
    assert fresh.calls == 5


def test_engine_failure_is_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    engine = InterruptingEngine(fail_on="What is 2 ")
    with make_progress() as progress:
        results = run_suite(context(engine, ResultStore(tmp_path / "r.sqlite")), suite(),
                            parse_modes("on:32"), progress)
    records = results["on:32"]
    assert [r.error for r in records].count("upstream went away") == 1
    assert sum(r.correct for r in records) == 4


needs_data = pytest.mark.skipif(not (default_data_dir() / "outcomes").is_dir(),
                                reason="shared outcome data not present")


@pytest.mark.slow
@needs_data
def test_replay_report_files_and_plot_series(tmp_path: Path) -> None:
    options = BenchOptions(
        suites=("replay:concise_cot/gpt-35-turbo",), modes=parse_modes("off,on,auto"),
        policy=RulesPolicy(), policy_label="rules", data_dir=default_data_dir(),
    )
    with make_progress() as progress:
        summaries, live = run_bench(options, lambda: pytest.fail("no engine for replay"),
                                    lambda: pytest.fail("no store for replay"), progress)
    assert live == []
    (summary,) = summaries
    assert [m.label for m in summary.modes] == ["off", "on", "auto"]
    assert round(summary.modes[0].accuracy, 3) == 0.564
    assert round(summary.modes[1].accuracy, 3) == 0.647
    written = write_report(summaries, tmp_path)
    for kind in ("json", "md", "html"):
        assert written[kind].stat().st_size > 500
    report = json.loads(written["json"].read_text())
    paired = report["suites"][0]["paired"]
    assert round(paired["oracle"]["accuracy"], 3) == 0.722
    assert set(paired["random"]) == {"25%", "50%", "75%"}
    assert len(paired["curve"]["points"]) <= 102
    assert "data:image/png;base64," in written["html"].read_text()
    assert "| oracle | 72.2% |" in written["md"].read_text()
    pareto_labels = pareto_figure(summary).axes[0].get_legend_handles_labels()[1]
    assert pareto_labels == ["mode off", "mode on", "mode auto", "rules (across knob)", "random",
                             "oracle"]
    figure = think_rate_figure(summary)
    assert figure is not None
    labels = figure.axes[0].get_legend_handles_labels()[1]
    assert labels[1:] == ["random (APGR 0.50)", "oracle", "rules live decisions"]
    assert labels[0].startswith("rules (APGR 0.")
    assert (tmp_path / "replay_concise_cot_gpt-35-turbo_pareto.png").stat().st_size > 10_000


def test_items_that_failed_are_asked_again_on_resume(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    with make_progress() as progress:
        run_suite(context(InterruptingEngine(fail_on="What is 2 "), ResultStore(db)), suite(),
                  parse_modes("off"), progress)
    healthy = InterruptingEngine()
    with make_progress() as progress:
        results = run_suite(context(healthy, ResultStore(db)), suite(), parse_modes("off"),
                            progress)
    assert healthy.calls == 1, "only the item that failed is asked again"
    assert all(r.correct and r.error is None for r in results["off"])
