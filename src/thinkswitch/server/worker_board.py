"""What several worker processes of one server share: the admission bound and the request
counters, in one memory-mapped file the supervisor creates (`thinkswitch serve --workers N`).

The file is anonymous (`memfd_create`): it has no name in any directory, so no other user can
open it to fake free capacity, no link planted in a shared temporary directory can redirect it,
and nothing is left behind when the supervisor is killed. A worker gets its own descriptor of it
when it is spawned (pickling a `WorkerBoard` passes the descriptor, as for a socket).

The file holds one row of 64-bit integers per worker. A worker writes only its own row (under
its own threading lock); anyone reads every row. Admission must read the sum of the rows and
add to its own in one step, so that step holds an `fcntl` lock on the file's first byte as
well: the kernel releases a record lock when its holder dies, so a worker killed inside that
step (SIGKILL, the OOM killer) cannot wedge the others, as a semaphore it held would. (POSIX
record locks belong to a process and do not exclude its own threads: hence the threading lock
too.) Leaving needs no lock across processes: it only lowers the worker's own count, which can
make a concurrent admission in another worker only more cautious.

When a worker dies, the supervisor zeroes its `inside` (after it has reaped the worker, before
it starts the replacement: no two processes ever write one row), so a crash cannot leak slots;
its counters stay, so the totals `/metrics` shows never go back. Readers take no lock: each cell
is an aligned 8-byte word, which x86-64 and arm64 load and store whole, so a sum may be a moment
old but never holds half a value. A signed 64-bit count does not overflow in practice (the
fastest, the latency sum in microseconds, would take ~290 years at 1,000 requests always inside).
The shadow runner's counters are kept here too (`SharedShadowCounts`).
"""

from __future__ import annotations

import ctypes
import fcntl
import mmap
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import reduction
from typing import Any

from thinkswitch.kernel.result import Result
from thinkswitch.server.admission import (
    LATENCY_BUCKETS,
    Admission,
    Metrics,
    exposition_text,
    latency_bucket,
)
from thinkswitch.shadow.metrics import COUNTER_KEYS as SHADOW_KEYS

MODES = ("off", "on")
TOKEN_KINDS = ("thinking", "answer", "prompt")
FIRST_STATUS, LAST_STATUS = 100, 599

# The cells of a worker's row.
INSIDE, ENTERED, READY_PID = 0, 1, 2
REQUESTS = 4
TOKENS = REQUESTS + len(MODES)
LATENCY = TOKENS + len(TOKEN_KINDS)
LATENCY_MICROSECONDS = LATENCY + len(LATENCY_BUCKETS) + 1
ERRORS = LATENCY_MICROSECONDS + 1
SHADOW = ERRORS + LAST_STATUS - FIRST_STATUS + 1
ROW = SHADOW + len(SHADOW_KEYS)
CELL_BYTES = 8


class WorkerBoard:
    """The shared rows of `workers` workers, mapped from the open file `descriptor`, which it
    owns (see the module's notes)."""

    def __init__(self, descriptor: int, workers: int) -> None:
        self.workers = workers
        self._fd = descriptor
        self._map = mmap.mmap(self._fd, workers * ROW * CELL_BYTES)
        self.cells = (ctypes.c_int64 * (workers * ROW)).from_buffer(self._map)
        #: Serialises this process's writes to its row (and its turn at the file lock).
        self.local = threading.Lock()

    @classmethod
    def create(cls, workers: int) -> WorkerBoard:
        """A new zeroed board in an anonymous file, for the supervisor."""
        descriptor = os.memfd_create("thinkswitch-workers", os.MFD_CLOEXEC)
        try:
            os.ftruncate(descriptor, workers * ROW * CELL_BYTES)
            return cls(descriptor, workers)
        except BaseException:
            os.close(descriptor)
            raise

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled for a spawned worker: the child gets a descriptor of the same file."""
        return (_attach, (reduction.DupFd(self._fd), self.workers))

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Alone among every worker's threads (see the module's notes)."""
        with self.local:
            fcntl.lockf(self._fd, fcntl.LOCK_EX, 1, 0)
            try:
                yield
            finally:
                fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, 0)

    def cell(self, index: int, field: int) -> int:
        """Where `field` of worker `index` is in `cells`."""
        return index * ROW + field

    def total(self, field: int) -> int:
        cells = self.cells
        return sum(cells[index * ROW + field] for index in range(self.workers))

    def column(self, field: int) -> list[int]:
        return [self.cells[index * ROW + field] for index in range(self.workers)]

    def mark_ready(self, index: int, pid: int) -> None:
        """Worker `index` serves (the supervisor tells a failed start from a crash by it)."""
        self.cells[self.cell(index, READY_PID)] = pid

    def was_ready(self, index: int) -> bool:
        return self.cells[self.cell(index, READY_PID)] != 0

    def vacate(self, index: int) -> None:
        """Worker `index` is gone: free the slots it held, before its successor starts."""
        with self.exclusive():
            self.cells[self.cell(index, INSIDE)] = 0
            self.cells[self.cell(index, READY_PID)] = 0

    def close(self) -> None:
        del self.cells
        self._map.close()
        os.close(self._fd)


def _attach(duplicate: Any, workers: int) -> WorkerBoard:
    return WorkerBoard(duplicate.detach(), workers)


