"""Chat messages as the switch passes them down to dialects and engines."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Role = Literal["system", "user", "assistant"]


class ChatMessage(BaseModel):
    """One chat turn. `thinking` is reasoning of an earlier assistant turn, kept apart."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Role
    content: str


def last_user_text(messages: tuple[ChatMessage, ...] | list[ChatMessage]) -> str:
    """The text of the last user turn, or '' when there is none."""
    for message in reversed(messages):
        if message.role == "user":
            return message.content
    return ""
