"""Chat turns for triage tests."""

from __future__ import annotations

from thinkswitch.kernel.messages import ChatMessage


def turns(*texts: str) -> tuple[ChatMessage, ...]:
    """Alternating user/assistant turns, starting and ending with the user."""
    roles = ["user", "assistant"]
    return tuple(ChatMessage(role=roles[i % 2], content=t)  # type: ignore[arg-type]
                 for i, t in enumerate(texts))
