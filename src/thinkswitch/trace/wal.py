"""SQLite's WAL checkpoints, moved off the append path.

In WAL mode a commit appends its pages to the `-wal` file; a *checkpoint* copies them back into
the database file and, under `synchronous=NORMAL`, fsyncs both. By default the connection that
commits when the WAL passes 1,000 pages runs that checkpoint inside its own commit: for trace
records (about ten pages per append: the row and five indexes) one append in ~100 paid for it,
a few milliseconds, which was the append p99. Here the writing connection never checkpoints
(`wal_autocheckpoint=0`); every `every_commits` commits wake a thread of the store's own, which
runs a PASSIVE checkpoint on a second connection while appends go on (sqlite3 releases the GIL
while it works).

Nothing about a commit changes: it is in the WAL file when `append` returns, so it survives
the process being killed, and (as before, `synchronous=NORMAL`) the last commits before a power
loss may be lost; the checkpoint only decides when the pages also reach the main file. When the
store closes, SQLite checkpoints what is left as the last connection closes, as before.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

#: Commits between checkpoints: about SQLite's own 1,000-page default for trace records.
EVERY_COMMITS = 100


class WalCheckpoints:
    """Runs the WAL checkpoints of the database at `path` in a thread of its own, started at
    the first checkpoint due (a short-lived CLI process never starts it)."""

    def __init__(self, path: Path, every_commits: int = EVERY_COMMITS) -> None:
        self.path = path
        self.every_commits = every_commits
        self.done = 0  # checkpoints run (for tests and curiosity)
        self._commits = 0
        self._due = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None

    def committed(self) -> None:
        """One more commit on the writing connection (called under the store's lock)."""
        self._commits += 1
        if self._commits < self.every_commits or self._stop:
            return
        self._commits = 0
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="trace-wal-checkpoints",
                                            daemon=True)
            self._thread.start()
        self._due.set()

    def _run(self) -> None:
        connection = sqlite3.connect(self.path, timeout=30.0, isolation_level=None,
                                     check_same_thread=False)
        try:
            while True:
                self._due.wait()
                self._due.clear()
                if self._stop:
                    return
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.done += 1
                except sqlite3.Error as error:  # tried again at the next one due
                    log.warning("WAL checkpoint of %s failed: %s", self.path, error)
        finally:
            connection.close()

    def close(self) -> None:
        """Stop the thread (a checkpoint under way finishes first)."""
        self._stop = True
        self._due.set()
        if self._thread is not None:
            self._thread.join()
