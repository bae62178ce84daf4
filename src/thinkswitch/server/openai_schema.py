"""The OpenAI chat-completions request as thinkswitch reads it, and how its thinking controls
map onto the switch: `reasoning_effort`, a `thinking` object, `chat_template_kwargs
.enable_thinking`, or a model-name suffix (`:think`, `:nothink`, `:auto`); else the default."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from thinkswitch.kernel.decision import RequestedMode
from thinkswitch.kernel.errors import UsageError
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.kernel.request import EFFORT_BUDGETS
from thinkswitch.server.bounds import (
    SAMPLING_FIELDS,
    JsonBool,
    MinThinking,
    Penalty,
    Seed,
    Temperature,
    TimeoutSeconds,
    TokenCount,
    TopP,
)
from thinkswitch.server.efforts import OFF_EFFORTS, Effort, effort_budget

SUFFIXES: dict[str, RequestedMode] = {":think": "on", ":nothink": "off", ":auto": "auto"}
THINKING_TYPES: dict[str, RequestedMode] = {"enabled": "on", "disabled": "off", "auto": "auto"}


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None

    @field_validator("content")
    @classmethod
    def _text_parts_only(cls, content: str | list[dict[str, Any]] | None
                         ) -> str | list[dict[str, Any]] | None:
        """Only text parts, each with a string `text`: an image or audio part would be
        dropped unseen (the engines take text), and a null text would read as "None"."""
        if isinstance(content, list):
            for index, part in enumerate(content):
                kind = part.get("type")
                if kind != "text":
                    raise ValueError(f"content part {index} has type {kind!r}; only text "
                                     "parts are supported")
                if not isinstance(part.get("text"), str):
                    raise ValueError(f"content part {index} is a text part without a string "
                                     "`text`")
        return content

    @field_validator("tool_calls")
    @classmethod
    def _function_calls(cls, calls: list[dict[str, Any]] | None
                        ) -> list[dict[str, Any]] | None:
        """Each passed-back call's `function` is an object with a string `name` and, if given,
        string `arguments` (JSON text, as the API sends it): the engines that translate the
        call for their upstream read those fields, and another type there was a 500."""
        for index, call in enumerate(calls or ()):
            function = call.get("function")
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                raise ValueError(f"tool call {index} needs a `function` object with a string "
                                 "`name`")
            if not isinstance(function.get("arguments") or "", str):
                raise ValueError(f"tool call {index} has `function.arguments` that are not a "
                                 "string (they are JSON text)")
        return calls

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(str(part["text"]) for part in self.content)
        return self.content or ""


class ThinkingControl(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["enabled", "disabled", "auto"]
    budget_tokens: TokenCount | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: JsonBool = False


class ChatCompletionRequest(BaseModel):
    """Fields the switch owns are typed; others are accepted and named if unsupported."""

    model_config = ConfigDict(extra="allow")

    model: str = ""
    messages: list[Message] = Field(min_length=1)
    stream: JsonBool = False
    stream_options: StreamOptions | None = None
    reasoning_effort: Effort | None = None
    thinking: ThinkingControl | None = None
    chat_template_kwargs: dict[str, Any] | None = None
    max_tokens: TokenCount | None = None
    max_completion_tokens: TokenCount | None = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    seed: Seed | None = None
    min_thinking_tokens: MinThinking | None = None
    timeout: TimeoutSeconds | None = Field(
        None, description="deadline in seconds: thinking that would not fit is switched off")

    @field_validator("chat_template_kwargs")
    @classmethod
    def _enable_thinking_is_a_boolean(cls, kwargs: dict[str, Any] | None
                                      ) -> dict[str, Any] | None:
        """A string such as "no" is truthy: read loosely it would turn thinking on."""
        if kwargs and not isinstance(kwargs.get("enable_thinking", False), bool):
            raise ValueError("enable_thinking must be true or false (a JSON boolean)")
        return kwargs

    def chat_messages(self) -> tuple[ChatMessage, ...]:
        """System/developer, user, assistant and tool turns; earlier reasoning
        (`reasoning_content`) is not sent back, as Qwen3 and DeepSeek advise."""
        out = []
        for message in self.messages:
            role = "system" if message.role == "developer" else message.role
            out.append(ChatMessage(
                role=role, content=message.text(), tool_call_id=message.tool_call_id,
                tool_calls=tuple(message.tool_calls) if message.tool_calls else None))
        return tuple(out)

    def control(self, default: RequestedMode, effort_budgets: Mapping[str, int] = EFFORT_BUDGETS,
                ) -> tuple[RequestedMode, int | None, str]:
        """(mode, budget or None, the model name without a mode suffix)."""
        model = self.model
        mode: RequestedMode | None = None
        budget: int | None = None
        for suffix, suffix_mode in SUFFIXES.items():
            if model.endswith(suffix):
                model, mode = model[: -len(suffix)], suffix_mode
        if self.chat_template_kwargs and "enable_thinking" in self.chat_template_kwargs:
            mode = "on" if self.chat_template_kwargs["enable_thinking"] else "off"
        if self.reasoning_effort is not None:
            if self.reasoning_effort in OFF_EFFORTS:
                mode = "off"
            else:
                mode, budget = "on", effort_budget(self.reasoning_effort, effort_budgets)
        if self.thinking is not None:
            mode = THINKING_TYPES[self.thinking.type]
            budget = self.thinking.budget_tokens or budget
            if self.thinking.type == "enabled" and self.thinking.budget_tokens is None:
                raise UsageError("thinking.budget_tokens is required when thinking is enabled")
        return mode or default, budget, model

    def output_cap(self) -> int | None:
        """The cap on thinking plus answer: `max_completion_tokens`, else the legacy
        `max_tokens`, which servers such as vLLM also count reasoning in."""
        return self.max_completion_tokens or self.max_tokens


#: Extra fields that change nothing the switch produces, so accepting them is honest.
HARMLESS = frozenset({"user", "metadata", "store", "parallel_tool_calls", "service_tier",
                      "prompt_cache_key", "safety_identifier"})
#: Extra fields at the values that ask for nothing (OpenAI's defaults, which SDKs and
#: frameworks often send spelled out): accepted without an engine that takes the field.
NO_OP_VALUES: dict[str, tuple[Any, ...]] = {
    "n": (1,), "response_format": ({"type": "text"},), "logprobs": (False,),
    "tools": ([],), "tool_choice": ("none",), "stop": ([],), "modalities": (["text"],),
}


def asks_for_nothing(name: str, value: Any) -> bool:
    """Whether an extra field at `value` changes nothing the switch produces."""
    return name in HARMLESS or any(type(value) is type(default) and value == default
                                   for default in NO_OP_VALUES.get(name, ()))


def passthrough_options(request: ChatCompletionRequest, passthrough: frozenset[str]
                        ) -> dict[str, Any]:
    """The extra fields for the engine: those the switch does not own (tools, stop,
    response_format, ...), less those that ask for nothing (`asks_for_nothing`) where the
    engine does not take them. The switch refuses any left that its engine does not declare
    in `Engine.passthrough`: ignoring one silently would change what a client gets."""
    extras = {name: value for name, value in (request.model_extra or {}).items()
              if value is not None and (name in passthrough
                                        or not asks_for_nothing(name, value))}
    return {**request.model_dump(include=set(SAMPLING_FIELDS), exclude_none=True), **extras}