class SharedAdmission(Admission):
    """`Admission` whose bound holds across every worker of the board: `capacity` is the
    whole server's; `inside` and `entered` are the sums over the workers."""

    def __init__(self, board: WorkerBoard, index: int, capacity: int) -> None:
        super().__init__(capacity)
        self._board = board
        self._inside_at = board.cell(index, INSIDE)
        self._entered_at = board.cell(index, ENTERED)

    def try_enter(self) -> bool:
        board = self._board
        with board.exclusive():
            if board.total(INSIDE) >= self.capacity:
                return False
            board.cells[self._inside_at] += 1
            board.cells[self._entered_at] += 1
            return True

    def leave(self) -> None:
        board = self._board
        with board.local:
            board.cells[self._inside_at] = max(0, board.cells[self._inside_at] - 1)

    @property
    def inside(self) -> int:
        return self._board.total(INSIDE)

    @property
    def entered(self) -> int:
        return self._board.total(ENTERED)


class SharedMetrics(Metrics):
    """`Metrics` kept in the worker's row; the exposition sums every worker's (whichever
    worker a scrape reaches, it reads the whole server) and adds each worker's own lines
    (`thinkswitch_worker_*{worker=...}`: how the kernel spread the load, restarts)."""

    def __init__(self, board: WorkerBoard, index: int) -> None:
        super().__init__()
        self._board = board
        self._row = board.cell(index, 0)

    def observe(self, result: Result) -> None:
        cells, row = self._board.cells, self._row
        total = result.timings.total_s
        with self._board.local:
            cells[row + REQUESTS + MODES.index(result.decision.mode)] += 1
            cells[row + TOKENS] += result.usage.thinking_tokens
            cells[row + TOKENS + 1] += result.usage.answer_tokens
            cells[row + TOKENS + 2] += result.usage.prompt_tokens
            cells[row + LATENCY + latency_bucket(total)] += 1
            cells[row + LATENCY_MICROSECONDS] += round(total * 1e6)

    def error(self, kind: str) -> None:
        status = int(kind) if kind.isdigit() else 0
        if not FIRST_STATUS <= status <= LAST_STATUS:
            super().error(kind)  # not a status: this worker's own counter
            return
        with self._board.local:
            self._board.cells[self._row + ERRORS + status - FIRST_STATUS] += 1

    def exposition(self, queue_depth: int) -> str:
        board = self._board
        requests = {mode: board.total(REQUESTS + i) for i, mode in enumerate(MODES)}
        requests = {mode: n for mode, n in requests.items() if n}
        tokens = ({kind: board.total(TOKENS + i) for i, kind in enumerate(TOKEN_KINDS)}
                  if requests else {})
        with self._lock:
            errors = dict(self.errors)
        for status in range(FIRST_STATUS, LAST_STATUS + 1):
            count = board.total(ERRORS + status - FIRST_STATUS)
            if count:
                errors[str(status)] = count
        latency = [board.total(LATENCY + i) for i in range(len(LATENCY_BUCKETS) + 1)]
        text = exposition_text(requests, tokens, errors, latency,
                               board.total(LATENCY_MICROSECONDS) / 1e6, queue_depth)
        return text + "\n".join(worker_lines(board)) + "\n"


def worker_lines(board: WorkerBoard) -> list[str]:
    """Each worker's requests answered, requests inside, and process id (0: starting)."""
    answered = [sum(board.cells[board.cell(index, REQUESTS + i)] for i in range(len(MODES)))
                for index in range(board.workers)]
    lines = ["# TYPE thinkswitch_worker_requests_total counter"]
    lines += [f'thinkswitch_worker_requests_total{{worker="{index}"}} {n}'
              for index, n in enumerate(answered)]
    for name, field in (("inside", INSIDE), ("pid", READY_PID)):
        lines.append(f"# TYPE thinkswitch_worker_{name} gauge")
        lines += [f'thinkswitch_worker_{name}{{worker="{index}"}} {n}'
                  for index, n in enumerate(board.column(field))]
    return lines


class SharedShadowCounts:
    """The shadow runner's counters (`ShadowMetrics.shared`) in the worker's row; totals over
    every worker."""

    def __init__(self, board: WorkerBoard, index: int) -> None:
        self._board = board
        self._row = board.cell(index, SHADOW)
        self._at = {key: offset for offset, key in enumerate(SHADOW_KEYS)}

    def add(self, key: str, amount: int) -> None:
        with self._board.local:
            self._board.cells[self._row + self._at[key]] += amount

    def total(self, key: str) -> int:
        return self._board.total(SHADOW + self._at[key])


@dataclass(frozen=True)
class Seat:
    """One worker's place in a multi-worker server: its row of the board, and the
    supervisor that relays a policy reload to every worker."""

    board: WorkerBoard
    index: int
    supervisor_pid: int

    @property
    def workers(self) -> int:
        return self.board.workers

    def admission(self, capacity: int) -> SharedAdmission:
        return SharedAdmission(self.board, self.index, capacity)

    def metrics(self) -> SharedMetrics:
        return SharedMetrics(self.board, self.index)

    def shadow_counts(self) -> SharedShadowCounts:
        return SharedShadowCounts(self.board, self.index)

    def reload_everywhere(self) -> None:
        """Ask the supervisor to SIGHUP every worker (each then reloads its policy). Not once
        it is gone (this worker is draining then): its process id may be another process's
        by now, which SIGUSR1 would kill."""
        if os.getppid() == self.supervisor_pid:
            os.kill(self.supervisor_pid, signal.SIGUSR1)
