"""`iterate_in_thread`: a blocking iterator driven by one worker thread, read on the loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from thinkswitch.kernel.errors import EngineUnavailableError
from thinkswitch.server.streaming import iterate_in_thread


class Counting:
    """Yields 0, 1, 2, ... up to `limit`, noting what it produced, where, and its close."""

    def __init__(self, limit: int, delay: float = 0.0, fail_at: int | None = None) -> None:
        self.limit, self.delay, self.fail_at = limit, delay, fail_at
        self.produced = 0
        self.closed_in: str | None = None
        self.threads: set[str] = set()

    def __iter__(self) -> Iterator[int]:
        try:
            for index in range(self.limit):
                if index == self.fail_at:
                    raise EngineUnavailableError("upstream went away")
                self.threads.add(threading.current_thread().name)
                time.sleep(self.delay)
                self.produced += 1
                yield index
        finally:
            self.closed_in = threading.current_thread().name


async def collect(source: Iterator[int], take: int | None = None) -> list[int]:
    got: list[int] = []
    stream = iterate_in_thread(source, high_water=4)
    try:
        async for item in stream:
            got.append(item)
            if take is not None and len(got) >= take:
                break
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    return got


def test_items_arrive_in_order_from_one_worker_thread() -> None:
    source = Counting(500)
    assert asyncio.run(collect(iter(source))) == list(range(500))
    assert len(source.threads) == 1
    assert source.threads != {threading.current_thread().name}
    assert source.closed_in in source.threads


def test_an_error_reaches_the_consumer_after_the_items_before_it() -> None:
    source = Counting(10, fail_at=3)
    got: list[int] = []

    async def run() -> None:
        async for item in iterate_in_thread(iter(source)):
            got.append(item)

    with pytest.raises(EngineUnavailableError, match="went away"):
        asyncio.run(run())
    assert got == [0, 1, 2]


def test_a_consumer_that_stops_stops_the_producer_within_a_few_items() -> None:
    source = Counting(10_000, delay=0.002)

    async def run() -> list[int]:
        got = await collect(iter(source), take=5)
        await asyncio.sleep(0.3)
        return got

    assert asyncio.run(run()) == [0, 1, 2, 3, 4]
    assert source.produced <= 5 + 4 + 2, "ran on after the consumer left"
    assert source.closed_in is not None and source.closed_in != threading.current_thread().name


def test_a_slow_consumer_holds_the_producer_at_the_high_water_mark() -> None:
    source = Counting(1000)

    async def run() -> None:
        stream = iterate_in_thread(iter(source), high_water=4)
        first = await stream.__anext__()
        assert first == 0
        await asyncio.sleep(0.3)
        assert source.produced <= 4 + 2
        await stream.aclose()  # type: ignore[attr-defined]

    asyncio.run(run())


def test_a_consumer_that_stalls_ends_the_producer() -> None:
    source = Counting(1000)

    async def run() -> None:
        stream = iterate_in_thread(iter(source), high_water=2, stall_s=0.3)
        assert await stream.__anext__() == 0
        await asyncio.sleep(0.8)  # reads nothing while the producer waits for room
        with pytest.raises(EngineUnavailableError, match=r"read nothing for 0\.3 s"):
            async for _ in stream:
                pass

    asyncio.run(run())
    assert source.produced <= 4
    assert source.closed_in is not None
