"""Throughput and latency of the `openai` engine's replica pool with 1, 2 and 3 upstream
replicas, and the failover after a replica is killed.

Each replica is a scripted OpenAI-compatible server in its own process
(tests/support/scripted_upstream.py, run as a script) with a fixed delay per token and one
stream at a time (like a model server with one slot), so a replica serves at most
1 / (tokens x delay) requests/s and throughput can only grow by spreading requests. Clients
are threads calling the switch (the engine's pool inside it), `--clients` at once, for
`--seconds` per configuration.
Target (issue #8): throughput at 2 replicas >= 1.8x that of 1.

Failover: two replicas under the same load; one is killed (SIGKILL) mid-run. Reported: the
time until the pool took it out (circuit open), the requests that failed (streams cut
mid-way; new ones are retried on the other replica), and the worst latency after the kill.

    .venv/bin/python bench/replica_scaling.py [--seconds 10] [--clients 8] [--tokens 32]
        [--token-delay 0.01]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loopback import free_port, running
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from thinkswitch.engines.openai_compat import OpenAICompatEngine
from thinkswitch.kernel.errors import ThinkswitchError
from thinkswitch.kernel.request import Request
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.triage.rules import RulesPolicy

#: The scripted OpenAI-compatible upstream the tests use, run as its own process (a script:
#: nothing of tests/ is imported here).
SCRIPTED_UPSTREAM = (Path(__file__).resolve().parents[1] / "tests" / "support"
                     / "scripted_upstream.py")
MODEL = "scripted-upstream"


@contextmanager
def upstream_process(token_delay_s: float, tokens: int, slots: int
                     ) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """One scripted upstream replica; yields its `/v1` URL and its process (to kill it)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    command = [sys.executable, str(SCRIPTED_UPSTREAM), "--port", str(port), "--token-delay",
               str(token_delay_s), "--tokens", str(tokens), "--slots", str(slots)]
    with running(command, f"{url}/models", timeout_s=20.0) as process:
        yield url, process


@dataclass
class Run:
    started: float
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (start, seconds)
    errors: list[tuple[float, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def summary(self, seconds: float) -> dict[str, Any]:
        values = sorted(latency for _, latency in self.latencies)
        return {
            "requests": len(values), "errors": len(self.errors), "seconds": round(seconds, 2),
            "req_per_s": round(len(values) / seconds, 3),
            "p50_s": round(statistics.median(values), 4) if values else None,
            "p99_s": round(values[min(len(values) - 1, int(0.99 * len(values)))], 4)
            if values else None,
        }


def build_switch(urls: list[str], health_interval_s: float = 1.0) -> Switch:
    engine = OpenAICompatEngine(base_url=",".join(urls), model=MODEL,
                                first_token_timeout_s=30.0, total_timeout_s=60.0,
                                health_interval_s=health_interval_s)
    return Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(), Settings()))


