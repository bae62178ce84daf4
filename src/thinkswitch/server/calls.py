"""How a face calls the switch: in a worker thread, counted in the metrics, stopped when the
client goes away.

The switch is synchronous (the embedded engine holds its model lock while it generates), so
each request runs it in a worker thread; a streaming response is fed event by event. Faces
read what they need of the engine through `EngineFacts`, never an engine class, and count a
prompt's tokens through `prompt_tokens` / `count_tokens` (`token_count`). Every face answers
a request whose client left first with `CLIENT_GONE`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Protocol, TypeVar

from anyio import to_thread
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from thinkswitch.kernel.closing import close_iterator
from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.errors import EngineUnavailableError
from thinkswitch.kernel.events import AnswerDelta, SwitchEvent, ThinkingDelta
from thinkswitch.kernel.request import Request as SwitchRequest
from thinkswitch.kernel.result import Result
from thinkswitch.server.admission import Metrics
from thinkswitch.server.gate import caller_of
from thinkswitch.server.streaming import iterate_batches_in_thread
from thinkswitch.server.token_count import prompt_token_count
from thinkswitch.switch.pipeline import Switch

#: The status logged for a request whose client left before its answer (nginx's 499).
CLIENT_GONE = 499
T = TypeVar("T")


class EngineFacts(Protocol):
    """What a face may know of the switch's engine: its name (for messages), its model (for
    responses) and the parameters it passes through."""

    @property
    def name(self) -> str: ...

    @property
    def model(self) -> str: ...

    @property
    def passthrough(self) -> frozenset[str]: ...


class SwitchCalls:
    """The switch as the faces call it, with the server's metrics."""

    def __init__(self, switch: Switch, metrics: Metrics) -> None:
        self._switch = switch
        self._metrics = metrics
        self.engine: EngineFacts = switch.engine

    async def whole(self, request: SwitchRequest, http: Request) -> Result | None:
        """The answer in one piece, counted in the metrics; None when the client left."""
        return await answered(self.events(request, http), http)

    async def started(self, request: SwitchRequest, http: Request) -> Iterator[SwitchEvent]:
        """The switch's events, decided (and validated) before the 200 goes out."""
        events = self.events(request, http)
        first = await run_in_threadpool(next, events)
        return _chain(first, events)

    async def started_batches(
        self, request: SwitchRequest, http: Request,
        encode: Callable[[Iterator[SwitchEvent]], Iterator[T]],
    ) -> tuple[list[T], AsyncIterator[list[T]]]:
        """`started`, in one worker thread for the whole stream: the switch's events, made
        into a face's items by `encode` in that thread, in batches (see `streaming`). The
        first batch is back when the decision is (an error before it is raised here, for the
        face to answer with its status); the rest are the batches that follow."""
        batches = iterate_batches_in_thread(encode(self.events(request, http)))
        try:
            first = await anext(batches)
        except StopAsyncIteration:
            raise EngineUnavailableError("the switch produced nothing") from None
        return first, batches

    def events(self, request: SwitchRequest, http: Request) -> Iterator[SwitchEvent]:
        return observed(self._switch.stream(request, caller_of(http)), self._metrics)

    def prompt_tokens(self, request: SwitchRequest, decision: Decision) -> int:
        """The input tokens of `request` once `decision` is made (runs in the caller's
        thread: a stream's, for `message_start`)."""
        return prompt_token_count(self._switch, request, decision)

    async def count_tokens(self, request: SwitchRequest) -> int:
        """The input tokens of `request` under the decision the switch would make, without
        generating (in a worker thread: a policy may run a model to decide)."""
        def count() -> int:
            return self.prompt_tokens(request, self._switch.decide(request))

        return await run_in_threadpool(count)


async def answered(events: Iterator[SwitchEvent], http: Request) -> Result | None:
    """The `Result` of a request answered in one piece, or None when the client went away
    first: then generation stops within a token, as for a stream, instead of running on to
    its answer limit with the engine held. The stream is read to its end, so that the
    switch's after-answer steps run.

    One worker thread reads the whole stream and hands back only the result: no event
    crosses to the loop (a hop per delta cost more than the rest of the request). The loop
    watches for the disconnect and tells the thread through `gone`, which it checks before
    each event, as the streaming path's producer does."""
    gone = threading.Event()

    async def watch() -> None:
        while (await http.receive())["type"] != "http.disconnect":
            pass
        gone.set()

    watcher = asyncio.create_task(watch())
    worker = asyncio.ensure_future(to_thread.run_sync(drain, events, gone))
    try:
        left, result = await asyncio.shield(worker)
    finally:  # cancelled (server shutting down): the thread stops as for a disconnect
        gone.set()
        watcher.cancel()
        await asyncio.shield(worker)
    if left:
        return None
    if result is None:
        raise EngineUnavailableError("the switch ended without a result")
    return result


def drain(events: Iterator[SwitchEvent], gone: threading.Event) -> tuple[bool, Result | None]:
    """Read `events` to the end in this thread: (False, the result or None if there was
    none), or (True, None) when `gone` was set before the result came, the iterator then
    closed at once (which stops the engine)."""
    result: Result | None = None
    try:
        for event in events:
            if result is None and gone.is_set():
                return True, None
            if isinstance(event, Result):
                result = event
    finally:
        close_iterator(events)
    return False, result


def observed(events: Iterator[SwitchEvent], metrics: Metrics) -> Iterator[SwitchEvent]:
    """Pass events through, counting each finished result."""
    try:
        for event in events:
            kind = type(event)  # deltas first: `isinstance` of a pydantic model costs more
            if kind is not ThinkingDelta and kind is not AnswerDelta and isinstance(event, Result):
                metrics.observe(event)
            yield event
    finally:
        close_iterator(events)


def _chain(first: SwitchEvent, rest: Iterator[SwitchEvent]) -> Iterator[SwitchEvent]:
    try:
        yield first
        yield from rest
    finally:
        close_iterator(rest)
