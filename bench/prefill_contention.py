"""Prefill time of a ~600-token prompt, idle and with one busy process on the machine.

llama.cpp's threads busy-wait for each other, so a pool that holds every core collapses when
anything else runs. The engine therefore uses all cores but one for generation (`n_threads`)
and, since issue #18, for prefill too (`n_threads_batch`). This measures, round by round and
interleaved, the prefill time of the same prompt on the engine's own model object (and, with
`--compare`, on one loaded with llama.cpp's default prefill threads: every core), each with the
machine as it is
("idle") and with one extra process spinning on a core ("busy"). Target: the engine's busy
prefill within 1.3x of its idle prefill.

    .venv/bin/python bench/prefill_contention.py [--rounds 3] [--tokens 600] [--compare]

On a machine shared with other work, "idle" is not idle: read the ratios, side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from thinkswitch.engines.llama_cpp import LlamaCppEngine, default_threads
from thinkswitch.engines.model_files import resolve_model_path
from thinkswitch.settings import Settings

TEXT = ("A farmer has 3 fields with 12 rows of 8 plants each. Each plant gives 4 tomatoes a "
        "week, and the farmer sells them in boxes of 6 at the market on Saturdays. ")


@contextmanager
def busy_process() -> Iterator[None]:
    """One process that spins on a core until the block ends. It runs in a session of its own:
    with the kernel's autogroup scheduling (Debian's default), a child in the bench's own
    session would share the bench's CPU time instead of taking a core of its own."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"],
                               start_new_session=True)
    try:
        time.sleep(0.3)  # let it get going
        yield
    finally:
        spinner.kill()
        spinner.wait()


def prompt_tokens(llama: Any, size: int) -> list[int]:
    tokens: list[int] = []
    while len(tokens) < size:
        tokens += list(llama.tokenize(TEXT.encode(), add_bos=not tokens, special=False))
    return tokens[:size]


def prefill_seconds(llama: Any, tokens: list[int]) -> float:
    """Seconds to evaluate `tokens` from an empty KV cache."""
    llama.reset()
    started = time.perf_counter()
    llama.eval(tokens)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=600)
    parser.add_argument("--compare", action="store_true",
                        help="also measure a model with llama.cpp's default prefill threads")
    args = parser.parse_args()

    from llama_cpp import Llama

    settings = Settings(n_ctx=2048)
    engine = LlamaCppEngine.from_settings(settings)
    models = {"thinkswitch": engine.llama}
    if args.compare:
        models["llama.cpp default batch threads"] = Llama(
            model_path=str(resolve_model_path(settings.model)), n_ctx=2048,
            n_threads=default_threads(), verbose=False, logits_all=False)
    tokens = prompt_tokens(engine.llama, args.tokens)
    for llama in models.values():  # warm up: first evaluation pays for page faults
        prefill_seconds(llama, tokens[:64])
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for name, llama in models.items():
            times.setdefault((name, "idle"), []).append(prefill_seconds(llama, tokens))
        with busy_process():
            for name, llama in models.items():
                times.setdefault((name, "busy"), []).append(prefill_seconds(llama, tokens))
    report: dict[str, Any] = {"tokens": len(tokens), "cores": os.cpu_count(),
                              "rounds": args.rounds}
    for name, llama in models.items():
        idle = statistics.median(times[(name, "idle")])
        busy = statistics.median(times[(name, "busy")])
        report[name] = {"n_threads": llama.context_params.n_threads,
                        "n_threads_batch": llama.context_params.n_threads_batch,
                        "idle_s": round(idle, 2), "busy_s": round(busy, 2),
                        "busy_over_idle": round(busy / idle, 2),
                        "all_idle_s": [round(t, 2) for t in times[(name, "idle")]],
                        "all_busy_s": [round(t, 2) for t in times[(name, "busy")]]}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
