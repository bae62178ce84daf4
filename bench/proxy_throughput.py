"""Requests/s and deltas/s of concurrent streaming clients through thinkswitch, against the
same instant OpenAI-compatible upstream served directly (and optillm, if installed), in one run.

Two cases: `short` ("Say hi.": 4 thinking + 5 answer deltas) and `long` (256 thinking and 256
answer deltas per request, `include_usage`, a question the triage policy thinks on). thinkswitch
runs in auto mode with triage and the trace store on. Rounds alternate upstream-direct and
thinkswitch, so load drifts hit both. Targets: issue #6, thinkswitch/optillm >= 10x; issue #18,
thinkswitch/upstream >= 0.60x in req/s (short) and in delivered deltas/s (long), 32 clients.

optillm pulls torch and much more, so it lives in its own venv, never as a dependency of
thinkswitch (about 7 minutes and 3 GB):

    python3 -m venv ~/.cache/thinkswitch/optillm-venv
    ~/.cache/thinkswitch/optillm-venv/bin/pip install torch==2.13.0 optillm
    .venv/bin/python bench/proxy_throughput.py [--clients 32] [--seconds 20] [--rounds 2]
        [--workers 1,2]

`--workers 1,2` runs a thinkswitch with one worker and one with two (`serve --workers`) side
by side, each round measuring the upstream and then each of them.

All processes (upstream, proxy, load generator) share this machine's cores, so the figures
are for a 2-core box, not a proxy's ceiling.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from load import LoadResult, streaming_load
from loopback import VENV_BIN, free_port, running, tree_cpu_seconds
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

HERE = Path(__file__).resolve().parent
OPTILLM = Path.home() / ".cache" / "thinkswitch" / "optillm-venv" / "bin" / "optillm"
BODY = {"model": "instant-upstream", "messages": [{"role": "user", "content": "Say hi."}],
        "stream_options": {"include_usage": True}}
LONG_BODY = {**BODY, "messages": [{"role": "user", "content": (
    "Prove step by step that the sum of the first n odd numbers is n squared, and explain "
    "why the induction step holds.")}]}
#: case -> (deltas per answer part for the upstream, None: its few fixed words; request body)
CASES: dict[str, tuple[int | None, dict[str, object]]] = {
    "short": (None, BODY), "long": (256, LONG_BODY)}


def measure(name: str, url: str, clients: int, seconds: float, progress: Progress,
            body: dict[str, object] | None = None,
            cpu_of: Sequence[tuple[int, list[float]]] = ()) -> LoadResult:
    """One timed load after a warm-up; for each (pid, list) in `cpu_of`, the CPU seconds that
    process used during the timed part are appended to the list."""
    task = progress.add_task(f"{name}: {clients} streaming clients", total=seconds)
    started = time.monotonic()
    streaming_load(url, body or BODY, clients, min(2.0, seconds / 5))  # warm-up
    before = [tree_cpu_seconds(pid) for pid, _ in cpu_of]
    result = streaming_load(url, body or BODY, clients, seconds)
    for (pid, used), at_start in zip(cpu_of, before, strict=True):
        used.append(tree_cpu_seconds(pid) - at_start)
    progress.update(task, completed=min(seconds, time.monotonic() - started))
    return result


def target(workers: int, counts: Sequence[int]) -> str:
    """The name of thinkswitch with `workers` workers in the results (plain when it is alone)."""
    return "thinkswitch" if len(counts) == 1 else f"thinkswitch, {workers} worker" + (
        "s" if workers > 1 else "")


def run_case(case: str, args: argparse.Namespace, progress: Progress, scratch: str,
             console: Console, proxy_cpu: dict[str, list[float]]) -> dict[str, list[LoadResult]]:
    """Upstream directly and through thinkswitch (one server per worker count, each with its
    own trace store), alternating for `args.rounds` rounds; the CPU seconds each thinkswitch
    (supervisor and workers) used in each of its rounds are appended to `proxy_cpu[name]`."""
    deltas, body = CASES[case]
    upstream_port, opt_port = free_port(), free_port()
    upstream = f"http://127.0.0.1:{upstream_port}/v1"
    extra = ["--deltas", str(deltas)] if deltas else []
    results: dict[str, list[LoadResult]] = {"upstream directly": []}
    with ExitStack() as stack:
        stack.enter_context(running([sys.executable, str(HERE / "instant_upstream.py"),
                                     "--port", str(upstream_port), *extra],
                                    f"{upstream}/models"))
        proxies = {}
        for workers in args.workers:
            port, name = free_port(), target(workers, args.workers)
            serve = [str(VENV_BIN / "thinkswitch"), "serve", "--engine", "openai", "--base-url",
                     upstream, "--model", "instant-upstream", "--dialect", "qwen3", "--port",
                     str(port), "--capacity", str(args.clients * 2), "--think", "auto",
                     "--workers", str(workers),
                     "--db", str(Path(scratch) / f"traces-{case}-{workers}.sqlite")]
            process = stack.enter_context(running(serve, f"http://127.0.0.1:{port}/health"))
            proxies[name] = (port, process)
            results[name] = []
            proxy_cpu[name] = []
        for _ in range(args.rounds):
            results["upstream directly"].append(measure(
                f"{case} upstream", f"{upstream}/chat/completions", args.clients,
                args.seconds, progress, body))
            for name, (port, process) in proxies.items():
                results[name].append(measure(
                    f"{case} {name}", f"http://127.0.0.1:{port}/v1/chat/completions",
                    args.clients, args.seconds, progress, body, [(process.pid, proxy_cpu[name])]))
        if case == "short" and args.optillm.exists():
            command = [str(args.optillm), "--approach", "none", "--base-url", upstream,
                       "--port", str(opt_port), "--log", "warning"]
            with running(command, f"http://127.0.0.1:{opt_port}/health", timeout_s=300,
                         env={"OPENAI_API_KEY": "bench"}):
                results["optillm (--approach none)"] = [measure(
                    "optillm", f"http://127.0.0.1:{opt_port}/v1/chat/completions",
                    args.clients, args.seconds, progress,
                    {**body, "model": "none-instant-upstream"})]
        elif case == "short":
            console.print(f"[yellow]optillm not found at {args.optillm}: see the docstring")
    return results


def worker_counts(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"expected worker counts like 1 or 1,2, not {text!r}")
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cases", default="short,long", help="comma-separated: short,long")
    parser.add_argument("--workers", type=worker_counts, default=[1],
                        help="thinkswitch serve --workers; several (1,2) run side by side")
    parser.add_argument("--optillm", type=Path, default=OPTILLM)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "proxy_throughput.json")
    args = parser.parse_args()
    console = Console()
    cases = [case for case in args.cases.split(",") if case]
    summary: dict[str, object] = {"load_average": round(os.getloadavg()[0], 1),
                                  "workers": args.workers}
    table = Table(title=f"{args.clients} concurrent streaming clients, {args.seconds:.0f} s "
                  f"each, {args.rounds} alternating rounds")
    for column in ("case", "target", "round", "req/s", "deltas/s", "p50 ms", "p99 ms",
                   "responses"):
        table.add_column(column, justify="left" if column in ("case", "target") else "right")
    lines: list[str] = []
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as scratch, Progress(console=console) as progress:
        for case in cases:
            proxy_cpu: dict[str, list[float]] = {}
            results = run_case(case, args, progress, scratch, console, proxy_cpu)
            for name, runs in results.items():
                for number, result in enumerate(runs, 1):
                    table.add_row(case, name, str(number), f"{result.rate():.1f}",
                                  f"{result.delta_rate():.0f}",
                                  f"{result.percentile_ms(50):.1f}",
                                  f"{result.percentile_ms(99):.1f}",
                                  json.dumps(dict(result.statuses)))
            summary[case] = {name: [r.summary() for r in runs] for name, runs in results.items()}
            failures += [f"{case}, {name}, round {number}: {failure}"
                         for name, runs in results.items()
                         for number, result in enumerate(runs, 1) for failure in result.failures]
            direct = results["upstream directly"]
            measure_of = LoadResult.rate if case == "short" else LoadResult.delta_rate
            what = "req/s" if case == "short" else "deltas/s"
            unit = "delta" if case == "long" else "request"
            for workers in args.workers:
                name = target(workers, args.workers)
                suffix = "" if len(args.workers) == 1 else f"_{workers}_workers"
                proxied = results[name]
                ratios = [round(measure_of(p) / measure_of(d), 3)
                          for d, p in zip(direct, proxied, strict=True) if measure_of(d) > 0]
                summary[f"{case}_ratio_thinkswitch_over_upstream{suffix}"] = ratios
                # thinkswitch's own CPU (all its processes and threads) per delivered delta
                # (long) or answer (short)
                units = [p.deltas if case == "long" else p.ok for p in proxied]
                cpu = [round(1e6 * used / n, 1)
                       for used, n in zip(proxy_cpu[name], units, strict=True) if n]
                summary[f"{case}_proxy_cpu_us_per_{unit}{suffix}"] = cpu
                lines.append(f"{case}: {name} / upstream in {what}, per round: {ratios} "
                             f"(target >= 0.60); CPU per {unit}, µs: {cpu}")
            optillm = results.get("optillm (--approach none)")
            if optillm and optillm[0].rate() > 0:
                proxied = results[target(args.workers[0], args.workers)]
                summary["ratio_thinkswitch_over_optillm"] = round(
                    statistics.median(r.rate() for r in proxied) / optillm[0].rate(), 1)
    console.print(table)
    for line in lines:
        console.print(line)
    for line in failures:  # what each failed request got (the first few per round)
        console.print(line, markup=False, highlight=False)
    if "ratio_thinkswitch_over_optillm" in summary:
        console.print(f"thinkswitch / optillm: [bold]{summary['ratio_thinkswitch_over_optillm']}x"
                      "[/] (target >= 10x)")
    summary["load_average_after"] = round(os.getloadavg()[0], 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
