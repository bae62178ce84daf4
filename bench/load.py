"""A bounded load of concurrent streaming chat clients (asyncio + httpx), for the benches."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

#: The body a client sends: a fixed one, or one made from (client number, request number).
Body = dict[str, Any] | Callable[[int, int], dict[str, Any]]
TICK_S = 0.2
#: A connection idle this long is not reused. The servers measured (uvicorn) close idle
#: connections after 5 s, and a request sent on one in the instant it closes gets a reset
#: (httpx ReadError) or no answer at all: the HTTP/1.1 keep-alive race, which an SDK retries
#: and which says nothing of the server under test. 4 s leaves the close a second's margin.
KEEPALIVE_EXPIRY_S = 4.0
#: How many failure texts a `LoadResult` keeps (what an error event or exception said).
FAILURES_KEPT = 20


@dataclass
class LoadResult:
    seconds: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    #: thinking and answer deltas delivered (chunks with a `content` or `reasoning_content`)
    deltas: int = 0
    #: the first `FAILURES_KEPT` failures, as "kind: text" (an error event's line, an
    #: exception's repr, an error status's body), so a rare one can be traced
    failures: list[str] = field(default_factory=list)

    def failed(self, kind: str, text: str) -> None:
        self.statuses[kind] += 1
        if len(self.failures) < FAILURES_KEPT:
            self.failures.append(f"{kind}: {text[:500]}")

    @property
    def ok(self) -> int:
        return len(self.latencies_s)

    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def delta_rate(self) -> float:
        return self.deltas / self.seconds if self.seconds else 0.0

    def percentile_ms(self, q: float) -> float:
        if not self.latencies_s:
            return float("nan")
        return float(np.percentile(self.latencies_s, q) * 1000)

    def failures_besides(self, *allowed: str) -> int:
        """Outcomes other than answers ("200") and the `allowed` ones (e.g. "429")."""
        return sum(n for kind, n in self.statuses.items() if kind not in ("200", *allowed))

    def summary(self) -> dict[str, Any]:
        return {"ok": self.ok, "seconds": round(self.seconds, 2),
                "req_per_s": round(self.rate(), 1), "deltas_per_s": round(self.delta_rate()),
                "p50_ms": round(self.percentile_ms(50), 2),
                "p99_ms": round(self.percentile_ms(99), 2), "statuses": dict(self.statuses),
                "failures": list(self.failures)}


async def _ask(http: httpx.AsyncClient, url: str, body: dict[str, Any],
               headers: dict[str, str], result: LoadResult) -> None:
    started = time.perf_counter()
    try:
        async with http.stream("POST", url, json=body, headers=headers) as response:
            if response.status_code != 200:
                text = (await response.aread()).decode(errors="replace")
                if response.status_code == 429:
                    result.statuses["429"] += 1
                    await asyncio.sleep(0.05)
                else:
                    result.failed(str(response.status_code), text)
                return
            outcome, said = "incomplete stream", "the body ended without [DONE]"
            deltas = 0
            async for line in response.aiter_lines():
                if 'content"' in line:
                    deltas += 1
                if line.startswith('data: {"error"'):
                    outcome, said = "stream error", line
                    break
                if line.startswith("data: [DONE]"):
                    outcome = "200"
            result.deltas += deltas
    except httpx.HTTPError as error:
        result.failed(type(error).__name__, repr(error))
        return
    if outcome != "200":
        result.failed(outcome, said)
        return
    result.statuses[outcome] += 1
    result.latencies_s.append(time.perf_counter() - started)


async def _run(url: str, body: Body, clients: int, seconds: float, headers: dict[str, str],
               on_tick: Callable[[LoadResult, float], None] | None) -> LoadResult:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients,
                          keepalive_expiry=KEEPALIVE_EXPIRY_S)
    result = LoadResult()
    started = time.monotonic()
    stop_at = started + seconds

    async def client(number: int) -> None:
        asked = 0
        while time.monotonic() < stop_at:
            asked += 1
            made = body(number, asked) if callable(body) else body
            await _ask(http, url, {**made, "stream": True}, headers, result)

    async with httpx.AsyncClient(limits=limits, timeout=60.0) as http:
        tasks = [asyncio.create_task(client(n)) for n in range(clients)]
        while not all(task.done() for task in tasks):
            if on_tick is not None:
                on_tick(result, time.monotonic() - started)
            await asyncio.sleep(TICK_S)
        await asyncio.gather(*tasks)
    result.seconds = time.monotonic() - started
    if on_tick is not None:
        on_tick(result, result.seconds)
    return result


def streaming_load(url: str, body: Body, clients: int, seconds: float,
                   headers: dict[str, str] | None = None,
                   on_tick: Callable[[LoadResult, float], None] | None = None) -> LoadResult:
    """`clients` concurrent clients, each posting a streaming request back to back until
    `seconds` have passed, reading each stream to `[DONE]`; a 429 backs off 50 ms.
    `on_tick(result so far, elapsed s)` is called every 0.2 s (progress, RSS samples)."""
    return asyncio.run(_run(url, body, clients, seconds, headers or {}, on_tick))
