"""Tools in the Anthropic dialect, translated to and from the OpenAI form the switch speaks.

The switch and its OpenAI-compatible upstreams (vLLM, SGLang, llama.cpp's server, Ollama)
know tools as OpenAI functions, so a `/v1/messages` request is translated on the way in:
`tools[].input_schema` becomes `functions[].parameters`, `tool_choice` {auto, any, tool,
none} becomes "auto" / "required" / a named function / "none", an assistant's `tool_use`
blocks become its `tool_calls` (arguments as JSON text), and a user's `tool_result` blocks
become `tool` turns answering them by id. On the way out, whole tool calls become `tool_use`
blocks (arguments parsed back into `input`) with `stop_reason: tool_use`, streamed as one
`input_json_delta` per call once the call is whole. Engines without tools refuse such
requests with a 400 that names `tools`, as on the OpenAI endpoint.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from thinkswitch.kernel.errors import EngineUnavailableError, UnsupportedParameterError, UsageError
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.server.bounds import JsonBool

if TYPE_CHECKING:
    from thinkswitch.server.calls import EngineFacts


class AnthropicTool(BaseModel):
    """A client tool (Anthropic's server tools, such as web search, have no upstream here)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128, pattern=r"^[a-zA-Z0-9_-]+$")
    description: str | None = None
    input_schema: dict[str, Any]
    type: Literal["custom"] | None = None
    cache_control: dict[str, Any] | None = Field(None, description="accepted; no effect here")


class ToolChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: JsonBool | None = None


CHOICES = {"auto": "auto", "any": "required", "none": "none"}


def tool_options(tools: Sequence[AnthropicTool] | None, choice: ToolChoice | None,
                 engine: EngineFacts) -> dict[str, Any]:
    """The OpenAI `tools` / `tool_choice` / `parallel_tool_calls` for `engine` (which refuses
    what it does not take, by the OpenAI name; except this one, which the client did not
    send by that name)."""
    if not tools:
        if choice is not None and choice.type != "none":
            raise UsageError("tool_choice needs tools")
        return {}
    options: dict[str, Any] = {"tools": [
        {"type": "function", "function": {"name": tool.name, "description": tool.description
                                          or "", "parameters": tool.input_schema}}
        for tool in tools]}
    if choice is not None:
        if choice.type == "tool":
            if choice.name not in {tool.name for tool in tools}:
                raise UsageError(f"tool_choice names {choice.name!r}, which is not in tools")
            options["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
        else:
            options["tool_choice"] = CHOICES[choice.type]
        if choice.disable_parallel_tool_use:
            if "tools" in engine.passthrough and "parallel_tool_calls" not in engine.passthrough:
                raise UnsupportedParameterError("tool_choice.disable_parallel_tool_use",
                                                engine.name)
            options["parallel_tool_calls"] = False
    return options


def tool_call(block: dict[str, Any]) -> dict[str, Any]:
    """An assistant's `tool_use` block as an OpenAI tool call."""
    name, call_id = block.get("name"), block.get("id")
    if not isinstance(name, str) or not name or not isinstance(call_id, str) or not call_id:
        raise UsageError("a tool_use block needs an id and a name")
    arguments = block.get("input", {})
    if not isinstance(arguments, dict):
        raise UsageError("a tool_use block's input must be an object")
    return {"id": call_id, "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)}}


def tool_turn(block: dict[str, Any]) -> ChatMessage:
    """A user's `tool_result` block as the `tool` turn that answers the call."""
    call_id = block.get("tool_use_id")
    if not isinstance(call_id, str) or not call_id:
        raise UsageError("a tool_result block needs its tool_use_id")
    content = block.get("content", "")
    if isinstance(content, list):
        parts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text":
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise UsageError(f"tool_result content of type {kind!r} is not supported")
            parts.append(str(part.get("text", "")))
        content = "".join(parts)
    elif not isinstance(content, str):
        raise UsageError("a tool_result block's content must be text or text blocks")
    if block.get("is_error"):
        content = f"Error: {content}"
    return ChatMessage(role="tool", content=content, tool_call_id=call_id)


def tool_use_block(call: dict[str, Any]) -> dict[str, Any]:
    """A whole OpenAI tool call as a `tool_use` block; bad arguments are the upstream's
    failure."""
    function = call.get("function") or {}
    text = function.get("arguments") or "{}"
    try:
        arguments = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested past the parser
        arguments = None
    if not isinstance(arguments, dict):
        raise EngineUnavailableError(
            f"upstream sent arguments for tool {function.get('name')!r} that are not a JSON "
            "object")
    if not function.get("name"):
        raise EngineUnavailableError("upstream sent a tool call without a name")
    return {"type": "tool_use", "id": call.get("id") or f"toolu_{uuid.uuid4().hex[:24]}",
            "name": function.get("name", ""), "input": arguments}
