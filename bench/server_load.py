"""Load test of the thinkswitch server: 64 concurrent streaming clients for 60 s.

The server runs in its own process (so its RSS is its own) on the `instant` engine (no model:
16 thinking words when thinking is on, then 8 answer words, at once) with the SQLite trace
store on. Clients are asyncio tasks in this process; each asks one question at a time (half
with thinking on, half off), reads the stream to `[DONE]`, and on a 429 backs off 50 ms and
asks again. Reported: outcomes by kind (only deliberate 429s are allowed besides answers),
p50/p99 latency of answered requests, throughput, the server's RSS when idle, after the
warm-up (the first tenth of the run) and at the end, and the trace records written.

    .venv/bin/python bench/server_load.py [--seconds 60] [--clients 64] [--capacity 48]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from load import LoadResult, streaming_load
from loopback import VENV_BIN, free_port, rss_mib, running
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from thinkswitch.trace.backends import open_store

HERE = Path(__file__).resolve().parent


def question(client: int, asked: int) -> dict[str, Any]:
    return {"model": "instant", "reasoning_effort": "low" if asked % 2 else "none",
            "messages": [{"role": "user", "content": f"client {client} question {asked}"}]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--capacity", type=int, default=48, help="server admission capacity")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "server_load.json")
    args = parser.parse_args()
    console = Console()
    port = free_port()
    rss: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as scratch:
        db = Path(scratch) / "traces.sqlite"
        serve = [str(VENV_BIN / "thinkswitch"), "serve", "--engine", "instant", "--port",
                 str(port), "--capacity", str(args.capacity), "--db", str(db)]
        with running(serve, f"http://127.0.0.1:{port}/health") as server, \
                Progress(console=console) as progress:
            idle = rss_mib(server.pid)
            task = progress.add_task(f"{args.clients} clients", total=args.seconds)

            def tick(result: LoadResult, elapsed: float) -> None:
                if not rss or elapsed - rss[-1][0] >= 1.0:
                    rss.append((round(elapsed, 1), round(rss_mib(server.pid), 1)))
                progress.update(task, completed=min(elapsed, args.seconds),
                                description=f"{args.clients} clients, {result.ok} answered")

            result = streaming_load(f"http://127.0.0.1:{port}/v1/chat/completions", question,
                                    args.clients, args.seconds, on_tick=tick)
        store = open_store(db)
        records = len(store.records())
        store.close()
    warm = next(mb for at, mb in rss if at >= args.seconds / 10)
    summary = {**result.summary(), "errors_besides_429": result.failures_besides("429"),
               "trace_records": records, "rss_idle_mb": round(idle, 1),
               "rss_after_warmup_mb": warm, "rss_end_mb": rss[-1][1],
               "rss_drift_mb": round(rss[-1][1] - warm, 1), "rss_series_mb": rss}
    table = Table(title=f"server load: {args.clients} streaming clients, "
                        f"{summary['seconds']} s, instant engine")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in [
            ("answered", result.ok), ("req/s", summary["req_per_s"]),
            ("p50 ms", summary["p50_ms"]), ("p99 ms", summary["p99_ms"]),
            ("outcomes", dict(result.statuses)),
            ("errors besides 429", summary["errors_besides_429"]),
            ("trace records", records),
            ("RSS idle / after warm-up / end MiB", f"{summary['rss_idle_mb']} / {warm} / "
                                                   f"{summary['rss_end_mb']}"),
            ("RSS drift MiB", summary["rss_drift_mb"])]:
        table.add_row(name, str(value))
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"settings": {k: str(v) for k, v in vars(args).items()},
                                    **summary}, indent=2))
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
