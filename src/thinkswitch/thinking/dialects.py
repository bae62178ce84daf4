"""Dialects: how each model family is told to think or not.

A dialect turns chat messages and a `ThinkingPlan` into a `PromptPlan`: the messages to send,
chat-template arguments, text to prefill the assistant turn with (local engines), body fields
for OpenAI-compatible servers, and where the reasoning parser starts. It also names the text
that closes thinking when a budget is hit, and the text that extends it ("Wait,", as in s1).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar

from thinkswitch.kernel.errors import UnknownNameError
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.kernel.plan import ThinkingPlan
from thinkswitch.thinking.parsers import (
    GraniteParser,
    ReasoningParser,
    StartState,
    ThinkTagParser,
    ThoughtTagParser,
)

PROMPTED_THINK_SYSTEM = (
    "Think step by step before you answer. Write your reasoning between <think> and </think>, "
    "then write the final answer after </think>."
)
PROMPTED_DIRECT_SYSTEM = "Answer directly and concisely. Do not show your reasoning."


@dataclass(frozen=True)
class PromptPlan:
    messages: tuple[ChatMessage, ...]
    start_state: StartState
    prefill: str = ""
    template_kwargs: Mapping[str, object] = field(default_factory=dict)
    request_extras: Mapping[str, object] = field(default_factory=dict)


def _with_system(messages: tuple[ChatMessage, ...], text: str) -> tuple[ChatMessage, ...]:
    """Put `text` first in the system prompt, keeping a caller's system prompt after it."""
    if messages and messages[0].role == "system":
        merged = ChatMessage(role="system", content=f"{text}\n\n{messages[0].content}")
        return (merged, *messages[1:])
    return (ChatMessage(role="system", content=text), *messages)


def _with_user_suffix(messages: tuple[ChatMessage, ...], suffix: str) -> tuple[ChatMessage, ...]:
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].role == "user":
            turn = messages[index]
            tagged = turn.model_copy(update={"content": f"{turn.content} {suffix}"})
            return (*messages[:index], tagged, *messages[index + 1 :])
    return messages


class Dialect(ABC):
    """How one model family is switched. Subclasses set `name` and `parser`."""

    name: ClassVar[str]
    parser: ClassVar[type[ReasoningParser]]
    #: Whether an embedded engine can drive this dialect (it needs markers in the text).
    local: ClassVar[bool] = True
    wait_text: ClassVar[str] = "\nWait,"

    @property
    def close_text(self) -> str:
        """Text that ends thinking when the budget is hit."""
        return f"\n{self.parser.end}\n\n"

    @abstractmethod
    def prepare(self, messages: tuple[ChatMessage, ...], plan: ThinkingPlan) -> PromptPlan:
        """The prompt that puts a model of this family in the plan's mode."""


class Qwen3Dialect(Dialect):
    """Qwen3 hybrid models: `enable_thinking` in the chat template, `/no_think` soft switch."""

    name = "qwen3"
    parser = ThinkTagParser

    def prepare(self, messages: tuple[ChatMessage, ...], plan: ThinkingPlan) -> PromptPlan:
        thinking = plan.mode == "on"
        kwargs = {"enable_thinking": thinking}
        if thinking:
            return PromptPlan(
                messages,
                "inside",
                template_kwargs=kwargs,
                request_extras={"chat_template_kwargs": kwargs},
            )
        return PromptPlan(
            _with_user_suffix(messages, "/no_think"),
            "optional",
            template_kwargs=kwargs,
            request_extras={"chat_template_kwargs": kwargs},
        )


class GraniteDialect(Dialect):
    """IBM Granite 3.x: a `thinking` flag in the chat template, plain-text markers."""

    name = "granite"
    parser = GraniteParser

    @property
    def close_text(self) -> str:
        return f"\n\n{self.parser.end}\n"

    def prepare(self, messages: tuple[ChatMessage, ...], plan: ThinkingPlan) -> PromptPlan:
        kwargs = {"thinking": plan.mode == "on"}
        return PromptPlan(
            messages,
            "inside" if plan.mode == "on" else "optional",
            template_kwargs=kwargs,
            request_extras={"chat_template_kwargs": kwargs},
        )


