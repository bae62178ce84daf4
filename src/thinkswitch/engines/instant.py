"""The `instant` engine: no model, answers at once. For load tests and for measuring what the
server and the switch themselves cost, with generation taken out of the picture.

It thinks `thinking_tokens` words (capped by the budget) when thinking is on, then answers
`answer_tokens` words (capped by the answer limit), one delta per word, with no delay.
"""

from __future__ import annotations

from collections.abc import Iterator

from thinkswitch.engines.base import Engine
from thinkswitch.kernel.events import AnswerDelta, EngineEvent, Finish, ThinkingDelta, UsageReport
from thinkswitch.kernel.plan import GenerationRequest
from thinkswitch.settings import Settings
from thinkswitch.thinking.dialects import Dialect


class InstantEngine(Engine):
    name = "instant"

    def __init__(self, thinking_tokens: int = 16, answer_tokens: int = 8) -> None:
        self.thinking_tokens = thinking_tokens
        self.answer_tokens = answer_tokens

    @classmethod
    def from_settings(cls, settings: Settings) -> InstantEngine:
        return cls()

    @property
    def model(self) -> str:
        return "instant"

    def execute(self, request: GenerationRequest, dialect: Dialect) -> Iterator[EngineEvent]:
        plan = request.plan
        thinking = 0
        if plan.mode == "on":
            thinking = min(self.thinking_tokens, plan.budget or self.thinking_tokens)
            for index in range(thinking):
                yield ThinkingDelta(f"step{index} ")
        answer = min(self.answer_tokens, plan.answer_max_tokens)
        for index in range(answer):
            yield AnswerDelta(f"word{index} ")
        prompt = sum(len(message.content.split()) for message in request.messages)
        yield UsageReport(prompt, thinking, answer)
        budget_hit = plan.mode == "on" and plan.budget is not None and plan.budget < (
            self.thinking_tokens)
        yield Finish("length" if answer < self.answer_tokens else
                     "budget" if budget_hit else "stop")
