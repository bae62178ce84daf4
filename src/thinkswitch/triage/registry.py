"""Triage policies by name; the error lists the valid ones."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from thinkswitch.errors import UnknownNameError, UsageError
from thinkswitch.triage.base import TriagePolicy
from thinkswitch.triage.rules import RulesPolicy

POLICIES: Mapping[str, Callable[[float | None], TriagePolicy]] = MappingProxyType(
    {"rules": lambda knob: RulesPolicy() if knob is None else RulesPolicy(threshold=knob)}
)


def get_policy(name: str, knob: float | None = None) -> TriagePolicy:
    """A policy by name; `knob` is its threshold in [0, 1] (None: the policy's default)."""
    if knob is not None and not 0.0 <= knob <= 1.0:
        raise UsageError(f"policy knob must be in [0, 1], got {knob}")
    try:
        factory = POLICIES[name]
    except KeyError:
        raise UnknownNameError("policy", name, POLICIES) from None
    return factory(knob)
