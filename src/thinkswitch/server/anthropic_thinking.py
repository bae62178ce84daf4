"""Anthropic's current thinking controls, mapped onto the switch.

- `thinking: {type: enabled, budget_tokens}`: on, under that budget; `budget_tokens` must be
  below `max_tokens`, which bounds thinking and text together (Anthropic's rule and error).
- `thinking: {type: adaptive}` (and thinkswitch's `auto`): the triage policy decides.
- `thinking: {type: disabled}`: off.
- `thinking.display`: `summarized` shows a summary of the thinking (extractive, see
  `thinking/summary.py`), `omitted` shows an empty thinking block with its signature; without
  it the whole thinking is shown, as thinkswitch always has.
- `output_config: {effort}`: the budget as for `reasoning_effort` (`[budgets]`; `max` is the
  `xhigh` budget); it does not switch thinking on by itself, as on Anthropic's API.
- `output_config: {format: {type: json_schema, schema}}` (the SDKs' `messages.parse`): the
  engine's `response_format` (see `anthropic_api.engine_options`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from thinkswitch.kernel.decision import RequestedMode
from thinkswitch.kernel.errors import UsageError
from thinkswitch.server.bounds import TokenCount
from thinkswitch.server.efforts import effort_budget
from thinkswitch.thinking.summary import summarize

Display = Literal["summarized", "omitted"]
THINKING_TYPES: Mapping[str, RequestedMode] = {"enabled": "on", "disabled": "off",
                                               "adaptive": "auto", "auto": "auto"}
#: Anthropic's effort names in thinkswitch's [budgets] levels.
EFFORT_LEVELS: Mapping[str, str] = {"low": "low", "medium": "medium", "high": "high",
                                    "max": "xhigh"}


class AnthropicThinking(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["enabled", "disabled", "adaptive", "auto"]
    budget_tokens: TokenCount | None = Field(None, description="cap on thinking tokens")
    display: Display | None = Field(None, description="summarized or omitted thinking")


class JsonOutputFormat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["json_schema"]
    schema_: dict[str, Any] = Field(alias="schema", description="the JSON schema of the text")

    def response_format(self) -> dict[str, Any]:
        """The same request in OpenAI's `response_format` shape, as engines take it."""
        return {"type": "json_schema",
                "json_schema": {"name": "output", "schema": self.schema_, "strict": True}}


class OutputConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    effort: Literal["low", "medium", "high", "max"] | None = Field(
        None, description="the thinking budget, as reasoning_effort")
    format: JsonOutputFormat | None = Field(None, description="structured output: JSON text "
                                            "following a schema")


def control(thinking: AnthropicThinking | None, output: OutputConfig | None, max_tokens: int,
            default: RequestedMode, effort_budgets: Mapping[str, int]
            ) -> tuple[RequestedMode, int | None]:
    """(mode, budget or None) of a Messages request."""
    budget = None
    if output is not None and output.effort is not None:
        budget = effort_budget(EFFORT_LEVELS[output.effort], effort_budgets)
    if thinking is None:
        return default, budget
    if thinking.type == "enabled":
        if thinking.budget_tokens is None:
            raise UsageError("thinking.budget_tokens is required when thinking is enabled")
        if thinking.budget_tokens >= max_tokens:
            raise UsageError("`max_tokens` must be greater than `thinking.budget_tokens`")
    return THINKING_TYPES[thinking.type], thinking.budget_tokens or budget


def shown(thinking: str, display: Display | None) -> str:
    """The thinking as the client asked to see it."""
    if display == "omitted":
        return ""
    if display == "summarized":
        return summarize(thinking, "detailed")
    return thinking
