"""Chat messages as the switch passes them down to dialects and engines."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Role = Literal["system", "user", "assistant", "tool"]


class ChatMessage(BaseModel):
    """One chat turn. In agent loops an assistant turn may carry `tool_calls` (OpenAI format)
    and a `tool` turn answers one of them by `tool_call_id`; only engines that take `tools`
    can be sent such turns."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Role
    content: str
    tool_calls: tuple[dict[str, Any], ...] | None = None
    tool_call_id: str | None = None

    @property
    def is_tool_turn(self) -> bool:
        return self.role == "tool" or bool(self.tool_calls)

    def wire(self) -> dict[str, Any]:
        """The turn as an OpenAI-compatible server takes it."""
        turn: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            turn["tool_calls"] = list(self.tool_calls)
            turn["content"] = self.content or None
        if self.tool_call_id is not None:
            turn["tool_call_id"] = self.tool_call_id
        return turn


def last_user_text(messages: tuple[ChatMessage, ...] | list[ChatMessage]) -> str:
    """The text of the last user turn, or '' when there is none."""
    for message in reversed(messages):
        if message.role == "user":
            return message.content
    return ""
