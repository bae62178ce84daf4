"""Triage policies by name; the error lists the valid ones."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from types import MappingProxyType

from thinkswitch.kernel.errors import UnknownNameError, UsageError
from thinkswitch.triage.base import TriagePolicy
from thinkswitch.triage.rules import RulesPolicy


def _rules(knob: float | None, model: Path | None) -> TriagePolicy:
    return RulesPolicy() if knob is None else RulesPolicy(threshold=knob)


def _learned(knob: float | None, model: Path | None) -> TriagePolicy:
    from thinkswitch.triage.learned import LearnedPolicy
    from thinkswitch.triage.tiers import is_tier_file

    if is_tier_file(model):  # a model that carries budget tiers picks the tier too
        return _tiered(knob, model)
    return LearnedPolicy.from_path(model, knob)


def _tiered(knob: float | None, model: Path | None) -> TriagePolicy:
    from thinkswitch.triage.tiers import TieredPolicy, TierModel

    if model is None:
        raise UsageError("the tiered policy needs a budget-tier model: train one with "
                         "`thinkswitch triage train --tiers` and give it as --triage-model")
    return TieredPolicy(TierModel.load(model), knob)


def _cascade(knob: float | None, model: Path | None) -> TriagePolicy:
    from thinkswitch.triage.cascade import CascadePolicy

    return CascadePolicy() if knob is None else CascadePolicy(threshold=knob)


POLICIES: Mapping[str, Callable[[float | None, Path | None], TriagePolicy]] = MappingProxyType(
    {"rules": _rules, "learned": _learned, "cascade": _cascade, "tiered": _tiered}
)


def get_policy(name: str, knob: float | None = None, model: Path | None = None) -> TriagePolicy:
    """A policy by name; `knob` is its threshold in [0, 1] (None: the policy's default; for
    `cascade` it is the confidence below which the request thinks);
    `model` a trained model file for `learned` (None: the one shipped in the package)."""
    return policy_factory(name, knob, model)()


def policy_factory(name: str, knob: float | None = None,
                   model: Path | None = None) -> Callable[[], TriagePolicy]:
    """`get_policy` in two halves: the name and the knob are checked now, the policy (for
    `learned`: numpy and a model file) is built when the returned callable is called."""
    if knob is not None and not 0.0 <= knob <= 1.0:
        raise UsageError(f"policy knob must be in [0, 1], got {knob}")
    try:
        factory = POLICIES[name]
    except KeyError:
        raise UnknownNameError("policy", name, POLICIES) from None
    return partial(factory, knob, model)
