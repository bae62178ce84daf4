"""What the HTTP server adds over calling the switch in-process, with generation taken out:
the `instant` engine answers at once, so the time left is triage, the switch, recording in the
trace store and (for the server) HTTP, JSON and SSE. Sequential requests, one keep-alive
client (the standard library's, which costs ~0.3 ms less per request than httpx); p50/p99 of
each path and the difference of the medians, for chat completions and the Responses API.
Target (issues #6, #16): added latency p50 <= 2 ms. The machine is shared: compare the rows
of one run, not figures of different runs.

    .venv/bin/python bench/server_overhead.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from loopback import VENV_BIN, free_port, running
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from thinkswitch.factory import build_switch, load_settings
from thinkswitch.kernel.request import Request

HERE = Path(__file__).resolve().parent
QUESTION = "How many legs do 3 spiders and 2 ants have together?"
BODY = {"model": "instant", "messages": [{"role": "user", "content": QUESTION}]}
RESPONSES_BODY = {"model": "instant", "input": QUESTION}


def timed(label: str, count: int, call: Callable[[], object], progress: Progress) -> np.ndarray:
    for _ in range(min(100, count)):  # warm-up
        call()
    task = progress.add_task(label, total=count)
    times = np.empty(count)
    for index in range(count):
        started = time.perf_counter()
        call()
        times[index] = time.perf_counter() - started
        progress.advance(task)
    return times * 1000


class Client:
    """A keep-alive HTTP/1.1 client from the standard library: far lighter than httpx, so the
    figure is the server's cost rather than the client's."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, body: dict[str, object], path: str = "/v1/chat/completions") -> bytes:
        self.connection.request("POST", path, json.dumps(body),
                                {"content-type": "application/json"})
        response = self.connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {data[:200]!r}")
        return data

    def streamed(self) -> None:
        if not self.post({**BODY, "stream": True}).endswith(b"data: [DONE]\n\n"):
            raise RuntimeError("stream ended without [DONE]")

    def responses(self) -> bytes:
        return self.post(RESPONSES_BODY, "/v1/responses")

    def responses_streamed(self) -> None:
        data = self.post({**RESPONSES_BODY, "stream": True}, "/v1/responses")
        if b"event: response.completed" not in data[-4096:]:
            raise RuntimeError("stream ended without response.completed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "server_overhead.json")
    args = parser.parse_args()
    console = Console()
    port = free_port()
    with tempfile.TemporaryDirectory() as scratch, Progress(console=console) as progress:
        settings = load_settings(engine="instant", trace_db=str(Path(scratch) / "inproc.sqlite"))
        switch = build_switch(settings)
        samples = {"in-process switch.run": timed(
            "in-process", args.requests,
            lambda: switch.run(Request.build(QUESTION, think="auto")), progress)}
        serve = [str(VENV_BIN / "thinkswitch"), "serve", "--engine", "instant", "--port",
                 str(port), "--db", str(Path(scratch) / "server.sqlite")]
        with running(serve, f"http://127.0.0.1:{port}/health"):
            client = Client(port)
            samples["server, JSON"] = timed(
                "server JSON", args.requests, lambda: client.post(BODY), progress)
            samples["server, streaming"] = timed(
                "server SSE", args.requests, client.streamed, progress)
            samples["server, Responses JSON"] = timed(
                "responses JSON", args.requests, client.responses, progress)
            samples["server, Responses streaming"] = timed(
                "responses SSE", args.requests, client.responses_streamed, progress)
    base = float(np.median(samples["in-process switch.run"]))
    table = Table(title=f"{args.requests} sequential requests each, instant engine")
    for column in ("path", "p50 ms", "p99 ms", "added p50 ms"):
        table.add_column(column, justify="left" if column == "path" else "right")
    summary: dict[str, dict[str, float]] = {}
    for name, times in samples.items():
        p50, p99 = float(np.median(times)), float(np.percentile(times, 99))
        summary[name] = {"p50_ms": round(p50, 3), "p99_ms": round(p99, 3),
                         "added_p50_ms": round(p50 - base, 3)}
        table.add_row(name, f"{p50:.2f}", f"{p99:.2f}", f"{p50 - base:+.2f}")
    console.print(table)
    console.print("target: server adds <= 2 ms at p50")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
