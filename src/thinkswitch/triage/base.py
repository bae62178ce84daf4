"""The triage policy interface: messages in, a `Decision` out (always with a reason)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from thinkswitch.messages import ChatMessage
from thinkswitch.result import Decision


class TriagePolicy(ABC):
    """Decides off/on and the budget for a request in `auto` mode."""

    name: ClassVar[str]

    @abstractmethod
    def decide(self, messages: tuple[ChatMessage, ...], budget: int) -> Decision:
        """Decide for the last user turn; `budget` is the cap to use when thinking."""
