"""What one capacity bound across worker processes costs a request: `try_enter` + `leave` of
the per-process `Admission` against `SharedAdmission` (a board of 2 workers: threading lock,
fcntl record lock, sums over the shared rows), alone and while another process admits and
leaves on the same board as fast as it can; and the metrics' `observe` of one answer.

    .venv/bin/python bench/admission_cost.py [--pairs 200000] [--rounds 5]

Rounds alternate the variants; the figure is the median of the rounds, in µs per request.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from collections.abc import Callable

from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.result import Result, Timings, Usage
from thinkswitch.server.admission import Admission, Metrics
from thinkswitch.server.worker_board import SharedAdmission, SharedMetrics, WorkerBoard


def per_pair_us(admission: Admission, pairs: int) -> float:
    enter, leave = admission.try_enter, admission.leave
    started = time.perf_counter()
    for _ in range(pairs):
        enter()
        leave()
    return (time.perf_counter() - started) / pairs * 1e6


def per_call_us(call: Callable[[], object], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        call()
    return (time.perf_counter() - started) / count * 1e6


def hammer(board: WorkerBoard, stop: multiprocessing.synchronize.Event) -> None:
    """The other worker: admit and leave until told to stop."""
    admission = SharedAdmission(board, 1, 1_000)
    while not stop.is_set():
        per_pair_us(admission, 1_000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    result = Result(decision=Decision(requested="auto", mode="off", budget=None, policy="bench",
                                      reason="bench"), answer="a", thinking="",
                    usage=Usage(prompt_tokens=10, thinking_tokens=0, answer_tokens=9),
                    timings=Timings(ttft_s=0.001, first_answer_s=0.001, total_s=0.012),
                    engine="bench", model="bench", finish_reason="stop")
    board = WorkerBoard.create(2)
    local, shared = Metrics(), SharedMetrics(board, 0)
    variants: dict[str, Callable[[], float]] = {
        "Admission (one process)": lambda: per_pair_us(Admission(1_000), args.pairs),
        "SharedAdmission, alone": lambda: per_pair_us(
            SharedAdmission(board, 0, 1_000), args.pairs),
        "Metrics.observe (one process)": lambda: per_call_us(
            lambda: local.observe(result), args.pairs // 4),
        "SharedMetrics.observe": lambda: per_call_us(
            lambda: shared.observe(result), args.pairs // 4),
    }
    figures: dict[str, list[float]] = {name: [] for name in variants}
    contended: list[float] = []
    context = multiprocessing.get_context("spawn")
    for _ in range(args.rounds):
        for name, run in variants.items():
            figures[name].append(run())
        stop = context.Event()
        other = context.Process(target=hammer, args=(board, stop))
        other.start()
        time.sleep(0.5)  # let it start hammering
        contended.append(per_pair_us(SharedAdmission(board, 0, 1_000), args.pairs))
        stop.set()
        other.join()
    figures["SharedAdmission, another worker hammering"] = contended
    board.close()
    print(f"µs per request, median of {args.rounds} rounds (min-max):")
    for name, values in figures.items():
        print(f"  {name:45s} {statistics.median(values):6.2f}  "
              f"({min(values):.2f}-{max(values):.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
