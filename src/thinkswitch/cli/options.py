"""Command-line options that several commands share, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EngineOption = Annotated[str | None, typer.Option(help="engine name (thinkswitch engines)")]
ModelOption = Annotated[str | None, typer.Option(help="GGUF path or model name")]
DialectOption = Annotated[str | None, typer.Option(help="override the model's dialect")]
BaseUrlOption = Annotated[str | None, typer.Option(help="OpenAI-compatible base URL")]
DataDirOption = Annotated[Path | None, typer.Option(help="data directory (THINKSWITCH_DATA)")]
TraceDbOption = Annotated[str | None,
                          typer.Option(help="trace store: SQLite path or postgres URL")]
