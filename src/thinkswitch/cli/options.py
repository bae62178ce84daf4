"""Command-line options that several commands share, declared once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from thinkswitch.kernel.errors import UsageError

EngineOption = Annotated[str | None, typer.Option(help="engine name (thinkswitch engines)")]
ModelOption = Annotated[str | None, typer.Option(help="GGUF path or model name")]
DialectOption = Annotated[str | None, typer.Option(help="override the model's dialect")]
BaseUrlOption = Annotated[str | None, typer.Option(help="OpenAI-compatible base URL")]
DataDirOption = Annotated[Path | None, typer.Option(help="data directory (THINKSWITCH_DATA)")]
TraceDbOption = Annotated[str | None,
                          typer.Option(help="trace store: SQLite path or postgres URL")]


def parse_since(text: str | None) -> float | None:
    """A `--since` date or time (UTC unless it says otherwise) as a Unix time; None for None."""
    if text is None:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--since wants a date or time like 2026-11-28 or "
                         f"2026-11-28T09:30, got {text!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()
