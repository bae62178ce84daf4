"""`thinkswitch serve`: the OpenAI-compatible server in front of the configured engine."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from thinkswitch.cli.options import (
    BaseUrlOption,
    DataDirOption,
    DialectOption,
    EngineOption,
    ModelOption,
    TraceDbOption,
    engine_overrides,
)
from thinkswitch.cli.serve_app import (
    build_app,
    reload_on_hangup,
    resolve_options,
    settings_of,
    signing_key_of,
    start_learning,
)
from thinkswitch.config.load import ServerOptions
from thinkswitch.kernel.errors import UsageError
from thinkswitch.settings import MAX_WORKERS

if TYPE_CHECKING:
    from fastapi import FastAPI


def serve(
    config: Annotated[Path | None, typer.Option(
        help="configuration file (TOML or YAML; see `thinkswitch config check`); "
        "the flags below override it")] = None,
    host: Annotated[str | None, typer.Option(help="address to listen on [default: 127.0.0.1]")
                    ] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="port [default: 8000]")
                    ] = None,
    think: Annotated[str | None, typer.Option(help="default mode when a request says nothing: "
                                              "off, on or auto [default: auto]")] = None,
    engine: EngineOption = None,
    model: ModelOption = None,
    dialect: DialectOption = None,
    base_url: BaseUrlOption = None,
    policy: Annotated[str | None, typer.Option(help="triage policy for auto")] = None,
    db: TraceDbOption = None,
    data_dir: DataDirOption = None,
    api_key: Annotated[list[str] | None, typer.Option(
        help="require this API key (repeatable; else the config file's keys, else "
        "THINKSWITCH_API_KEYS, comma-separated). A key on the command line is visible to "
        "every local user (ps, /proc): prefer the config file's keys_file or the variable")
    ] = None,
    capacity: Annotated[int | None, typer.Option(
        min=1, max=100_000, help="requests inside at once; beyond: 429 [default: 16]")] = None,
    max_body_bytes: Annotated[int | None, typer.Option(
        min=1024, max=1 << 30,
        help="largest request body accepted; beyond: 413 [default: 1048576]")] = None,
    cors_origin: Annotated[list[str] | None, typer.Option(
        help="allow browser calls from this origin (repeatable; '*' for any). Default: none")
    ] = None,
    learn: Annotated[int | None, typer.Option(
        min=1, help="retrain on the shadow pairs every N new labelled ones and promote the "
        "result behind the guard (see `thinkswitch triage promote`)")] = None,
    shadow_rate: Annotated[float | None, typer.Option(
        help="share of auto requests whose other side is run after the answer when capacity "
        "is free, to measure what auto costs (see `thinkswitch triage report`) [default: 0]")
    ] = None,
    meta_endpoints: Annotated[str | None, typer.Option(
        help="who may read /metrics and /openapi.json: open, key or closed "
        "[default: closed with API keys, else open]")] = None,
    reasoning_field: Annotated[str | None, typer.Option(
        help="chat-completions field for thinking: reasoning_content, reasoning or both "
        "[default: reasoning_content]")] = None,
    write_timeout_s: Annotated[float | None, typer.Option(
        help="seconds a client may leave a response unread before its connection is aborted "
        "(or THINKSWITCH_WRITE_TIMEOUT_S) [default: 60]")] = None,
    workers: Annotated[int | None, typer.Option(
        min=1, max=MAX_WORKERS, help="server processes on one port, sharing --capacity, the "
        "counters and policy reloads; up to one per core [default: THINKSWITCH_WORKERS, "
        "else 1]")] = None,
) -> None:
    """Serve /v1/chat/completions (streaming and not), /v1/models and /health."""
    import uvicorn

    from thinkswitch.server.exposure import EXPOSURES
    from thinkswitch.server.protocol import server_config

    if think not in (None, "off", "on", "auto"):
        raise UsageError(f"unknown mode {think!r}; valid: auto, off, on")
    if shadow_rate is not None and not 0.0 <= shadow_rate <= 1.0:
        raise UsageError(f"--shadow-rate must be between 0 and 1, not {shadow_rate:g}")
    if meta_endpoints not in (None, *EXPOSURES):
        raise UsageError(f"unknown --meta-endpoints {meta_endpoints!r}; valid: "
                         f"{', '.join(EXPOSURES)}")
    if reasoning_field not in (None, "reasoning_content", "reasoning", "both"):
        raise UsageError(f"unknown reasoning field {reasoning_field!r}; valid: both, reasoning, "
                         "reasoning_content")
    if write_timeout_s is not None and not 0 < write_timeout_s <= 3600:
        raise UsageError(f"--write-timeout-s must be above 0 and at most 3600, not "
                         f"{write_timeout_s:g}")
    settings_flags = {**engine_overrides(engine, model, dialect, base_url, data_dir),
                      "policy": policy, "trace_db": db, "shadow_rate": shadow_rate}
    server_flags = {"host": host, "port": port, "default_mode": think, "capacity": capacity,
                    "api_keys": tuple(api_key) if api_key else None,
                    "max_body_bytes": max_body_bytes, "meta_endpoints": meta_endpoints,
                    "cors_origins": tuple(cors_origin) if cors_origin else None,
                    "reasoning_field": reasoning_field, "write_timeout_s": write_timeout_s,
                    "workers": workers}
    loaded, options = resolve_options(config, server_flags)
    if options.workers != 1:
        from thinkswitch.cli.supervisor import WorkerSpec, supervise

        settings_of(loaded, settings_flags)  # bad settings: one error here, not one per worker
        raise typer.Exit(supervise(WorkerSpec(config, settings_flags, server_flags, learn),
                                   options, signing_key_of(options)))
    app = build_app(loaded, options, settings_flags)
    reload_on_hangup(app)
    if learn is not None:
        start_learning(app, learn)
    typer.echo(f"thinkswitch serving {app.state.engine_label} at "
               f"http://{options.host}:{options.port}/v1 (default mode {options.default_mode}"
               f"{', API keys required' if options.api_keys else ''})")
    typer.echo(f"chat page: http://{options.host}:{options.port}/")
    uvicorn.Server(server_config(app, options.host, options.port, options.header_timeout_s,
                                 options.max_header_bytes, options.write_timeout_s,
                                 log_level="warning")).run()


def build_server(config: Path | None, settings_flags: dict[str, Any],
                 server_flags: dict[str, Any], environ: Mapping[str, str] | None = None,
                 ) -> tuple[FastAPI, ServerOptions]:
    """The app and its server options. Flags (non-None values) win over the config file,
    which wins over `THINKSWITCH_*` variables, which win over defaults."""
    loaded, options = resolve_options(config, server_flags, environ)
    return build_app(loaded, options, settings_flags), options
