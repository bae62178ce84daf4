"""`thinkswitch config check FILE` and `thinkswitch config show FILE`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from thinkswitch.config.load import ConfigFileError, LoadedConfig, load_config, mask_url
from thinkswitch.engines.pool import split_urls
from thinkswitch.factory import load_settings
from thinkswitch.settings import Settings

config_app = typer.Typer(no_args_is_help=True, add_completion=False,
                         help="Check or show a configuration file (TOML or YAML).")

FileArgument = Annotated[Path, typer.Argument(help="the configuration file (.toml, .yaml)")]


def _effective(path: Path) -> tuple[LoadedConfig, Settings]:
    """The loaded file and the settings it gives (file over THINKSWITCH_* over defaults)."""
    loaded = load_config(path)
    return loaded, load_settings(**loaded.settings_values)


@config_app.command()
def check(file: FileArgument) -> None:
    """Validate FILE and list every problem with its location (exit 2), or summarise it."""
    try:
        loaded, settings = _effective(file)
    except ConfigFileError as error:
        count = len(error.problems)
        print(f"{file}: {count} error{'s' if count != 1 else ''}", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        raise typer.Exit(2) from None
    server = loaded.server
    upstreams = split_urls(settings.base_url)
    engine = settings.engine + (f" ({len(upstreams)} upstream"
                                f"{'s' if len(upstreams) != 1 else ''})"
                                if settings.engine == "openai" else "")
    budgets = ", ".join(f"{level} {budget}" for level, budget in server.effort_budgets.items())
    store = mask_url(settings.trace_db) if settings.trace_db else "default SQLite file"
    print(f"{file}: valid")
    print(f"  engine {engine}, model {settings.model or 'default'}, "
          f"dialect {settings.dialect or 'guessed'}")
    print(f"  server {server.host}:{server.port}, default mode {server.default_mode}, "
          f"capacity {server.capacity}"
          f"{f' across {server.workers} workers' if server.workers else ''}, "
          f"{len(server.api_keys)} API key"
          f"{'s' if len(server.api_keys) != 1 else ''}, signing key "
          f"{'shared' if server.signing_key else 'random per process'}")
    print(f"  budgets: default {settings.default_budget}, {budgets}; "
          f"answer cap {settings.answer_max_tokens}")
    print(f"  triage {settings.policy}"
          f"{'' if settings.knob is None else f' (knob {settings.knob})'}; store {store}"
          f"{'' if settings.record else ' (recording off)'}")


def effective_config(loaded: LoadedConfig, settings: Settings) -> dict[str, Any]:
    """Everything the process would run with, secrets masked."""
    values = settings.model_dump(mode="json", by_alias=False)
    if values.get("api_key"):
        values["api_key"] = "***"
    if values.get("trace_db"):
        values["trace_db"] = mask_url(values["trace_db"])
    server = loaded.server
    return {
        "server": {
            "host": server.host, "port": server.port, "default_mode": server.default_mode,
            "capacity": server.capacity, "workers": server.workers,
            "api_keys": ["***"] * len(server.api_keys),
            "signing_key": "***" if server.signing_key else None,
            "max_body_bytes": server.max_body_bytes, "cors_origins": list(server.cors_origins),
        },
        "effort_budgets": dict(server.effort_budgets),
        "settings": values,
        "prices": {name: price.model_dump() for name, price in loaded.file.prices.models.items()},
    }


@config_app.command()
def show(file: FileArgument) -> None:
    """Print the effective configuration of FILE as JSON, secrets masked."""
    loaded, settings = _effective(file)
    print(json.dumps(effective_config(loaded, settings), indent=2))
