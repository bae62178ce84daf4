"""Build a ready `Switch` from one `Settings` object (shared by the CLI and, later, the server)."""

from __future__ import annotations

import time
from typing import Any

from pydantic import ValidationError

from thinkswitch.engines.registry import create_engine
from thinkswitch.kernel.errors import UsageError
from thinkswitch.settings import Settings, default_trace_db
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect, guess_dialect
from thinkswitch.trace.backends import open_store
from thinkswitch.trace.checkpoint import CheckpointSchedule
from thinkswitch.trace.prices import PriceTable
from thinkswitch.trace.recorder import Recorder
from thinkswitch.trace.signing import SigningKey, load_signing_key
from thinkswitch.trace.store import SqlTraceStore
from thinkswitch.triage.registry import policy_factory


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with explicit (non-None) overrides on top."""
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "settings"
        raise UsageError(f"invalid setting {where}: {first['msg']}") from None


def trace_location(settings: Settings) -> str:
    """Where the trace store is; an empty location is an error, not the default store."""
    if settings.trace_db is not None and not settings.trace_db.strip():
        raise UsageError("the trace store location is empty (--db '' or THINKSWITCH_TRACE_DB="
                         "''); leave it unset for the default store")
    return settings.trace_db or str(default_trace_db())


def trace_signing_key(settings: Settings) -> SigningKey | None:
    """The key that signs checkpoints, from its file; None: the log is unkeyed."""
    if settings.trace_signing_key_file is None:
        return None
    return load_signing_key(settings.trace_signing_key_file.expanduser())


def open_trace_store(settings: Settings) -> SqlTraceStore:
    """The configured trace store, signing checkpoints when a key is configured, with the
    retention setting applied (a purge is signed at once)."""
    key = trace_signing_key(settings)
    store = open_store(trace_location(settings))
    if key is not None:
        store.sign_with(key, CheckpointSchedule(every_records=settings.checkpoint_every_records,
                                                every_s=settings.checkpoint_every_s))
    if settings.retention_days is not None:
        store.purge_older_than(time.time() - settings.retention_days * 86400)
    return store


def build_recorder(settings: Settings, prices: PriceTable | None = None) -> Recorder | None:
    """The recorder, pricing with `prices` (a configuration file's) or the prices file."""
    if not settings.record:
        return None
    return Recorder(open_trace_store(settings),
                    prices if prices is not None else PriceTable.load(settings.prices_file),
                    settings.redact)


def build_switch(settings: Settings, record: bool = True,
                 prices: PriceTable | None = None) -> Switch:
    # The policy's name and the store are checked before the engine loads a model; the policy
    # itself is built at the first request in auto mode (`SwitchParts.policy`).
    policy = policy_factory(settings.policy, settings.knob, settings.triage_model)
    recorder = build_recorder(settings, prices) if record else None
    engine = create_engine(settings)
    dialect = get_dialect(settings.dialect or guess_dialect(engine.model))
    return Switch(SwitchParts(engine, dialect, policy, settings, recorder))
