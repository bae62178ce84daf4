"""Hand the items of a blocking iterator (the switch's stream) to the event loop.

`starlette.concurrency.iterate_in_threadpool` hops to a worker thread and back for every item,
which for a stream of many small deltas costs more than the deltas. Here one worker thread
drives the iterator for its whole life and hands items to the loop in batches; a bounded
number of items may wait unread, so a slow client slows the producer instead of growing a
buffer. When the
consumer stops (the client went away), the producer notices before its next item and closes
the iterator in its own thread, which stops the engine within a token.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator
from typing import TypeVar

from anyio import to_thread

from thinkswitch.kernel.closing import close_iterator
from thinkswitch.kernel.errors import EngineUnavailableError

T = TypeVar("T")
HIGH_WATER = 64
#: Batches: an upstream read can complete hundreds of deltas, and all of them should go out
#: in one write (the producer holds the GIL while it parses the read, so the loop takes them
#: all at once), not stop at 64 and wait for room.
BATCH_HIGH_WATER = 1024
STALL_S = 120.0
_END = object()


async def iterate_in_thread(items: Iterator[T], high_water: int = HIGH_WATER,
                            stall_s: float = STALL_S) -> AsyncIterator[T]:
    """See the module docstring: the items one by one."""
    batches = iterate_batches_in_thread(items, high_water, stall_s, max_batch=1)
    try:
        async for batch in batches:
            for item in batch:
                yield item
    finally:
        await batches.aclose()  # type: ignore[attr-defined]


async def iterate_batches_in_thread(items: Iterator[T], high_water: int = BATCH_HIGH_WATER,
                                    stall_s: float = STALL_S,
                                    max_batch: int = BATCH_HIGH_WATER
                                    ) -> AsyncIterator[list[T]]:
    """See the module docstring: the items in lists of up to `max_batch`, all those waiting
    when the loop looks (a face writes each list as one response chunk, so a stream of many
    small deltas costs one socket write and one pass through the middleware per batch, not
    per delta). A consumer that takes nothing for `stall_s` while items wait (a client that
    stopped reading but keeps its connection) ends the producer, so the engine is not held."""
    loop = asyncio.get_running_loop()
    # Items cross in a deque; the loop is woken once per batch, not once per item: the
    # producer schedules a wake-up only when none is pending, and the consumer drains the
    # deque before it clears `pending` and sleeps (re-checking, so no wake is lost). The
    # producer checks the deque's length per item (no lock); only at the high-water mark
    # does it wait on `room`, which the consumer sets when it takes items out.
    buffer: deque[tuple[object, BaseException | None]] = deque()
    wake = asyncio.Event()
    pending = threading.Event()
    room = threading.Event()
    stopped = threading.Event()

    def wake_consumer() -> None:
        if not pending.is_set():
            pending.set()
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:  # the loop is closed: nobody is listening any more
                stopped.set()

    def post(item: object, error: BaseException | None = None) -> None:
        buffer.append((item, error))
        wake_consumer()

    def wait_for_room() -> bool:
        """False when the producer should end (the consumer left or stalled)."""
        waited = 0.0
        while len(buffer) >= high_water:
            room.clear()
            if len(buffer) < high_water:  # taken between the check and the clear
                break
            if not room.wait(timeout=0.1):
                waited += 0.1
            if stopped.is_set():
                return False
            if waited >= stall_s:
                post(_END, EngineUnavailableError(
                    f"the client read nothing for {stall_s:g} s; generation stopped"))
                return False
        return True

    def produce() -> None:
        try:
            if stopped.is_set():  # the consumer left before this thread started
                return
            append, stopping, woken = buffer.append, stopped.is_set, pending.is_set
            for item in items:  # `post`, inlined: this runs once per delta
                if len(buffer) >= high_water and not wait_for_room():
                    return
                if stopping():
                    return
                append((item, None))
                if not woken():
                    wake_consumer()
            post(_END)
        except BaseException as error:  # handed to the consumer, raised there
            post(_END, error)
        finally:
            close_iterator(items)

    worker = asyncio.ensure_future(to_thread.run_sync(produce))
    try:
        while True:
            batch: list[T] = []
            while buffer and len(batch) < max_batch:
                item, error = buffer.popleft()
                if item is _END:
                    if batch:
                        yield batch
                    if error is not None:
                        raise error
                    return
                batch.append(item)  # type: ignore[arg-type]
            if batch:
                if not room.is_set():
                    room.set()
                yield batch
                continue
            pending.clear()
            if buffer:
                continue
            wake.clear()
            if buffer:
                continue
            await wake.wait()
    finally:
        stopped.set()
        room.set()
        await asyncio.shield(worker)
