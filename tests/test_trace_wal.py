"""SQLite WAL checkpoints run in the store's own thread, never inside an append (wal.py): the
writing connection does not checkpoint, the thread does, a short-lived writer starts no thread,
and every committed record is there after close and verifies."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from support.trace_helpers import sample_record

from thinkswitch.trace.backends import SQLiteTraceStore
from thinkswitch.trace.verify import verify
from thinkswitch.trace.wal import EVERY_COMMITS


def _wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_the_writer_never_checkpoints_and_the_thread_does(tmp_path: Path) -> None:
    path = tmp_path / "traces.sqlite"
    store = SQLiteTraceStore(path)
    assert store._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    for index in range(EVERY_COMMITS - 5):
        store.append(sample_record(index))
    assert store.wal.done == 0
    main_file = path.stat().st_size
    assert Path(f"{path}-wal").stat().st_size > main_file  # the pages wait in the WAL
    for index in range(EVERY_COMMITS * 2):
        store.append(sample_record(index, tag="more"))
    _wait_for(lambda: store.wal.done >= 1)
    assert store.wal.done >= 1
    assert path.stat().st_size > main_file  # the thread copied pages into the main file
    store.close()
    again = SQLiteTraceStore(path)
    try:
        result = verify(again)
        assert result.ok, result.message
        assert result.checked == EVERY_COMMITS * 3 - 5
    finally:
        again.close()


def test_a_short_lived_writer_starts_no_thread_and_keeps_every_record(tmp_path: Path) -> None:
    path = tmp_path / "traces.sqlite"
    store = SQLiteTraceStore(path)
    written = [store.append(sample_record(index)).id for index in range(10)]
    assert store.wal._thread is None
    store.close()
    assert not Path(f"{path}-wal").exists()  # the last connection checkpointed on close
    again = SQLiteTraceStore(path)
    try:
        assert [record.id for _, record in again.chain()] == written
    finally:
        again.close()