class DeepSeekR1Dialect(Dialect):
    """DeepSeek-R1 and its distills: always think; off = prefill an empty think block."""

    name = "deepseek_r1"
    parser = ThinkTagParser

    def prepare(self, messages: tuple[ChatMessage, ...], plan: ThinkingPlan) -> PromptPlan:
        if plan.mode == "on":
            return PromptPlan(messages, "inside", prefill="<think>\n")
        return PromptPlan(messages, "optional", prefill="<think>\n\n</think>\n\n")


class OpenAIEffortDialect(Dialect):
    """OpenAI reasoning models: `reasoning_effort`; the server keeps thinking apart or hidden."""

    name = "openai_effort"
    parser = ThinkTagParser
    local = False
    off_effort: ClassVar[str] = "minimal"

    @staticmethod
    def effort_for(budget: int | None) -> str:
        if budget is None or budget > 4096:
            return "high"
        return "low" if budget <= 1024 else "medium"

    def prepare(self, messages: tuple[ChatMessage, ...], plan: ThinkingPlan) -> PromptPlan:
        effort = self.effort_for(plan.budget) if plan.mode == "on" else self.off_effort
        return PromptPlan(messages, "optional", request_extras={"reasoning_effort": effort})


class AnthropicDialect(Dialect):
    """Claude's extended thinking (`anthropic` engine): `thinking.budget_tokens`, at least the
    API's minimum of 1024; on without a budget is `adaptive`; off is `disabled`."""

    name = "anthropic"
    parser = ThinkTagParser
    local = False
    min_budget: ClassVar[int] = 1024

    def prepare(self, messages: tuple[ChatMessage, ...], plan: ThinkingPlan) -> PromptPlan:
        thinking: dict[str, object] = {"type": "disabled"}
        if plan.mode == "on":
            thinking = {"type": "adaptive"} if plan.budget is None else {
                "type": "enabled", "budget_tokens": max(self.min_budget, plan.budget)}
        return PromptPlan(messages, "optional", request_extras={"thinking": thinking})


class GeminiDialect(Dialect):
    """Gemini's OpenAI-compatible endpoint: on is a thinking budget with thoughts included
    (`extra_body.google.thinking_config`; thoughts come back in `<thought>` tags); off is
    `reasoning_effort: none` (the two fields may not be sent together)."""

    name = "gemini"
    parser = ThoughtTagParser
    local = False

    def prepare(self, messages: tuple[ChatMessage, ...], plan: ThinkingPlan) -> PromptPlan:
        if plan.mode == "off":
            return PromptPlan(messages, "optional", request_extras={"reasoning_effort": "none"})
        config: dict[str, object] = {"include_thoughts": True}
        if plan.budget is not None:
            config["thinking_budget"] = plan.budget
        return PromptPlan(messages, "optional", request_extras={
            "extra_body": {"google": {"thinking_config": config}}})


class PromptedDialect(Dialect):
    """Plain instruct models: a system prompt asks for reasoning inside `<think>` markers."""

    name = "prompted"
    parser = ThinkTagParser

    def prepare(self, messages: tuple[ChatMessage, ...], plan: ThinkingPlan) -> PromptPlan:
        if plan.mode == "on":
            return PromptPlan(
                _with_system(messages, PROMPTED_THINK_SYSTEM), "inside", prefill="<think>\n"
            )
        return PromptPlan(_with_system(messages, PROMPTED_DIRECT_SYSTEM), "optional")


DIALECTS: Mapping[str, type[Dialect]] = MappingProxyType(
    {
        dialect.name: dialect
        for dialect in (
            Qwen3Dialect,
            GraniteDialect,
            DeepSeekR1Dialect,
            OpenAIEffortDialect,
            PromptedDialect,
            AnthropicDialect,
            GeminiDialect,
        )
    }
)


def get_dialect(name: str) -> Dialect:
    try:
        return DIALECTS[name]()
    except KeyError:
        raise UnknownNameError("dialect", name, DIALECTS) from None


def guess_dialect(model: str) -> str:
    """The dialect a model name suggests; `prompted` when nothing matches."""
    lowered = model.lower()
    if "qwen3" in lowered or "qwq" in lowered:
        return "qwen3"
    if "granite" in lowered:
        return "granite"
    if "deepseek-r1" in lowered or "r1-distill" in lowered:
        return "deepseek_r1"
    if lowered.startswith(("o1", "o3", "o4", "gpt-5", "gpt-oss")):
        return "openai_effort"
    if lowered.startswith("claude"):
        return "anthropic"
    if lowered.startswith("gemini"):
        return "gemini"
    return "prompted"
