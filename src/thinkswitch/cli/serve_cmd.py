"""`thinkswitch serve`: the OpenAI-compatible server in front of the configured engine."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
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
from thinkswitch.config.load import ServerOptions, load_config
from thinkswitch.config.server_env import with_environment
from thinkswitch.factory import build_switch, load_settings

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
) -> None:
    """Serve /v1/chat/completions (streaming and not), /v1/models and /health."""
    import uvicorn

    from thinkswitch.kernel.errors import UsageError
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
                    "reasoning_field": reasoning_field, "write_timeout_s": write_timeout_s}
    app, options = build_server(config, settings_flags, server_flags)
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
    from thinkswitch.server.app import create_app
    from thinkswitch.server.host_guard import host_allowlist
    from thinkswitch.server.secret import load_or_create_secret
    from thinkswitch.settings import default_state_dir

    env = os.environ if environ is None else environ
    loaded = load_config(config, env) if config is not None else None
    options = replace(with_environment(loaded.server if loaded is not None else ServerOptions(),
                                       env, loaded.file.server if loaded is not None else None),
                      **{key: value for key, value in server_flags.items() if value is not None})
    if not options.api_keys:  # flags, then the file, then the environment
        from_env = tuple(filter(None, env.get("THINKSWITCH_API_KEYS", "").split(",")))
        options = replace(options, api_keys=from_env)
    file_values = loaded.settings_values if loaded is not None else {}
    settings = load_settings(**{**file_values, **{
        key: value for key, value in settings_flags.items() if value is not None}})
    # inline [prices.models] of the file, else the prices file of the settings
    switch = build_switch(settings, prices=loaded.prices if loaded is not None else None)
    from thinkswitch.triage.tiers import is_tier_file

    # (a budget-tier model is served as it is: promotion guards only learned's own models)
    if (settings.policy == "learned" and switch.trace_store is not None
            and not is_tier_file(settings.triage_model)):
        from thinkswitch.shadow.promotion import live_policy

        # The store's latest promoted model, if any; the server can swap it while running.
        switch.policy = live_policy(switch.trace_store, settings.triage_model, settings.knob)
    switch.policy  # noqa: B018  a server builds its policy at start, not in the first request
    signing_key = options.signing_key or load_or_create_secret(
        default_state_dir() / "server-secret")
    app = create_app(switch, options.default_mode, signing_key=signing_key,
                     api_keys=options.api_keys, capacity=options.capacity,
                     max_body_bytes=options.max_body_bytes, cors_origins=options.cors_origins,
                     effort_budgets=options.effort_budgets, owns_switch=True,
                     body_timeout_s=options.body_timeout_s, meta=options.meta_endpoints,
                     reasoning_field=options.reasoning_field,
                     model_budgets=options.model_budgets,
                     allowed_hosts=host_allowlist(options.host, options.allowed_hosts))
    app.state.engine_label = f"{switch.engine.name}:{switch.engine.model}"
    app.state.switch = switch
    return app, options


def reload_on_hangup(app: FastAPI) -> None:
    """SIGHUP: take the trace store's latest promoted policy (as POST /admin/policy/reload)."""
    import signal

    from thinkswitch.kernel.errors import ThinkswitchError
    from thinkswitch.server.admin import reload_switch_policy

    def hangup(signum: int, frame: object) -> None:
        try:
            typer.echo(f"SIGHUP: {reload_switch_policy(app.state.switch)}")
        except ThinkswitchError as error:
            typer.echo(f"SIGHUP: policy not reloaded: {error}", err=True)

    signal.signal(signal.SIGHUP, hangup)


def start_learning(app: FastAPI, every: int) -> None:
    from thinkswitch.cli.triage_learn_cmd import default_policy_dir
    from thinkswitch.kernel.errors import UsageError
    from thinkswitch.shadow.learning import Learner
    from thinkswitch.triage.promotion import LivePolicy

    switch = app.state.switch
    if not isinstance(switch.policy, LivePolicy):
        raise UsageError("--learn needs the learned policy and recording on")
    learner = Learner(switch, every, default_policy_dir())
    learner.start()
    app.state.learner = learner
