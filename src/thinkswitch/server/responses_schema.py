"""The OpenAI Responses request (`POST /v1/responses`) as thinkswitch reads it.

`input` is a string (one user turn) or a list of items: messages (`role` user, assistant,
system or developer; content as text or `input_text` / `output_text` parts), `function_call`
items (the model's earlier calls) and `function_call_output` items (their results). Earlier
`reasoning` items are accepted and left out: past reasoning is not sent back to the model, as
on chat completions. Thinking is switched as on chat completions: `reasoning.effort`, the
`thinking` extension object, or a model-name suffix; `max_output_tokens` bounds thinking and
answer together. Function tools are flat here (`{type, name, parameters}`) and become chat
functions for the engine; hosted tools (web search, file search, ...) have no engine here and
are refused by name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from thinkswitch.kernel.decision import RequestedMode
from thinkswitch.kernel.errors import UnsupportedParameterError, UsageError
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.kernel.request import EFFORT_BUDGETS
from thinkswitch.server.bounds import JsonBool, Temperature, TimeoutSeconds, TokenCount, TopP
from thinkswitch.server.efforts import OFF_EFFORTS, Effort, effort_budget
from thinkswitch.server.openai_schema import SUFFIXES, THINKING_TYPES
from thinkswitch.server.openai_schema import ThinkingControl as ThinkingControl

SummaryKind = Literal["auto", "concise", "detailed"]
#: Extra fields that change nothing thinkswitch produces (accepted, echoed where OpenAI does).
HARMLESS = frozenset({"user", "metadata", "truncation", "service_tier", "prompt_cache_key",
                      "safety_identifier", "background", "parallel_tool_calls", "include"})


class ReasoningControl(BaseModel):
    model_config = ConfigDict(extra="forbid")

    effort: Effort | None = Field(None, description="none/minimal: off; else on, budget from "
                                  "[budgets]")
    summary: SummaryKind | None = Field(None, description="add a summary of the thinking")
    generate_summary: SummaryKind | None = Field(None, description="the older name of summary")

    def summary_kind(self) -> SummaryKind | None:
        return self.summary or self.generate_summary


class TextFormat(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Literal["text", "json_object", "json_schema"] = "text"


class TextControl(BaseModel):
    model_config = ConfigDict(extra="allow")

    format: TextFormat | None = None


class ResponsesRequest(BaseModel):
    """Fields the switch owns are typed; others go to the engine or are refused by name."""

    model_config = ConfigDict(extra="allow")

    model: str = ""
    input: str | list[dict[str, Any]] = Field(min_length=1)
    instructions: str | None = None
    reasoning: ReasoningControl | None = None
    thinking: ThinkingControl | None = None
    max_output_tokens: TokenCount | None = Field(None, description="bounds thinking + answer")
    temperature: Temperature | None = None
    top_p: TopP | None = None
    stream: JsonBool = False
    store: JsonBool = Field(True, description="false: the response cannot be retrieved or "
                        "continued later (the audit trace is still written)")
    previous_response_id: str | None = Field(None, min_length=1)
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    text: TextControl | None = None
    timeout: TimeoutSeconds | None = Field(None, description="deadline in seconds")

    def control(self, default: RequestedMode, effort_budgets: Mapping[str, int] = EFFORT_BUDGETS,
                ) -> tuple[RequestedMode, int | None]:
        """(mode, budget or None): suffix, then `reasoning.effort`, then `thinking` win."""
        mode: RequestedMode | None = None
        budget: int | None = None
        for suffix, suffix_mode in SUFFIXES.items():
            if self.model.endswith(suffix):
                mode = suffix_mode
        effort = self.reasoning.effort if self.reasoning else None
        if effort is not None:
            if effort in OFF_EFFORTS:
                mode = "off"
            else:
                mode, budget = "on", effort_budget(effort, effort_budgets)
        if self.thinking is not None:
            if self.thinking.type == "enabled" and self.thinking.budget_tokens is None:
                raise UsageError("thinking.budget_tokens is required when thinking is enabled")
            mode = THINKING_TYPES[self.thinking.type]
            budget = self.thinking.budget_tokens or budget
        return mode or default, budget

    def summary_kind(self) -> SummaryKind | None:
        return self.reasoning.summary_kind() if self.reasoning else None

    def input_messages(self) -> tuple[ChatMessage, ...]:
        """`instructions` as the system turn, then the input items as chat turns."""
        turns = [] if self.instructions is None else [
            ChatMessage(role="system", content=self.instructions)]
        if isinstance(self.input, str):
            return (*turns, ChatMessage(role="user", content=self.input))
        return (*turns, *items_to_messages(self.input))

    def engine_options(self) -> dict[str, Any]:
        """Tools, tool choice, text format and other extras in chat-completions names."""
        options: dict[str, Any] = {}
        if self.tools:
            options["tools"] = [chat_tool(tool) for tool in self.tools]
        if self.tool_choice is not None and (self.tools or self.tool_choice != "none"):
            # ("none" without tools asks for nothing: an engine without tools may answer it)
            options["tool_choice"] = chat_tool_choice(self.tool_choice)
        if self.top_p is not None:
            options["top_p"] = self.top_p
        if self.text and self.text.format and self.text.format.type != "text":
            options["response_format"] = response_format(self.text.format)
        for name, value in (self.model_extra or {}).items():
            if value is not None and name not in HARMLESS:
                options[name] = value
        return options


def _text_of(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise UsageError(f"{where}: content must be text or a list of text parts")
    texts = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in ("input_text", "output_text", "text"):
            raise UsageError(f"{where}: content part of type {kind!r} is not supported "
                             "(text parts only)")
        texts.append(str(part.get("text", "")))
    return "".join(texts)


def items_to_messages(items: list[dict[str, Any]]) -> list[ChatMessage]:
    """Input items as chat turns; consecutive function calls join one assistant turn."""
    out: list[ChatMessage] = []
    for index, item in enumerate(items):
        kind = item.get("type", "message")
        where = f"input[{index}]"
        if kind == "message":
            role = item.get("role")
            if role not in ("user", "assistant", "system", "developer"):
                raise UsageError(f"{where}: role {role!r} is not one of user, assistant, "
                                 "system, developer")
            out.append(ChatMessage(role="system" if role == "developer" else role,
                                   content=_text_of(item.get("content", ""), where)))
        elif kind == "function_call":
            call = _function_call(item, where)
            last = out[-1] if out else None
            if last is not None and last.role == "assistant" and last.tool_calls:
                out[-1] = last.model_copy(update={"tool_calls": (*last.tool_calls, call)})
            else:
                out.append(ChatMessage(role="assistant", content="", tool_calls=(call,)))
        elif kind == "function_call_output":
            call_id = item.get("call_id")
            if not isinstance(call_id, str) or not call_id:
                raise UsageError(f"{where}: a function_call_output needs its call_id")
            output = item.get("output", "")
            text = output if isinstance(output, str) else _text_of(output, where)
            out.append(ChatMessage(role="tool", content=text, tool_call_id=call_id))
        elif kind != "reasoning":  # earlier reasoning is not sent back to the model
            raise UsageError(f"{where}: input item type {kind!r} is not supported")
    return out


def _function_call(item: dict[str, Any], where: str) -> dict[str, Any]:
    call_id, name, arguments = item.get("call_id"), item.get("name"), item.get("arguments", "")
    if not isinstance(call_id, str) or not call_id or not isinstance(name, str) or not name:
        raise UsageError(f"{where}: a function_call needs a call_id and a name")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments, ensure_ascii=False)
    return {"id": call_id, "type": "function",
            "function": {"name": name, "arguments": arguments}}


def chat_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """A Responses function tool as a chat-completions function."""
    kind = tool.get("type")
    if kind != "function":
        raise UnsupportedParameterError(f"tools[type={kind}]", "thinkswitch")
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise UsageError("a function tool needs a name")
    function: dict[str, Any] = {"name": name,
                                "parameters": tool.get("parameters") or {"type": "object"}}
    if tool.get("description") is not None:
        function["description"] = tool["description"]
    if tool.get("strict") is not None:
        function["strict"] = tool["strict"]
    return {"type": "function", "function": function}


def chat_tool_choice(choice: str | dict[str, Any]) -> str | dict[str, Any]:
    if isinstance(choice, str):
        if choice not in ("auto", "none", "required"):
            raise UsageError(f"tool_choice {choice!r} is not one of auto, none, required")
        return choice
    if choice.get("type") == "function" and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}
    raise UsageError("tool_choice must be auto, none, required or {type: function, name}")


def response_format(text_format: TextFormat) -> dict[str, Any]:
    """`text.format` in chat-completions' `response_format` shape."""
    extra = dict(text_format.model_extra or {})
    if text_format.type == "json_object":
        return {"type": "json_object"}
    schema = {key: extra[key] for key in ("name", "schema", "strict", "description")
              if key in extra}
    return {"type": "json_schema", "json_schema": schema}
