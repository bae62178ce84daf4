"""`thinkswitch triage`: train, evaluate, calibrate and explain auto-mode policies."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from thinkswitch.factory import load_settings
from thinkswitch.kernel.errors import UsageError
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.outcomes.paired import PairedTable, load_paired
from thinkswitch.outcomes.user_table import as_table_name
from thinkswitch.triage.base import decide_alone
from thinkswitch.triage.registry import get_policy

if TYPE_CHECKING:
    from thinkswitch.triage.learned import LearnedModel

triage_app = typer.Typer(no_args_is_help=True, add_completion=False,
                         help="Train, evaluate and explain triage.")

DataDir = Annotated[Path | None, typer.Option(help="data directory (THINKSWITCH_DATA)")]
ModelFile = Annotated[Path | None, typer.Option(help="learned model file (default: shipped)")]
Tiers = Annotated[bool, typer.Option(
    "--tiers", help="choose the budget tier per request over every recorded budget of the "
    "table (replay:simpleqa/<model>[?tiers=no_think,budget256,...]) against each fixed tier")]
Features = Annotated[str, typer.Option(
    help="learned features: static (MiniLM token table) or hashed (n-grams + cues)")]


def _tables(names: list[str], data_dir: Path | None) -> list[PairedTable]:
    root = load_settings(data_dir=data_dir).data_dir
    tables = []
    for name in names:
        tables.append(load_paired(root, as_table_name(name)))
    return tables


@triage_app.command()
def train(
    out: Annotated[Path, typer.Option(help="where to write the model (.npz)")],
    outcomes: Annotated[list[str] | None, typer.Option(
        "--outcomes", help="paired outcome tables: replay:... names or CSV files")] = None,
    from_traces: Annotated[bool, typer.Option(
        "--from-traces", help="train on the trace store's labelled shadow pairs too")] = False,
    since: Annotated[str | None, typer.Option(
        help="with --from-traces: only pairs from this UTC time on (2026-11-28T09:30)")] = None,
    holdout: Annotated[float, typer.Option(
        min=0.0, max=0.9, help="with --from-traces: newest share of pairs kept out of training "
        "for `triage promote` to judge on")] = 0.25,
    db: Annotated[str | None, typer.Option(help="trace store (SQLite path or postgresql://)")
                  ] = None,
    version: Annotated[str | None, typer.Option(
        help="version recorded in the model [default: custom; traces-<UTC time> from traces]")
    ] = None,
    features: Features = "static",
    tiers: Tiers = False,
    data_dir: DataDir = None,
) -> None:
    """Train the `learned` policy on paired outcomes and/or shadow pairs (deterministic)."""
    from thinkswitch.triage.learned import new_featurizer
    from thinkswitch.triage.training import train as fit

    if tiers:
        from thinkswitch.cli.triage_tiers import train_tiers_cmd

        if from_traces:
            raise UsageError("--tiers trains on an outcome table with several budgets, not on "
                             "--from-traces")
        train_tiers_cmd(outcomes or [], out, version, data_dir)
        return
    if not outcomes and not from_traces:
        raise UsageError("nothing to train on: give --outcomes and/or --from-traces")
    if since is not None and not from_traces:
        raise UsageError("--since applies to --from-traces")
    featurizer = new_featurizer(features)
    tables = _tables(outcomes or [], data_dir)
    if from_traces:
        from thinkswitch.cli.triage_learn_cmd import train_from_traces

        model, summary = train_from_traces(db, since, holdout, tables, version, featurizer)
    else:
        model = fit(tables, version=version or "custom", features=featurizer)
        summary = f"{model.meta['questions']} questions ({', '.join(t.name for t in tables)})"
    model.save(out)
    typer.echo(f"trained learned@{model.version} on {summary}; wrote {out} "
               f"({out.stat().st_size / 1024:.0f} KiB)")


@triage_app.command()
def explain(
    question: Annotated[str, typer.Argument(help="the request to triage")],
    policy: Annotated[str, typer.Option(help="rules or learned")] = "learned",
    knob: Annotated[float | None, typer.Option(help="threshold in [0, 1]")] = None,
    budget: Annotated[int, typer.Option(min=1, help="the budget cap")] = 1024,
    model: ModelFile = None,
) -> None:
    """Print the decision for QUESTION and why."""
    if not question.strip():
        raise UsageError("the question is empty")
    decision = decide_alone(get_policy(policy, knob, model),
                            (ChatMessage(role="user", content=question),), budget)
    typer.echo(f"{decision.mode} (budget {decision.budget}) by {decision.policy}, "
               f"score {decision.score}")
    typer.echo(decision.reason)


@triage_app.command()
def calibrate(
    rate: Annotated[float, typer.Option(help="target think-rate, strictly between 0 and 1")],
    suite: Annotated[list[str], typer.Option(help="dev suites (replay:... or CSV files; live "
                                             "suites such as gsm8k for cascade)")],
    policy: Annotated[str, typer.Option(help="rules, learned or cascade")] = "learned",
    model: ModelFile = None,
    data_dir: DataDir = None,
    limit: Annotated[int | None, typer.Option(
        min=1, help="cascade: first N items of each live suite")] = None,
) -> None:
    """Turn a target think-rate into the policy's threshold (a quantile of dev scores)."""
    chosen = get_policy(policy, None, model)
    if chosen.probes_first is not None:  # its scores need fast attempts on a live engine
        from thinkswitch.cli.cascade_calibrate import calibrate_cascade

        calibrate_cascade(rate, suite, data_dir, limit, policy)
        return
    from thinkswitch.triage.scoring import policy_scores
    from thinkswitch.triage.training import calibrate_threshold

    scores: list[float] = []
    for table in _tables(suite, data_dir):
        scores += policy_scores(chosen, table)
    threshold = calibrate_threshold(scores, rate)
    achieved = sum(s >= threshold for s in scores) / len(scores)
    typer.echo(f"threshold {threshold:.4f}: think-rate {achieved:.1%} on {len(scores)} dev "
               f"questions (target {rate:.1%}); use --knob {threshold:.4f}")


