"""`thinkswitch logs feedback`: what people said about steps and answers, as CSV or JSONL."""

from __future__ import annotations

import csv
import json
import sys
from typing import Annotated

import typer

from thinkswitch.cli.options import parse_since
from thinkswitch.cli.terminal_text import spreadsheet_cell
from thinkswitch.factory import load_settings, open_trace_store
from thinkswitch.kernel.errors import UsageError
from thinkswitch.trace.feedback import ANSWER_VERDICTS, STEP_VERDICTS, public

COLUMNS = ("id", "trace_id", "created_at", "step", "verdict", "comment", "correction", "mode",
           "policy")


def feedback_cmd(
    since: Annotated[str | None, typer.Option(help="only feedback from this UTC time on")] = None,
    verdict: Annotated[str | None, typer.Option(help="wrong, unclear, unnecessary, good, "
                                                "right")] = None,
    format: Annotated[str, typer.Option("--format", help="jsonl or csv")] = "jsonl",
    db: Annotated[str | None, typer.Option(help="trace store: SQLite path or postgresql:// "
                                           "URL")] = None,
) -> None:
    """Feedback on steps and answers, oldest first, to stdout."""
    if format not in ("jsonl", "csv"):
        raise UsageError(f"unknown format {format!r}; valid: csv, jsonl")
    valid = sorted({*STEP_VERDICTS, *ANSWER_VERDICTS})
    if verdict is not None and verdict not in valid:
        raise UsageError(f"unknown verdict {verdict!r}; valid: {', '.join(valid)}")
    when = parse_since(since)
    store = open_trace_store(load_settings(trace_db=db))
    try:
        rows = [public(record) for record in store.related("feedback", since=when)
                if verdict is None or (record.feedback or {}).get("verdict") == verdict]
    finally:
        store.close()
    if format == "jsonl":
        for row in rows:
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    writer = csv.writer(sys.stdout)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in COLUMNS])


def _cell(value: object) -> object:
    """A redacted text (a fingerprint) as its hash; text that a spreadsheet would run as a
    formula with a leading `'`; everything else as it is."""
    if isinstance(value, dict):
        return f"sha256:{value.get('sha256', '')}"
    return "" if value is None else spreadsheet_cell(value)
