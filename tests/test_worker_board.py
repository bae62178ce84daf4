"""The board several workers share (`thinkswitch.server.worker_board`), with real processes:
the bound is the sum over the workers, a worker killed while it holds the board's lock does
not wedge the others, a dead worker's slots are freed, the counters sum; and what a worker's
app takes from its seat (the whole server's capacity, its share of the shadow token cap)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from thinkswitch.cli.serve_app import build_app, share_of
from thinkswitch.config.load import ServerOptions
from thinkswitch.server.worker_board import Seat, SharedAdmission, SharedMetrics, WorkerBoard
from thinkswitch.shadow.metrics import ShadowMetrics


def hold_the_lock(board: WorkerBoard, ready: str) -> None:
    """Take the board's lock and never let go (until killed)."""
    with board.exclusive():
        Path(ready).touch()
        time.sleep(600)


def admit(board: WorkerBoard, index: int, count: int) -> None:
    admission = SharedAdmission(board, index, 5)
    for _ in range(count):
        assert admission.try_enter()


def test_the_board_has_no_name_anyone_could_open_and_leaves_nothing_behind() -> None:
    """An anonymous file: not in any directory (no permissions to get wrong, no planted link to
    follow, nothing left when the supervisor is killed), and not inherited by a program the
    supervisor's process would run."""
    board = WorkerBoard.create(2)
    try:
        target = os.readlink(f"/proc/self/fd/{board._fd}")
        assert target.startswith("/memfd:thinkswitch-workers"), target
        assert not os.get_inheritable(board._fd)
        assert os.fstat(board._fd).st_nlink == 0
    finally:
        board.close()


def test_the_bound_is_the_sum_over_the_workers() -> None:
    board = WorkerBoard.create(2)
    other = multiprocessing.get_context("spawn").Process(
        target=admit, args=(board, 1, 3))
    other.start()
    other.join(timeout=60)
    assert other.exitcode == 0
    mine = SharedAdmission(board, 0, 5)
    assert mine.inside == 3 and mine.entered == 3
    assert mine.try_enter() and mine.try_enter()
    assert not mine.try_enter()  # 3 in the other worker + 2 here = capacity 5
    assert mine.inside == 5 and mine.entered == 5
    mine.leave()
    assert mine.inside == 4 and mine.try_enter()
    board.vacate(1)  # the other worker died: its 3 slots are free again
    assert mine.inside == 2 and mine.entered == 6
    assert not board.was_ready(1)
    board.close()


def test_a_worker_killed_holding_the_lock_does_not_wedge_the_others(tmp_path: Path) -> None:
    board = WorkerBoard.create(2)
    ready = tmp_path / "ready"
    holder = multiprocessing.get_context("spawn").Process(
        target=hold_the_lock, args=(board, str(ready)))
    holder.start()
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert holder.pid is not None
    os.kill(holder.pid, signal.SIGKILL)
    holder.join(timeout=30)
    # the kernel released the lock: admitting returns (in a thread, so that a wedged lock
    # fails the test after a generous deadline instead of hanging it; no timing bound that
    # a loaded machine could miss)
    admitted: list[bool] = []
    admitting = threading.Thread(
        target=lambda: admitted.append(SharedAdmission(board, 0, 1).try_enter()), daemon=True)
    admitting.start()
    admitting.join(timeout=60)
    assert admitted == [True]
    board.close()


def test_the_metrics_and_shadow_counters_sum_the_workers_and_name_each() -> None:
    board = WorkerBoard.create(2)
    first, second = SharedMetrics(board, 0), SharedMetrics(board, 1)
    first.error("429")
    second.error("429")
    second.error("not-a-status")
    board.mark_ready(1, 4242)
    text = first.exposition(queue_depth=0)
    assert 'thinkswitch_errors_total{kind="429"} 2' in text
    assert "not-a-status" not in text  # a worker's own counter that is not a status
    assert 'thinkswitch_worker_pid{worker="0"} 0' in text
    assert 'thinkswitch_worker_pid{worker="1"} 4242' in text
    assert 'thinkswitch_worker_requests_total{worker="1"} 0' in text
    assert 'kind="not-a-status"} 1' in second.exposition(queue_depth=0)
    shadows = [ShadowMetrics(), ShadowMetrics()]
    for index, shadow in enumerate(shadows):
        shadow.shared = Seat(board, index, os.getpid()).shadow_counts()
        shadow.count("drawn")
        shadow.drop("busy")
    shadows[1].drop("tokens")
    text = shadows[0].exposition()
    assert 'thinkswitch_shadow_total{outcome="drawn"} 2' in text
    assert 'thinkswitch_shadow_dropped_total{reason="busy"} 2' in text
    assert 'thinkswitch_shadow_dropped_total{reason="tokens"} 1' in text
    board.close()


def test_a_worker_app_shares_the_capacity_and_splits_the_shadow_cap(tmp_path: Path) -> None:
    board = WorkerBoard.create(2)
    seat = Seat(board, 1, os.getpid())
    app = build_app(None, ServerOptions(capacity=7, signing_key=b"k" * 32),
                    {"engine": "instant", "trace_db": str(tmp_path / "t.sqlite"),
                     "shadow_rate": 0.5, "shadow_seed": 10}, seat)
    try:
        shadow = app.state.shadow
        assert shadow.options.tokens_per_minute == 50_000  # half of the default 100,000
        assert shadow.options.seed == 11
        assert isinstance(shadow.capacity, SharedAdmission)
        assert shadow.capacity.capacity == 7
    finally:
        shadow.close()
        app.state.switch.close()
        board.close()


def test_the_shadow_cap_parts_sum_to_the_cap() -> None:
    board = WorkerBoard.create(3)
    try:
        for cap in (0, 1, 2, 100_000, 100_001):
            parts = [share_of(cap, Seat(board, index, os.getpid())) for index in range(3)]
            assert sum(parts) == cap and max(parts) - min(parts) <= 1, (cap, parts)
    finally:
        board.close()


def test_a_worker_whose_supervisor_is_gone_signals_no_one() -> None:
    """A draining orphan asked to reload everywhere (a promotion, POST /admin/policy/reload)
    must not send SIGUSR1 to its supervisor's old pid: another process may have it now."""
    board = WorkerBoard.create(2)
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        Seat(board, 0, stranger.pid).reload_everywhere()  # not this process's parent
        with pytest.raises(subprocess.TimeoutExpired):
            stranger.wait(timeout=0.5)
    finally:
        stranger.kill()
        stranger.wait()
        board.close()
