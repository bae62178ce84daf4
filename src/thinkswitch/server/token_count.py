"""How many tokens a request's prompt is, before generation (Anthropic's `count_tokens` and
`message_start`).

The prompt is the one the engine will be sent: the dialect's prompt for the decided mode (a
thinking prompt may carry an extra system turn). An engine that tokenizes locally (the
embedded llama.cpp engine) counts it exactly; for an engine behind HTTP the count is an
estimate, a token per four characters of the prompt's text and tools, because the upstream
tokenizer is not reachable (its own usage, reported at the end, is exact).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.request import Request
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import PromptPlan

CHARS_PER_TOKEN = 4


@runtime_checkable
class PromptTokenizer(Protocol):
    """An engine that can tokenize the prompt it would be sent."""

    def prompt_tokens(self, prompt: PromptPlan) -> list[int]: ...


def estimate(prompt: PromptPlan, options: Mapping[str, Any]) -> int:
    text = sum(len(turn.content) + len(json.dumps(turn.tool_calls or []))
               for turn in prompt.messages)
    text += len(prompt.prefill) + len(json.dumps(options.get("tools") or []))
    return max(1, -(-text // CHARS_PER_TOKEN))


def prompt_token_count(switch: Switch, request: Request, decision: Decision) -> int:
    """The input tokens of `request` once `decision` is made."""
    generation = switch.generation(request, decision)
    prompt = switch.dialect.prepare(generation.messages, generation.plan)
    if isinstance(switch.engine, PromptTokenizer):
        return len(switch.engine.prompt_tokens(prompt))
    return estimate(prompt, request.options)