def _shown(accuracy: float | None) -> str:
    return "-" if accuracy is None else f"{accuracy:.1%}"


@triage_app.command("eval")
def evaluate_cmd(
    suite: Annotated[list[str], typer.Option(help="replay suites or CSV outcome files")],
    policy: Annotated[str, typer.Option(help="rules, learned (shipped model), learned-cv "
                                        "(trained per fold) or plain-cv (the TF-IDF + logistic "
                                        "regression baseline, trained per fold)")] = "learned-cv",
    split: Annotated[str, typer.Option(help="question or group (e.g. leave-one-exam-out)")] = (
        "question"),
    train_suite: Annotated[str | None, typer.Option(
        help="train on this table's outcomes (another model), test on --suite")] = None,
    extra_train: Annotated[list[str] | None, typer.Option(
        help="more outcome tables added to every fold's training (other questions)")] = None,
    folds: Annotated[int, typer.Option(min=2)] = 5,
    seed: Annotated[int, typer.Option()] = 0,
    features: Annotated[str | None, typer.Option(
        help="learned-cv features: static (default) or hashed")] = None,
    model: ModelFile = None,
    out: Annotated[Path | None, typer.Option(help="write a report with plots")] = None,
    tiers: Tiers = False,
    data_dir: DataDir = None,
) -> None:
    """Report the policy's APGR, CPT(50%), CPT(80%) and curve against the baselines."""
    if tiers:
        from thinkswitch.cli.triage_tiers import eval_tiers_cmd

        eval_tiers_cmd(suite, folds, seed, out, data_dir)
        return
    from thinkswitch.bench.report import write_report
    from thinkswitch.bench.summary import PairedSummary, SuiteSummary
    from thinkswitch.outcomes import metrics
    from thinkswitch.triage.evaluate import evaluate

    if split not in ("question", "group"):
        raise UsageError(f"unknown split {split!r}; valid: group, question")
    from thinkswitch.triage.baseline import train_plain
    from thinkswitch.triage.learned import new_featurizer, training_suites
    from thinkswitch.triage.training import Trainer
    from thinkswitch.triage.training import train as fit

    if features is not None and policy != "learned-cv":
        raise UsageError(f"--features applies to --policy learned-cv, not {policy}")
    per_fold = policy in ("learned-cv", "plain-cv")
    chosen = None if per_fold else get_policy(policy, None, model)
    featurizer = new_featurizer(features or "static") if policy == "learned-cv" else None

    def learned_cv(tables: Sequence[PairedTable]) -> LearnedModel:
        return fit(tables, version="fold", features=featurizer)

    trainer: Trainer = train_plain if policy == "plain-cv" else learned_cv
    train_table = _tables([train_suite], data_dir)[0] if train_suite else None
    extra = _tables(extra_train or [], data_dir)
    summaries = []
    trained_on = training_suites(chosen) if chosen is not None else frozenset()
    for table in _tables(suite, data_dir):
        if table.name in trained_on:
            typer.echo(f"warning: the {policy} model was trained on {table.name}; these figures "
                       "are on its training data (use --policy learned-cv)", err=True)
        result = evaluate(table, chosen, split, folds, seed,  # type: ignore[arg-type]
                          train_table, extra=extra, trainer=trainer)
        gap = result.gap
        interval = result.apgr_interval
        ci = f" (95% CI {interval[0]:.3f}-{interval[1]:.3f})" if interval else ""
        apgr = "-" if gap.apgr is None else f"{gap.apgr:.3f}"
        cpt50 = "-" if gap.cpt50 is None else f"{gap.cpt50:.1%}"
        cpt80 = "-" if gap.cpt80 is None else f"{gap.cpt80:.1%}"
        never, always = metrics.never(table), metrics.always(table)
        oracle = metrics.oracle(table)
        best = max(result.curve.points, key=lambda p: (p.accuracy, -p.tokens))
        half = metrics.accuracy_at_tokens(result.curve, always.tokens / 2)
        below = metrics.below_random(table, result.curve)
        share = f"{best.tokens / always.tokens:.0%}" if always.tokens else "-"
        typer.echo(
            f"{table.name} [{policy}, split: {result.split}]: never {never.accuracy:.1%}, "
            f"always {always.accuracy:.1%}, oracle {oracle.accuracy:.1%}; APGR {apgr}{ci}, "
            f"CPT(50%) {cpt50}, CPT(80%) {cpt80}, AUC {gap.auc:.3f}; best accuracy "
            f"{best.accuracy:.1%} at {share} of always's tokens; "
            f"{_shown(half)} at half of always's tokens; below random at "
            f"{len(below)} of {len(result.curve.points)} think-rates"
        )
        paired = PairedSummary(
            table.off_label, table.on_label, never, always, oracle,
            {f"{r:.0%}": metrics.random_at(table, r) for r in (0.25, 0.5, 0.75)},
            policy, result.curve, gap, None,
            half, table.note)
        summaries.append(SuiteSummary(table.name, "replay", policy, [], paired))
    if out is not None:
        written = write_report(summaries, out)
        typer.echo(f"report: {written['md']}, {written['html']}")
