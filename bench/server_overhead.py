"""What the HTTP server adds over calling the switch in-process, with generation taken out:
the `instant` engine answers at once, so the time left is triage, the switch, recording in the
trace store and (for the server) HTTP, JSON and SSE. Sequential requests, one keep-alive
client (the standard library's, which costs ~0.3 ms less per request than httpx); p50/p99 of
each path and the difference of the medians, for chat completions and the Responses API. The
paths run in interleaved blocks, round by round (the order rotating), so a change in the
machine's load hits them alike; the added p50 is also given per round (min / median / max over
the rounds).
Targets: issue #6, added p50 <= 2 ms; issue #18, streaming <= 1.5 ms and JSON <= 1 ms; issue
#16, the Responses face as chat completions.

    .venv/bin/python bench/server_overhead.py [--requests 2000] [--rounds 10]
        [--baseline-src OLD/src]   # another checkout's server too, in the same rounds
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
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
BODY: dict[str, object] = {"model": "instant", "messages": [{"role": "user", "content": QUESTION}]}
RESPONSES_BODY: dict[str, object] = {"model": "instant", "input": QUESTION}


def timed(count: int, call: Callable[[], object]) -> np.ndarray:
    """`count` sequential calls, in milliseconds each."""
    times = np.empty(count)
    for index in range(count):
        started = time.perf_counter()
        call()
        times[index] = time.perf_counter() - started
    return times * 1000


class Client:
    """A keep-alive HTTP/1.1 client from the standard library: far lighter than httpx, so the
    figure is the server's cost rather than the client's."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, body: dict[str, object], path: str = "/v1/chat/completions") -> bytes:
        try:
            response = self._sent(body, path)
        except (ConnectionError, http.client.RemoteDisconnected):  # idle past keep-alive
            self.connection.close()
            response = self._sent(body, path)
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {data[:200]!r}")
        return data

    def _sent(self, body: dict[str, object], path: str) -> http.client.HTTPResponse:
        self.connection.request("POST", path, json.dumps(body),
                                {"content-type": "application/json"})
        return self.connection.getresponse()

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
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--baseline-src", type=Path,
                        help="another checkout's src/: its server runs the same paths in the "
                        "same rounds (a before/after under the same load)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "server_overhead.json")
    args = parser.parse_args()
    console = Console()
    per_round = max(1, args.requests // args.rounds)
    trees: dict[str, str | None] = {"server": None}
    if args.baseline_src is not None:
        trees["baseline"] = str(args.baseline_src.resolve())
    with tempfile.TemporaryDirectory() as scratch, Progress(console=console) as progress, \
            ExitStack() as servers:
        settings = load_settings(engine="instant", trace_db=str(Path(scratch) / "inproc.sqlite"))
        switch = build_switch(settings)
        paths: dict[str, Callable[[], object]] = {
            "in-process switch.run": lambda: switch.run(Request.build(QUESTION, think="auto"))}
        for label, source in trees.items():
            port = free_port()
            serve = [str(VENV_BIN / "python"), "-m", "thinkswitch", "serve", "--engine",
                     "instant", "--port", str(port), "--db", str(Path(scratch) / f"{label}.sqlite")]
            servers.enter_context(running(serve, f"http://127.0.0.1:{port}/health",
                                          env={"PYTHONPATH": source} if source else None))
            client = Client(port)
            paths |= {f"{label}, JSON": partial(client.post, BODY),
                      f"{label}, streaming": client.streamed,
                      f"{label}, Responses JSON": client.responses,
                      f"{label}, Responses streaming": client.responses_streamed}
        for call in paths.values():  # warm-up
            timed(100, call)
        rounds: list[dict[str, np.ndarray]] = []
        task = progress.add_task("interleaved rounds", total=args.rounds)
        names = list(paths)
        for number in range(args.rounds):
            order = names[number % len(names):] + names[:number % len(names)]
            rounds.append({name: timed(per_round, paths[name]) for name in order})
            progress.advance(task)
    samples = {name: np.concatenate([block[name] for block in rounds]) for name in paths}
    base = float(np.median(samples["in-process switch.run"]))
    table = Table(title=f"{per_round * args.rounds} sequential requests per path, instant "
                  f"engine, {args.rounds} interleaved rounds")
    for column in ("path", "p50 ms", "p99 ms", "added p50 ms", "added p50 per round"):
        table.add_column(column, justify="left" if column == "path" else "right")
    summary: dict[str, dict[str, object]] = {}
    for name, times in samples.items():
        p50, p99 = float(np.median(times)), float(np.percentile(times, 99))
        added = sorted(float(np.median(block[name]) - np.median(block["in-process switch.run"]))
                       for block in rounds)
        spread = f"{added[0]:+.2f} / {added[len(added) // 2]:+.2f} / {added[-1]:+.2f}"
        summary[name] = {"p50_ms": round(p50, 3), "p99_ms": round(p99, 3),
                         "added_p50_ms": round(p50 - base, 3),
                         "added_p50_per_round_ms": [round(value, 3) for value in added]}
        table.add_row(name, f"{p50:.2f}", f"{p99:.2f}", f"{p50 - base:+.2f}", spread)
    console.print(table)
    console.print("targets: streaming adds <= 1.5 ms and JSON <= 1 ms at p50 "
                  f"(load average {os.getloadavg()[0]:.1f})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
