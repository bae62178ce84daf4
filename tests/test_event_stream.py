"""`EventStreamResponse`: what `StreamingResponse` sends, stopped when the client leaves,
without a task group (see server/event_stream.py). Driven at the ASGI boundary as uvicorn
drives it: `receive` waits until the client leaves or the response is complete, then says
`http.disconnect`. (The real-server test of a client leaving mid-stream is
tests/test_server_gate.py.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.responses import StreamingResponse

from thinkswitch.server.event_stream import EventStreamResponse


class Client:
    """The messages sent, and a `receive` that says disconnect once `left` is set or the
    last body message went out (as uvicorn's does)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.left = asyncio.Event()

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            self.left.set()
        await asyncio.sleep(0)  # a write may wait for the socket: other tasks run

    async def receive(self) -> dict[str, Any]:
        await self.left.wait()
        return {"type": "http.disconnect"}


async def texts(*items: str) -> AsyncIterator[str]:
    for item in items:
        yield item


def test_a_whole_stream_sends_what_streaming_response_sends() -> None:
    async def run(response: Any) -> tuple[list[dict[str, Any]], int]:
        client = Client()
        await response({"type": "http"}, client.receive, client.send)
        await asyncio.sleep(0.01)  # a stray cancellation would land here
        task = asyncio.current_task()
        assert task is not None
        return client.sent, task.cancelling()

    ours, cancelling = asyncio.run(run(EventStreamResponse(texts("data: a\n\n", "data: é\n\n"))))
    theirs, _ = asyncio.run(run(StreamingResponse(texts("data: a\n\n", "data: é\n\n"),
                                                  media_type="text/event-stream")))
    assert ours == theirs
    assert [message.get("body") for message in ours] == [None, b"data: a\n\n",
                                                        "data: é\n\n".encode(), b""]
    assert cancelling == 0


def test_a_client_that_leaves_mid_stream_ends_the_response_and_closes_the_body() -> None:
    closed = asyncio.Event()

    async def stalls() -> AsyncIterator[str]:
        try:
            yield "data: first\n\n"
            await asyncio.Event().wait()  # the upstream went quiet
            yield "never"
        finally:
            closed.set()

    async def run() -> tuple[list[dict[str, Any]], int]:
        client = Client()
        response = EventStreamResponse(stalls())
        serving = asyncio.ensure_future(response({"type": "http"}, client.receive, client.send))
        while len(client.sent) < 2:
            await asyncio.sleep(0.001)
        client.left.set()
        await asyncio.wait_for(serving, 2.0)  # returns: the disconnect is not an error
        return client.sent, serving.cancelling()

    sent, cancelling = asyncio.run(run())
    assert [message.get("body") for message in sent] == [None, b"data: first\n\n"]
    assert closed.is_set()
    assert cancelling == 0


def test_the_servers_own_cancellation_goes_on_up() -> None:
    async def run() -> None:
        client = Client()

        async def slow() -> AsyncIterator[str]:
            yield "data: first\n\n"
            await asyncio.sleep(10)
            yield "late"

        serving = asyncio.ensure_future(
            EventStreamResponse(slow())({"type": "http"}, client.receive, client.send))
        await asyncio.sleep(0.01)
        serving.cancel()
        await serving

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(run())