def load(switch: Switch, clients: int, seconds: float, progress: Progress,
         label: str, during: Any = None) -> tuple[Run, float]:
    """`clients` threads asking questions (thinking off) until `seconds` have passed."""
    run = Run(time.monotonic())
    stop_at = run.started + seconds
    task = progress.add_task(label, total=seconds)
    counter = iter(range(10**9))

    def client() -> None:
        while time.monotonic() < stop_at:
            question = f"question {next(counter)}"
            start = time.monotonic()
            try:
                result = switch.run(Request.build(question, think="off"))
                assert result.answer.startswith(f"answer to {question}"), result.answer
                with run.lock:
                    run.latencies.append((start, time.monotonic() - start))
            except ThinkswitchError as error:
                with run.lock:
                    run.errors.append((start, str(error)))

    with ThreadPoolExecutor(clients) as workers:
        futures = [workers.submit(client) for _ in range(clients)]
        if during is not None:
            during(run)
        while not all(f.done() for f in futures):
            progress.update(task, completed=min(seconds, time.monotonic() - run.started))
            time.sleep(0.1)
        for future in futures:
            future.result()
    elapsed = time.monotonic() - run.started
    progress.update(task, completed=seconds)
    return run, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per configuration")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--token-delay", type=float, default=0.01)
    parser.add_argument("--out", type=Path, default=Path("bench/results/replica_scaling.json"))
    args = parser.parse_args()
    console = Console()
    scaling: dict[int, dict[str, Any]] = {}
    failover: dict[str, Any] = {}
    with ExitStack() as stack, Progress(console=console) as progress:
        upstreams = [stack.enter_context(upstream_process(
            token_delay_s=args.token_delay, tokens=args.tokens, slots=1)) for _ in range(3)]
        urls = [url for url, _ in upstreams]
        for count in (1, 2, 3):
            switch = build_switch(urls[:count])
            load(switch, args.clients, 1.0, progress, f"warm-up {count}")
            run, elapsed = load(switch, args.clients, args.seconds, progress,
                                f"{count} replica(s)")
            scaling[count] = run.summary(elapsed)
            switch.close()

        # failover: two replicas, the second one (a fresh process) killed mid-run
        with upstream_process(token_delay_s=args.token_delay, tokens=args.tokens,
                              slots=1) as (doomed_url, doomed):
            switch = build_switch([urls[0], doomed_url])
            engine = switch.engine
            assert isinstance(engine, OpenAICompatEngine)
            doomed_replica = engine.pool.replicas[1]
            marks: dict[str, float] = {}

            def kill_midway(_: Run) -> None:
                time.sleep(args.seconds / 2)
                doomed.kill()
                marks["killed"] = time.monotonic()
                while doomed_replica.state == "closed":
                    time.sleep(0.001)
                marks["out"] = time.monotonic()

            run, elapsed = load(switch, args.clients, args.seconds, progress, "failover",
                                during=lambda r: threading.Thread(
                                    target=kill_midway, args=(r,), daemon=True).start())
            deadline = time.monotonic() + 15
            while "out" not in marks and time.monotonic() < deadline:
                time.sleep(0.05)
            killed = marks["killed"]
            after = [latency for start, latency in run.latencies if start >= killed]
            before = [latency for start, latency in run.latencies if start < killed - 1.0]
            failover = {
                "circuit_open_after_kill_s": round(marks["out"] - killed, 4)
                if "out" in marks else None,
                "failed_requests": len(run.errors),
                "failed_kinds": sorted({e.split(":")[0] for _, e in run.errors}),
                "worst_latency_after_kill_s": round(max(after), 3) if after else None,
                "p50_before_kill_s": round(statistics.median(before), 4) if before else None,
                "served_by_dead_replica": doomed_replica.served,
                **{f"overall_{k}": v for k, v in run.summary(elapsed).items()},
            }
            engine.close()

    ratio2 = scaling[2]["req_per_s"] / scaling[1]["req_per_s"]
    ratio3 = scaling[3]["req_per_s"] / scaling[1]["req_per_s"]
    table = Table(title=f"replica scaling ({args.clients} clients, {args.tokens} tokens x "
                        f"{args.token_delay * 1000:g} ms, 1 slot per replica)")
    for column in ("replicas", "req/s", "scaling", "p50 s", "p99 s", "errors"):
        table.add_column(column, justify="right")
    for count, row in scaling.items():
        table.add_row(str(count), f"{row['req_per_s']:.2f}",
                      f"{row['req_per_s'] / scaling[1]['req_per_s']:.2f}x",
                      f"{row['p50_s']:.3f}", f"{row['p99_s']:.3f}", str(row["errors"]))
    console.print(table)
    console.print(f"failover: {failover}")
    verdict = "PASS" if ratio2 >= 1.8 else "FAIL"
    console.print(f"scaling at 2 replicas: {ratio2:.2f}x (target >= 1.8x): {verdict}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "settings": vars(args) | {"out": str(args.out)},
        "scaling": scaling, "ratio_2": round(ratio2, 3), "ratio_3": round(ratio3, 3),
        "target_ratio_2": 1.8, "pass": ratio2 >= 1.8, "failover": failover,
    }, indent=2))
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
