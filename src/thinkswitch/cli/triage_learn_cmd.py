"""`thinkswitch triage train --from-traces` and `thinkswitch triage promote`: learning from the
traffic, behind the guard (see thinkswitch.triage.guard and thinkswitch.triage.promotion)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from thinkswitch.cli.options import parse_since
from thinkswitch.factory import load_settings, open_trace_store
from thinkswitch.kernel.errors import UsageError
from thinkswitch.settings import default_state_dir, default_trace_db
from thinkswitch.trace.backends import is_postgres

if TYPE_CHECKING:
    from thinkswitch.outcomes.paired import PairedTable
    from thinkswitch.trace.store import SqlTraceStore
    from thinkswitch.triage.features import Featurizer
    from thinkswitch.triage.learned import LearnedModel


def default_policy_dir() -> Path:
    return default_state_dir() / "policies"


def open_filled_store(db: str | None, purpose: str = "learn from"
                      ) -> tuple[SqlTraceStore, str, Path | None]:
    """The trace store (refused when it does not exist, or holds nothing to `purpose`), its
    name and the configured triage model."""
    settings = load_settings(trace_db=db)
    where = settings.trace_db or str(default_trace_db())
    if not is_postgres(where) and not Path(where).expanduser().is_file():
        raise UsageError(f"no trace store at {where}; serve with recording on first, or give "
                         "--db")
    store = open_trace_store(settings)
    if not store.records(limit=1):
        store.close()
        raise UsageError(f"the trace store {where} is empty: nothing to {purpose}")
    return store, where, settings.triage_model


def train_from_traces(db: str | None, since: str | None, holdout: float,
                      tables: Sequence[PairedTable], version: str | None,
                      features: Featurizer) -> tuple[LearnedModel, str]:
    from thinkswitch.shadow.promotion import store_examples
    from thinkswitch.triage.trace_training import train_on_examples

    start = parse_since(since)
    store, where, _ = open_filled_store(db)
    try:
        examples = store_examples(store, start)
    finally:
        store.close()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    trained = train_on_examples(examples, tables, holdout, version or f"traces-{stamp}",
                                features)
    summary = (f"{trained.trained_pairs} labelled shadow pairs of {where} "
               f"({trained.held_out} newest kept out for the guard)"
               + (f" and {trained.table_rows} outcome rows" if tables else ""))
    return trained.model, summary


def promote(
    candidate: Annotated[Path, typer.Argument(help="the trained model file (.npz)")],
    db: Annotated[str | None, typer.Option(help="trace store (SQLite path or postgresql://)")
                  ] = None,
    confidence: Annotated[float, typer.Option(
        min=0.5, max=0.999, help="one-sided level of the not-worse test")] = 0.95,
    min_pairs: Annotated[int, typer.Option(
        min=1, help="fewest pairs newer than the live policy's training to judge on")] = 20,
    policy_dir: Annotated[Path | None, typer.Option(
        help="where promoted models are kept [default: policies/ in the data directory]")
    ] = None,
    force: Annotated[bool, typer.Option(
        help="promote even if the guard refuses (recorded as forced)")] = False,
) -> None:
    """Judge CANDIDATE against the live policy on shadow pairs neither trained on, at equal
    think-rate; promote it (recorded in the trace store, both checksums) only if the guard
    passes. A running server takes it on SIGHUP or POST /admin/policy/reload.

    The test: per labelled pair, d = right(candidate's side) - right(live's
    side), each model thinking on its own top share of the pairs, averaged
    over think-rates 10%, 20%, ..., 90%. The pairs newer than the live
    policy's training are cut into 5 blocks by time; each block is scored by
    the candidate's recipe re-fit on the pairs older than it (rolling origin)
    and by the live policy. Promote only if (1) the standard error of the
    mean of d is at most 3 points (enough pairs for their spread) and its
    one-sided upper bound (paired bootstrap, --confidence) is >= 0: not worse
    beyond noise; (2) on the pairs it trained on, the candidate's own learned
    score correlates >= 0.9 with its recipe re-fit on them, and more than the
    re-fits on 19 label-permuted copies of those pairs do (a permutation
    test: above all 19 and above their 1 - 1e-4 normal prediction bound, in
    Fisher's z): it learned these labels (a model trained on shuffled labels
    is a draw of that null); (3) on pairs it kept out, if any, it is not
    worse beyond noise."""
    from thinkswitch.shadow.promotion import promote as run_promotion
    from thinkswitch.triage.guard import GuardOptions

    store, _, configured = open_filled_store(db)
    try:
        verdict, record = run_promotion(
            store, candidate, policy_dir or default_policy_dir(), configured,
            GuardOptions(confidence=confidence, min_examples=min_pairs), force=force)
    finally:
        store.close()
    typer.echo(verdict.reason)
    if record is None:
        raise typer.Exit(1)
    body = record.answer if isinstance(record.answer, dict) else {}
    typer.echo(f"live policy: learned@{body.get('candidate_version')} (sha256 "
               f"{str(body.get('candidate_sha256'))[:16]}, was {str(body.get('live_sha256'))[:16]}"
               f"); recorded as {record.id}; reload a running server with SIGHUP or "
               "POST /admin/policy/reload")
