"""`thinkswitch triage train --tiers` and `triage eval --tiers`: choosing the budget tier per
request (see thinkswitch.triage.tiers and thinkswitch.triage.tier_eval)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from thinkswitch.factory import load_settings
from thinkswitch.kernel.errors import UsageError

if TYPE_CHECKING:
    from thinkswitch.outcomes.tiers import TierTable


def _tier_tables(names: list[str], data_dir: Path | None) -> list[TierTable]:
    from thinkswitch.outcomes.tiers import load_tiers
    from thinkswitch.outcomes.user_table import as_table_name

    root = load_settings(data_dir=data_dir).data_dir
    return [load_tiers(root, as_table_name(name)) for name in names]


def train_tiers_cmd(outcomes: list[str], out: Path, version: str | None,
                    data_dir: Path | None) -> None:
    from thinkswitch.bench.tier_report import tier_lines
    from thinkswitch.triage.static_features import StaticFeatures
    from thinkswitch.triage.tier_eval import train_tiers

    if len(outcomes) != 1:
        raise UsageError("--tiers trains on one outcome table with several budgets, e.g. "
                         "--outcomes replay:simpleqa/gemini-2.5-flash")
    [table] = _tier_tables(outcomes, data_dir)
    matrix = StaticFeatures.shipped().transform(list(table.questions))
    model, evaluation = train_tiers(table, matrix, version or "tiers")
    model.save(out)
    for line in tier_lines(evaluation):
        typer.echo(line)
    typer.echo(f"trained tiered@{model.version} on {len(table.ids)} questions of {table.name} "
               f"(tiers {', '.join(table.tiers)}; default weight {model.weight:g}); wrote {out}; "
               f"serve it with --policy learned --triage-model {out}")


def eval_tiers_cmd(suites: list[str], folds: int, seed: int, out: Path | None,
                   data_dir: Path | None) -> None:
    from thinkswitch.bench.tier_report import tier_lines, write_tier_report
    from thinkswitch.triage.static_features import StaticFeatures
    from thinkswitch.triage.tier_eval import evaluate_tiers

    features = StaticFeatures.shipped()
    evaluations = []
    for table in _tier_tables(suites, data_dir):
        evaluation = evaluate_tiers(table, features.transform(list(table.questions)), folds,
                                    seed)
        evaluations.append(evaluation)
        for line in tier_lines(evaluation):
            typer.echo(line)
    if out is not None:
        for path in write_tier_report(evaluations, out):
            typer.echo(f"wrote {path}")
