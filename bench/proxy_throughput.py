"""Requests/s of concurrent streaming clients through thinkswitch and through optillm, both
proxying to the same instant OpenAI-compatible upstream, in one run; plus the upstream served
directly. Target (issue #6): thinkswitch/optillm >= 10x.

optillm pulls torch and much more, so it lives in its own venv, never as a dependency of
thinkswitch (about 7 minutes and 3 GB):

    python3 -m venv ~/.cache/thinkswitch/optillm-venv
    ~/.cache/thinkswitch/optillm-venv/bin/pip install torch==2.13.0 optillm
    .venv/bin/python bench/proxy_throughput.py [--clients 32] [--seconds 20]

All three processes (upstream, proxy, load generator) share this machine's cores, so the
figures are for a 2-core box, not a proxy's ceiling.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from load import LoadResult, streaming_load
from loopback import VENV_BIN, free_port, running
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

HERE = Path(__file__).resolve().parent
OPTILLM = Path.home() / ".cache" / "thinkswitch" / "optillm-venv" / "bin" / "optillm"
BODY = {"model": "instant-upstream", "messages": [{"role": "user", "content": "Say hi."}],
        "stream_options": {"include_usage": True}}


def measure(name: str, url: str, clients: int, seconds: float, progress: Progress,
            body: dict[str, object] | None = None) -> LoadResult:
    task = progress.add_task(f"{name}: {clients} streaming clients", total=seconds)
    started = time.monotonic()
    streaming_load(url, body or BODY, clients, min(2.0, seconds / 5))  # warm-up
    result = streaming_load(url, body or BODY, clients, seconds)
    progress.update(task, completed=min(seconds, time.monotonic() - started))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--optillm", type=Path, default=OPTILLM)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "proxy_throughput.json")
    args = parser.parse_args()
    console = Console()
    upstream_port, ts_port, opt_port = free_port(), free_port(), free_port()
    upstream = f"http://127.0.0.1:{upstream_port}/v1"
    results: dict[str, LoadResult] = {}
    with tempfile.TemporaryDirectory() as scratch, Progress(console=console) as progress, \
            running([sys.executable, str(HERE / "instant_upstream.py"), "--port",
                     str(upstream_port)], f"{upstream}/models"):
        results["upstream directly"] = measure("upstream", f"{upstream}/chat/completions",
                                               args.clients, args.seconds, progress)
        serve = [str(VENV_BIN / "thinkswitch"), "serve", "--engine", "openai", "--base-url",
                 upstream, "--model", "instant-upstream", "--dialect", "qwen3", "--port",
                 str(ts_port), "--capacity", str(args.clients * 2), "--think", "auto",
                 "--db", str(Path(scratch) / "traces.sqlite")]
        with running(serve, f"http://127.0.0.1:{ts_port}/health"):
            results["thinkswitch"] = measure(
                "thinkswitch", f"http://127.0.0.1:{ts_port}/v1/chat/completions",
                args.clients, args.seconds, progress)
        if args.optillm.exists():
            command = [str(args.optillm), "--approach", "none", "--base-url", upstream,
                       "--port", str(opt_port), "--log", "warning"]
            with running(command, f"http://127.0.0.1:{opt_port}/health", timeout_s=300,
                         env={"OPENAI_API_KEY": "bench"}):
                results["optillm (--approach none)"] = measure(
                    "optillm", f"http://127.0.0.1:{opt_port}/v1/chat/completions",
                    args.clients, args.seconds, progress,
                    {**BODY, "model": "none-instant-upstream"})
        else:
            console.print(f"[yellow]optillm not found at {args.optillm}: see the docstring")
    table = Table(title=f"{args.clients} concurrent streaming clients, {args.seconds:.0f} s each")
    for column in ("target", "req/s", "p50 ms", "p99 ms", "responses"):
        table.add_column(column, justify="right" if column != "target" else "left")
    for name, result in results.items():
        table.add_row(name, f"{result.rate():.1f}", f"{result.percentile_ms(50):.1f}",
                      f"{result.percentile_ms(99):.1f}", json.dumps(dict(result.statuses)))
    console.print(table)
    summary: dict[str, object] = {name: r.summary() for name, r in results.items()}
    optillm = results.get("optillm (--approach none)")
    if optillm is not None and optillm.rate() > 0:
        ratio = results["thinkswitch"].rate() / optillm.rate()
        summary["ratio_thinkswitch_over_optillm"] = round(ratio, 1)
        console.print(f"thinkswitch / optillm: [bold]{ratio:.1f}x[/] (target >= 10x)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
