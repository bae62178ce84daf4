"""Build a ready `Switch` from one `Settings` object (shared by the CLI and, later, the server)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from thinkswitch.engines.registry import create_engine
from thinkswitch.errors import UsageError
from thinkswitch.settings import Settings
from thinkswitch.switch import Switch
from thinkswitch.thinking.dialects import get_dialect, guess_dialect
from thinkswitch.triage.registry import get_policy


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with explicit (non-None) overrides on top."""
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "settings"
        raise UsageError(f"invalid setting {where}: {first['msg']}") from None


def build_switch(settings: Settings) -> Switch:
    engine = create_engine(settings)
    dialect = get_dialect(settings.dialect or guess_dialect(engine.model))
    policy = get_policy(settings.policy, settings.knob, settings.triage_model)
    return Switch(engine, dialect, policy, settings)
