"""Command-line options that several commands share, declared once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer

from thinkswitch.kernel.errors import UsageError

EngineOption = Annotated[str | None, typer.Option(help="engine name (thinkswitch engines)")]
ModelOption = Annotated[str | None, typer.Option(help="GGUF path or model name")]
DialectOption = Annotated[str | None, typer.Option(help="override the model's dialect")]
BaseUrlOption = Annotated[str | None, typer.Option(help="OpenAI-compatible base URL")]
DataDirOption = Annotated[Path | None, typer.Option(help="data directory (THINKSWITCH_DATA)")]
TraceDbOption = Annotated[str | None,
                          typer.Option(help="trace store: SQLite path or postgres URL")]


def engine_overrides(engine: str | None, model: str | None, dialect: str | None,
                     base_url: str | None, data_dir: Path | None) -> dict[str, Any]:
    """The engine options every model-running command takes (`--engine --model --dialect
    --base-url --data-dir`) as `Settings` overrides; None is an option not given, which
    `load_settings` leaves to the environment and the defaults."""
    return {"engine": engine, "model": model, "dialect": dialect, "base_url": base_url,
            "data_dir": data_dir}


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
