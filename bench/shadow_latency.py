"""Does shadow evaluation delay users? Time to first token with shadow rate R against 0.

Two `thinkswitch serve` processes on the replay engine (SimpleQA, Gemini 2.5 Flash by default;
auto mode, the default policy, each its own SQLite trace store), one with `--shadow-rate R`,
one with 0, are asked the same recorded questions in one run: each question goes to both, in
a random order per question, by `--clients` concurrent streaming clients. Time to first token
is measured by the client: from sending the request to the first SSE chunk that carries
thinking or answer text. Reported: p50 / p99 of each server and their ratios, and the shadow
server's shadow counters from /metrics (runs recorded, dropped by reason).

    .venv/bin/python bench/shadow_latency.py [--requests 400] [--rate 0.2] [--clients 2]
        [--keep shadow.sqlite]   # then: thinkswitch triage report --db shadow.sqlite
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from loopback import VENV_BIN, free_port, running

from thinkswitch.engines.replay import ReplayEngine
from thinkswitch.settings import default_data_dir

HERE = Path(__file__).resolve().parent


def first_token_s(http: httpx.Client, url: str, question: str, model: str) -> float:
    """Seconds from sending to the first chunk with thinking or answer text."""
    body = {"model": model, "stream": True, "messages": [{"role": "user", "content": question}]}
    started = time.perf_counter()
    first: float | None = None
    with http.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=60) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if first is None and line.startswith("data: {"):
                delta = json.loads(line[6:])["choices"]
                if delta and (delta[0]["delta"].get("content")
                              or delta[0]["delta"].get("reasoning_content")):
                    first = time.perf_counter() - started
    if first is None:
        raise RuntimeError(f"no token in the answer to {question[:40]!r}")
    return first


def shadow_counters(url: str) -> dict[str, float]:
    counters = {}
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith(("thinkswitch_shadow_total", "thinkswitch_shadow_dropped_total")):
            name, value = line.rsplit(" ", 1)
            counters[name] = float(value)
    return counters


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="questions (each to both)")
    parser.add_argument("--rate", type=float, default=0.2, help="shadow rate of the one server")
    parser.add_argument("--clients", type=int, default=2, help="concurrent clients")
    parser.add_argument("--model", default="gemini-2.5-flash", help="recorded model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "shadow_latency.json")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the shadow server's trace store here (for triage report)")
    args = parser.parse_args()
    questions = ReplayEngine(default_data_dir(), args.model).questions()
    rng = random.Random(args.seed)
    asked = [questions[i % len(questions)] for i in range(args.requests)]
    rng.shuffle(asked)
    timings: dict[str, list[float]] = {"shadow": [], "plain": []}
    lock = threading.Lock()
    with tempfile.TemporaryDirectory() as scratch:
        urls = {}
        commands = {}
        for name, rate in (("shadow", args.rate), ("plain", 0.0)):
            store = Path(scratch) / f"{name}.sqlite"
            if name == "shadow" and args.keep is not None:
                store = args.keep
            port = free_port()
            urls[name] = f"http://127.0.0.1:{port}"
            commands[name] = [str(VENV_BIN / "thinkswitch"), "serve", "--engine", "replay",
                              "--model", args.model, "--port", str(port), "--shadow-rate",
                              str(rate), "--db", str(store)]
        with running(commands["shadow"], f"{urls['shadow']}/health"), \
                running(commands["plain"], f"{urls['plain']}/health"), \
                httpx.Client() as http:
            for name in urls:  # warm both (imports, the recorded runs read once)
                for question in asked[:5]:
                    first_token_s(http, urls[name], question, args.model)

            def ask(index: int) -> None:
                order = ["shadow", "plain"]
                random.Random(args.seed * 100_003 + index).shuffle(order)
                for name in order:
                    seconds = first_token_s(http, urls[name], asked[index], args.model)
                    with lock:
                        timings[name].append(seconds)

            with ThreadPoolExecutor(max_workers=args.clients) as pool:
                list(pool.map(ask, range(len(asked))))
            time.sleep(1.0)  # the last shadow runs finish
            counters = shadow_counters(urls["shadow"])
    summary: dict[str, Any] = {"requests": args.requests, "rate": args.rate,
                               "clients": args.clients, "model": args.model,
                               "shadow_counters": counters}
    for name, values in timings.items():
        summary[name] = {"p50_ms": round(float(np.percentile(values, 50)) * 1000, 2),
                         "p99_ms": round(float(np.percentile(values, 99)) * 1000, 2)}
    for q in ("p50_ms", "p99_ms"):
        summary[f"ratio_{q[:3]}"] = round(summary["shadow"][q] / summary["plain"][q], 3)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
