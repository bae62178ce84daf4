"""A scripted engine for tests: it replays queued event lists and records what it was asked.

It is a fake at the engine boundary only; real-engine tests exist beside every use of it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence

from thinkswitch.engines.base import Engine
from thinkswitch.kernel.events import (
    AnswerDelta,
    EngineEvent,
    Finish,
    ThinkingDelta,
    TokenLogprobs,
    UsageReport,
)
from thinkswitch.kernel.plan import GenerationRequest
from thinkswitch.kernel.result import FinishReason
from thinkswitch.thinking.dialects import Dialect


class ScriptedEngine(Engine):
    name = "scripted"

    def __init__(self, model: str = "scripted-model") -> None:
        self._model = model
        self._queue: deque[list[EngineEvent]] = deque()
        self.requests: list[GenerationRequest] = []

    @property
    def model(self) -> str:
        return self._model

    def enqueue(
        self,
        thinking: Sequence[str] = (),
        answer: Sequence[str] = ("ok",),
        finish: FinishReason = "stop",
        prompt_tokens: int = 5,
        logprobs: Sequence[float] | None = None,
    ) -> None:
        """Queue one response: thinking chunks, answer chunks, then usage and finish.
        With `logprobs`, a `TokenLogprobs` event comes before the usage when the request asks
        for it (as an engine that can measure them does)."""
        events: list[EngineEvent] = [ThinkingDelta(text) for text in thinking]
        events += [AnswerDelta(text) for text in answer]
        if logprobs is not None:
            events.append(TokenLogprobs(tuple(logprobs)))
        events.append(UsageReport(prompt_tokens, len(thinking), len(answer)))
        events.append(Finish(finish))
        self._queue.append(events)

    def enqueue_events(self, events: Sequence[EngineEvent]) -> None:
        self._queue.append(list(events))

    def execute(self, request: GenerationRequest, dialect: Dialect) -> Iterator[EngineEvent]:
        self.requests.append(request)
        if not self._queue:
            raise AssertionError("ScriptedEngine: nothing enqueued for this request")
        for event in self._queue.popleft():
            if isinstance(event, TokenLogprobs) and not request.logprobs:
                continue
            yield event
