"""How a thinking budget reaches an OpenAI-compatible upstream (`budget_style`).

- `cut` (any server): thinking deltas are counted here and the stream is closed at the budget,
  then a second call asks for the answer (see `openai_compat`).
- `thinking_token_budget`: vLLM's per-request cap; the server stops thinking itself.
- `thinking_budget_tokens`: llama.cpp server's per-request reasoning budget (its
  `--reasoning-budget` per request; 0 ends thinking at once, so thinking off sends 0).
- `ollama_think`: Ollama's `think` switch: `false` when off; when on, the level the dialect
  asks (`reasoning_effort` low/medium/high, for models that take levels such as gpt-oss), else
  `true`. Ollama has no token cap, so the budget is still held by cutting, as for `cut`.

Each style is a function from the plan (and the dialect's own request fields) to the fields
to send and whether the budget is held by cutting.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from thinkswitch.kernel.plan import ThinkingPlan

OLLAMA_LEVELS = frozenset({"low", "medium", "high"})


@dataclass(frozen=True)
class NativeBudget:
    """Body fields that carry the budget, and whether the stream must be cut at it."""

    fields: Mapping[str, object] = field(default_factory=dict)
    cut: bool = False


def _cut(plan: ThinkingPlan, extras: Mapping[str, object]) -> NativeBudget:
    return NativeBudget(cut=plan.mode == "on" and plan.budget is not None)


def _vllm(plan: ThinkingPlan, extras: Mapping[str, object]) -> NativeBudget:
    if plan.mode == "on" and plan.budget is not None:
        return NativeBudget({"thinking_token_budget": plan.budget})
    return NativeBudget()


def _llama_server(plan: ThinkingPlan, extras: Mapping[str, object]) -> NativeBudget:
    if plan.mode == "off":
        return NativeBudget({"thinking_budget_tokens": 0})
    return NativeBudget({} if plan.budget is None else {"thinking_budget_tokens": plan.budget})


def _ollama(plan: ThinkingPlan, extras: Mapping[str, object]) -> NativeBudget:
    if plan.mode == "off":
        return NativeBudget({"think": False})
    level = extras.get("reasoning_effort")
    think: object = level if level in OLLAMA_LEVELS else True
    return NativeBudget({"think": think}, cut=plan.budget is not None)


BUDGET_STYLES: Mapping[str, Callable[[ThinkingPlan, Mapping[str, object]], NativeBudget]] = (
    MappingProxyType({"cut": _cut, "thinking_token_budget": _vllm,
                      "thinking_budget_tokens": _llama_server, "ollama_think": _ollama}))


def native_budget(style: str, plan: ThinkingPlan,
                  extras: Mapping[str, object]) -> NativeBudget:
    """What `style` sends for `plan` (`extras`: the dialect's request fields)."""
    return BUDGET_STYLES[style](plan, extras)
