"""What one `thinkswitch serve` process runs: its options (flags over the config file over
`THINKSWITCH_*` variables over defaults), its app, its reload on SIGHUP and its learner. The
single-process server (`serve_cmd`) and each worker of several (`supervisor`) build alike."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from thinkswitch.config.load import LoadedConfig, ServerOptions, load_config
from thinkswitch.config.server_env import with_environment
from thinkswitch.factory import build_switch, load_settings
from thinkswitch.kernel.errors import UsageError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from thinkswitch.server.worker_board import Seat
    from thinkswitch.settings import Settings


def resolve_options(config: Path | None, server_flags: dict[str, Any],
                    environ: Mapping[str, str] | None = None,
                    ) -> tuple[LoadedConfig | None, ServerOptions]:
    """The config file (if any) and the server options from flags, file and environment."""
    env = os.environ if environ is None else environ
    loaded = load_config(config, env) if config is not None else None
    options = replace(with_environment(loaded.server if loaded is not None else ServerOptions(),
                                       env, loaded.file.server if loaded is not None else None),
                      **{key: value for key, value in server_flags.items() if value is not None})
    if not options.api_keys:  # flags, then the file, then the environment
        from_env = tuple(filter(None, env.get("THINKSWITCH_API_KEYS", "").split(",")))
        options = replace(options, api_keys=from_env)
    if options.workers is None:  # not set by a flag, the file or THINKSWITCH_WORKERS
        options = replace(options, workers=1)
    return loaded, options


def signing_key_of(options: ServerOptions) -> bytes:
    """The configured signing key, else the one kept in the state directory."""
    from thinkswitch.server.secret import load_or_create_secret
    from thinkswitch.settings import default_state_dir

    return options.signing_key or load_or_create_secret(default_state_dir() / "server-secret")


def settings_of(loaded: LoadedConfig | None, settings_flags: dict[str, Any]) -> Settings:
    """The settings: flags over the file over `THINKSWITCH_*` variables over defaults."""
    file_values = loaded.settings_values if loaded is not None else {}
    return load_settings(**{**file_values, **{
        key: value for key, value in settings_flags.items() if value is not None}})


def build_app(loaded: LoadedConfig | None, options: ServerOptions,
              settings_flags: dict[str, Any], seat: Seat | None = None) -> FastAPI:
    """The app of one server process; with a `seat`, one worker of several (see
    `thinkswitch.cli.supervisor`)."""
    from thinkswitch.server.app import create_app
    from thinkswitch.server.host_guard import host_allowlist

    settings = settings_of(loaded, settings_flags)
    if seat is not None:  # the workers split the shadow token cap, and draw apart
        seed = settings.shadow_seed
        settings = settings.model_copy(update={
            "shadow_tokens_per_minute": share_of(settings.shadow_tokens_per_minute, seat),
            "shadow_seed": None if seed is None else seed + seat.index})
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
    app = create_app(switch, options.default_mode, signing_key=signing_key_of(options),
                     api_keys=options.api_keys, capacity=options.capacity,
                     max_body_bytes=options.max_body_bytes, cors_origins=options.cors_origins,
                     effort_budgets=options.effort_budgets, owns_switch=True,
                     body_timeout_s=options.body_timeout_s, meta=options.meta_endpoints,
                     reasoning_field=options.reasoning_field,
                     model_budgets=options.model_budgets,
                     allowed_hosts=host_allowlist(options.host, options.allowed_hosts),
                     seat=seat)
    app.state.engine_label = f"{switch.engine.name}:{switch.engine.model}"
    app.state.switch = switch
    return app


def share_of(total: int, seat: Seat) -> int:
    """The seat's part of `total` split over the workers, the remainder to the first ones: the
    parts sum to `total` (a cap of 1 token with 2 workers is 1 and 0, not 0 and 0)."""
    share, remainder = divmod(total, seat.workers)
    return share + (1 if seat.index < remainder else 0)


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


def start_learning(app: FastAPI, every: int, promoted: Callable[[], None] | None = None
                   ) -> None:
    from thinkswitch.cli.triage_learn_cmd import default_policy_dir
    from thinkswitch.shadow.learning import Learner
    from thinkswitch.triage.promotion import LivePolicy

    switch = app.state.switch
    if not isinstance(switch.policy, LivePolicy):
        raise UsageError("--learn needs the learned policy and recording on")
    learner = Learner(switch, every, default_policy_dir(), promoted=promoted)
    learner.start()
    app.state.learner = learner
