"""Request bodies of the `openai` engine, and where its reasoning parser starts.

- OpenAI reasoning models (`openai_effort`, not `local`) reject `temperature` and
  `max_tokens`: for them the body carries `max_completion_tokens` and no temperature.
- An assistant prefill is sent with `continue_final_message` (vLLM, SGLang), only when the
  engine is configured to (`send_prefill`). Without it a dialect's prefilled start marker is
  never sent, so the model was not put inside thinking: its output is parsed with thinking
  `optional` instead.
"""

from __future__ import annotations

from collections.abc import Mapping

from thinkswitch.kernel.plan import GenerationRequest
from thinkswitch.thinking.dialects import Dialect, PromptPlan
from thinkswitch.thinking.parsers import StartState


def chat_body(
    model: str,
    request: GenerationRequest,
    dialect: Dialect,
    prompt: PromptPlan,
    *,
    max_tokens: int | None,
    prefill: str = "",
    extras: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """One streamed `/chat/completions` body."""
    messages = [m.wire() for m in prompt.messages]
    body: dict[str, object] = {
        "model": model,
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if dialect.local:
        body["temperature"] = request.temperature
    if request.seed is not None:
        body["seed"] = request.seed
    if max_tokens is not None:
        body["max_tokens" if dialect.local else "max_completion_tokens"] = max_tokens
    body.update(request.options)
    body.update(prompt.request_extras)
    body.update(extras or {})
    if prefill:
        messages.append({"role": "assistant", "content": prefill})
        body["continue_final_message"] = True
        body["add_generation_prompt"] = False
    return body


def parse_start(prompt: PromptPlan, dialect: Dialect, send_prefill: bool) -> StartState:
    """Where the parser starts: `optional` when the prefill that would open the thinking is
    not sent."""
    opened_by_prefill = prompt.prefill.lstrip().startswith(dialect.parser.start)
    if prompt.start_state == "inside" and opened_by_prefill and not send_prefill:
        return "optional"
    return prompt.start_state
