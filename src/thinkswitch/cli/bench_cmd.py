"""`thinkswitch bench`: accuracy against compute for any engine, mode and policy."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from thinkswitch.bench.code_suites import choose_isolation
from thinkswitch.bench.gradebook import GradeBook
from thinkswitch.bench.harness import BenchOptions, run_bench, save_outcomes
from thinkswitch.bench.modes import parse_modes
from thinkswitch.bench.report import suite_markdown, write_report
from thinkswitch.bench.runner import make_progress
from thinkswitch.bench.store import ResultStore
from thinkswitch.bench.suites import check_suite_names
from thinkswitch.cli.options import (
    BaseUrlOption,
    DataDirOption,
    DialectOption,
    EngineOption,
    ModelOption,
    engine_overrides,
)
from thinkswitch.factory import build_switch, load_settings
from thinkswitch.kernel.errors import UsageError
from thinkswitch.outcomes.user_table import as_table_name
from thinkswitch.settings import Settings, default_state_dir
from thinkswitch.switch.pipeline import Switch
from thinkswitch.triage.base import TriagePolicy
from thinkswitch.triage.registry import get_policy

if TYPE_CHECKING:
    from thinkswitch.shadow.bench_shadow import BenchShadow


def bench(
    suites: Annotated[list[str], typer.Argument(help="e.g. gsm8k mbpp "
                                                "gym:basic_arithmetic?difficulty=3 "
                                                "replay:simpleqa/Qwen3-8B")],
    modes: Annotated[str, typer.Option(help="comma-separated: off,on:256,on:1024,auto")] = (
        "off,on,auto"
    ),
    policy: Annotated[str | None, typer.Option(
        help="triage policy for auto and curves (default: THINKSWITCH_POLICY, else learned)")
    ] = None,
    triage_model: Annotated[Path | None, typer.Option(help="model file for learned")] = None,
    knob: Annotated[float | None, typer.Option(help="the policy's threshold in [0, 1]")] = None,
    limit: Annotated[int | None, typer.Option(min=1, max=1_000_000_000,
                                              help="items per suite")] = None,
    seed: Annotated[int, typer.Option(help="seed for sampling items and bootstraps")] = 0,
    engine: EngineOption = None,
    model: ModelOption = None,
    dialect: DialectOption = None,
    base_url: BaseUrlOption = None,
    data_dir: DataDirOption = None,
    answer_max_tokens: Annotated[int | None, typer.Option(min=1, help="cap on answers")] = None,
    temperature: Annotated[float | None, typer.Option(help="sampling temperature")] = None,
    out: Annotated[Path | None, typer.Option(help="write report.{json,md,html} and plots")] = None,
    db: Annotated[Path | None, typer.Option(help="results database (resumable)")] = None,
    fresh: Annotated[bool, typer.Option(help="recompute items already stored")] = False,
    concurrency: Annotated[int, typer.Option(min=1, max=1024,
                                             help="parallel requests (HTTP)")] = 1,
    save_outcomes_to: Annotated[
        Path | None, typer.Option("--save-outcomes", help="write a paired outcome table")
    ] = None,
    shadow_rate: Annotated[float, typer.Option(
        min=0.0, max=1.0, help="share of auto requests whose other side is also run and "
        "graded by the suite's checker; the pairs go to the trace store (triage report, "
        "triage train --from-traces)")] = 0.0,
    unsafe_no_sandbox: Annotated[bool, typer.Option(
        "--unsafe-no-sandbox", help="run mbpp/humaneval answers WITHOUT the bubblewrap "
        "sandbox, as this user, or uid 65534 when root (where bwrap cannot run)")] = False,
) -> None:
    """Run SUITES under each mode; report accuracy against tokens, as tables and plots."""
    settings = load_settings(**engine_overrides(engine, model, dialect, base_url, data_dir),
                             temperature=temperature, policy=policy, knob=knob,
                             triage_model=triage_model)
    suites = [as_table_name(suite) for suite in suites]
    check_suite_names(suites)
    sandbox = choose_isolation(suites, unsafe_no_sandbox)
    if sandbox == "unsafe":
        typer.echo("warning: --unsafe-no-sandbox: model-written code runs unconfined, as this "
                   "user (uid 65534 when root), guarded only by an in-process audit hook",
                   err=True)
    if concurrency > 1 and settings.engine == "llama_cpp":
        raise UsageError("--concurrency > 1 needs an HTTP engine; llama_cpp runs one at a time")
    chosen = get_policy(settings.policy, settings.knob, settings.triage_model)
    _warn_on_training_data(chosen, suites)
    options = BenchOptions(
        suites=tuple(suites),
        modes=parse_modes(modes),
        policy=chosen,
        policy_label=(f"{settings.policy}@{settings.knob}" if settings.knob is not None
                      else settings.policy),
        data_dir=settings.data_dir,
        default_budget=settings.default_budget,
        limit=limit,
        seed=seed,
        fresh=fresh,
        concurrency=concurrency,
        answer_max_tokens=answer_max_tokens,
        sandbox=sandbox,
        grades=GradeBook() if shadow_rate > 0 else None,
    )
    db_path = db or (out / "results.sqlite" if out else default_state_dir() / "bench.sqlite")
    console = Console(soft_wrap=True)
    switches = _Switches(settings, shadow_rate, seed, options.grades)
    with make_progress() as progress, switches:
        summaries, live = run_bench(options, switches.build, lambda: ResultStore(db_path),
                                    progress)
    for summary in summaries:
        console.print(suite_markdown(summary), markup=False, highlight=False)
    if live:
        console.print(f"results database: {db_path}")
    if out is not None:
        written = write_report(summaries, out)
        console.print(f"report: {written['md']}, {written['html']}, {written['json']}")
    if save_outcomes_to is not None:
        rows = save_outcomes(live, save_outcomes_to)
        console.print(f"paired outcomes: {rows} rows in {save_outcomes_to}")


class _Switches:
    """Builds the bench's switch, with a shadow runner behind it at a positive rate (closed
    when the run ends)."""

    def __init__(self, settings: Settings, rate: float, seed: int,
                 grades: GradeBook | None) -> None:
        self.settings, self.rate, self.seed, self.grades = settings, rate, seed, grades
        self.shadow: BenchShadow | None = None

    def build(self) -> Switch:
        switch = build_switch(self.settings)
        if self.grades is not None:
            if switch.recorder is None:
                raise UsageError("--shadow-rate records pairs in the trace store: turn "
                                 "recording on")
            from thinkswitch.shadow.bench_shadow import BenchShadow

            self.shadow = BenchShadow(switch, self.rate, self.seed, self.grades)
        return switch

    def __enter__(self) -> _Switches:
        return self

    def __exit__(self, *_: object) -> None:
        if self.shadow is not None:
            self.shadow.close()


def _warn_on_training_data(policy: TriagePolicy, suites: list[str]) -> None:
    """A learned model's curve on the outcomes it was trained on flatters it: say so."""
    from thinkswitch.triage.learned import training_suites

    trained_on = training_suites(policy)
    for suite in suites:
        name = "replay:" + suite.removeprefix("replay:").split("?")[0]
        if name in trained_on:
            typer.echo(f"warning: the policy's model was trained on {name}; its curve there is "
                       "on training data (thinkswitch triage eval --policy learned-cv scores "
                       "it on held-out questions)", err=True)
