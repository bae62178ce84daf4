"""A `text/event-stream` response that stops when the client leaves, without a task group.

Starlette's `StreamingResponse` (under uvicorn's ASGI spec 2.3) runs each response in an
anyio task group: a task that streams and one that listens for the disconnect, and a cancel
scope whose cancellation formats a task's repr. Per streamed answer that is a measurable part
of the event loop's work, and the loop is what every stream shares. Here the request's own
task streams, and one listener task cancels it when `http.disconnect` arrives before the
last body message went out (the body iterator is then closed, which stops the switch's
worker thread, as before). What is sent is `StreamingResponse`'s: the same status, headers
and body messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send


class EventStreamResponse(StreamingResponse):
    """`StreamingResponse(body, media_type="text/event-stream")`, streamed as the module
    says."""

    def __init__(self, body: AsyncIterator[str]) -> None:
        super().__init__(body, media_type="text/event-stream")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        assert task is not None  # an ASGI app always runs in a task
        state = {"sent": False, "gone": False}

        async def listen() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            if not state["sent"]:  # uvicorn says disconnect once the response is complete
                state["gone"] = True
                task.cancel()

        listener = asyncio.ensure_future(listen())
        try:
            await self.stream_response(send)
            state["sent"] = True
        except asyncio.CancelledError:
            if not state["gone"]:
                raise  # the server's own cancellation (shutting down): it goes on up
            task.uncancel()
        finally:
            state["sent"] = True
            listener.cancel()
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                await aclose()
        if self.background is not None:
            await self.background()
