"""Effort levels (`reasoning_effort`, `reasoning.effort`, Anthropic's `output_config.effort`)
as thinking budgets.

`none` and `minimal` switch thinking off; `low`, `medium`, `high` and `xhigh` switch it on
under the budget the configuration's `[budgets]` gives the level. `xhigh` is twice `high`
unless `[budgets]` names it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from thinkswitch.kernel.errors import UsageError

Effort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]
OFF_EFFORTS = frozenset({"none", "minimal"})
MODE_SUFFIXES = (":think", ":nothink", ":auto")


def effort_budget(effort: str, budgets: Mapping[str, int]) -> int:
    """The thinking budget of an effort level that switches thinking on."""
    if effort in budgets:
        return budgets[effort]
    if effort == "xhigh" and "high" in budgets:
        return 2 * budgets["high"]
    raise UsageError(f"reasoning effort {effort!r} has no budget")


@dataclass(frozen=True)
class EffortTable:
    """Effort budgets per model: `[budgets.models."name"]` of the configuration file, else the
    server's `[budgets]`. A request's model (without a mode suffix) is looked up first, then
    the engine's model."""

    default: Mapping[str, int]
    models: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    engine_model: str = ""

    def for_model(self, model: str) -> Mapping[str, int]:
        for suffix in MODE_SUFFIXES:
            model = model.removesuffix(suffix)
        return self.models.get(model) or self.models.get(self.engine_model) or self.default

