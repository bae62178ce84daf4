"""`thinkswitch triage report`: what auto costs, from the trace store (see triage.report)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from thinkswitch.cli.logs_cmd import Db
from thinkswitch.cli.options import parse_since
from thinkswitch.cli.triage_learn_cmd import open_filled_store


def report(
    since: Annotated[str | None, typer.Option(
        help="only requests from this UTC time on (2026-11-28 or 2026-11-28T09:30)")] = None,
    model: Annotated[str | None, typer.Option(help="only requests to this model")] = None,
    policy_version: Annotated[str | None, typer.Option(
        help="only decisions of this policy version, e.g. learned@v2")] = None,
    caller: Annotated[str | None, typer.Option(help="only this caller (key id)")] = None,
    out: Annotated[Path | None, typer.Option(
        help="write report.json, the curve PNG and report.html in this folder")] = None,
    db: Db = None,
) -> None:
    """Think-rate, tokens and seconds saved, and auto's estimated accuracy against always- and
    never-think (from shadow pairs, with 95% intervals).

    Each pair is weighted by 1 / its shadow rate (Hajek); the interval is the linearised
    (sandwich) one, its sd floored by pseudo-counts at the effective sample size (Agresti-Min
    for the paired loss, Agresti-Coull for accuracies), so it does not collapse to a point
    when thinking seldom changed an outcome in the sample."""
    from thinkswitch.shadow.pair_labels import labelled_pairs
    from thinkswitch.shadow.report import Window, build_report
    from thinkswitch.shadow.report_render import text_lines, write

    window = Window(parse_since(since), model, policy_version, caller)
    store, _, _ = open_filled_store(db, "report")
    try:
        requests = [record for record in store.records(
            since=window.since, policy=policy_version, caller=caller, kind="request")
            if window.admits(record)]
        pairs = labelled_pairs(store, since=window.since, model=model,
                               policy_version=policy_version, caller=caller)
    finally:
        store.close()
    built = build_report(requests, pairs)
    for line in text_lines(built):
        typer.echo(line)
    if out is not None:
        for path in write(built, out, "What auto costs"):
            typer.echo(f"wrote {path}")
