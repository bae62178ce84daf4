"""`thinkswitch serve`: the OpenAI-compatible server in front of the configured engine."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from thinkswitch.cli.options import (
    BaseUrlOption,
    DataDirOption,
    DialectOption,
    EngineOption,
    ModelOption,
    TraceDbOption,
)
from thinkswitch.factory import build_switch, load_settings


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="port")] = 8000,
    think: Annotated[str, typer.Option(help="default mode when a request says nothing: "
                                       "off, on or auto")] = "auto",
    engine: EngineOption = None,
    model: ModelOption = None,
    dialect: DialectOption = None,
    base_url: BaseUrlOption = None,
    policy: Annotated[str | None, typer.Option(help="triage policy for auto")] = None,
    db: TraceDbOption = None,
    data_dir: DataDirOption = None,
    api_key: Annotated[list[str] | None, typer.Option(
        help="require this API key (repeatable; also THINKSWITCH_API_KEYS, comma-separated)")
    ] = None,
    capacity: Annotated[int, typer.Option(min=1, help="requests inside at once; beyond: 429")] = 16,
    max_body_bytes: Annotated[int, typer.Option(
        min=1024, help="largest request body accepted; beyond: 413")] = 1 << 20,
    cors_origin: Annotated[list[str] | None, typer.Option(
        help="allow browser calls from this origin (repeatable; '*' for any). Default: none")
    ] = None,
) -> None:
    """Serve /v1/chat/completions (streaming and not), /v1/models and /health."""
    import uvicorn

    from thinkswitch.errors import UsageError
    from thinkswitch.server.app import create_app

    if think not in ("off", "on", "auto"):
        raise UsageError(f"unknown mode {think!r}; valid: auto, off, on")
    settings = load_settings(engine=engine, model=model, dialect=dialect, base_url=base_url,
                             policy=policy, trace_db=db, data_dir=data_dir)
    switch = build_switch(settings)
    keys = [*(api_key or []), *filter(None, os.environ.get("THINKSWITCH_API_KEYS", "").split(","))]
    app = create_app(switch, think, api_keys=keys, capacity=capacity,  # type: ignore[arg-type]
                     max_body_bytes=max_body_bytes, cors_origins=cors_origin or ())
    typer.echo(f"thinkswitch serving {switch.engine.name}:{switch.engine.model} at "
               f"http://{host}:{port}/v1 (default mode {think}"
               f"{', API keys required' if keys else ''})")
    uvicorn.run(app, host=host, port=port, log_level="warning")
