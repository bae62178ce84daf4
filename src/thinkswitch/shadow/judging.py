"""Judging in a child process: math-verify is pure-Python sympy and can hold the CPU (and, in
the server's process, the GIL) for hundreds of milliseconds on an odd answer. In a niced child
it cannot delay any user request of the server; a comparison that runs too long is given up."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from thinkswitch.kernel.pairs import Agreement
from thinkswitch.shadow.agreement import Verdicts, judge, warm

#: Seconds a judgement may take before the pair is recorded as not judged.
JUDGE_TIMEOUT_S = 10.0
#: How much lower the child's CPU priority is than the server's.
NICENESS = 10


def _start_child() -> None:
    os.nice(NICENESS)
    warm()


class JudgeProcess:
    """One spawned child that judges pairs one at a time (`thinkswitch.shadow.agreement`)."""

    def __init__(self) -> None:
        self._pool = ProcessPoolExecutor(max_workers=1,
                                         mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_start_child)
        self._pool.submit(int).result(timeout=120)  # started and warm before any request

    def judge(self, question: str, live: str, shadow: str) -> Verdicts:
        try:
            return self._pool.submit(judge, question, live, shadow).result(JUDGE_TIMEOUT_S)
        except FutureTimeout:
            return Verdicts(Agreement(agree=None, method="none",
                                      note=f"not judged in {JUDGE_TIMEOUT_S:g} s"))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
