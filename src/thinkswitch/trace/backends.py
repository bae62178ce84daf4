"""The two databases behind `SqlTraceStore`, and `open_store` to pick one from a URL or path."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from thinkswitch.kernel.errors import DataError, EngineUnavailableError
from thinkswitch.trace.store import SqlTraceStore
from thinkswitch.trace.wal import WalCheckpoints


class SQLiteTraceStore(SqlTraceStore):
    """One file, WAL mode. A commit survives the writing process being killed (kill -9);
    `synchronous=NORMAL` trades the last commits on power loss for speed. WAL checkpoints run
    in a thread of the store's own, not inside an append (see wal.py)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.wal = WalCheckpoints(path)
        try:
            connection = sqlite3.connect(path, timeout=30.0, isolation_level=None,
                                         check_same_thread=False)
            connection.execute("PRAGMA busy_timeout=30000")
            super().__init__(connection, str(path))
        except sqlite3.DatabaseError as error:
            raise DataError(f"{path} is not a readable SQLite trace store: {error}") from None
        self.path = path

    def _prepare(self) -> None:
        # Switching to WAL rewrites the file header: only once the file is known to be ours.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA wal_autocheckpoint=0")  # the WalCheckpoints thread's work

    def _begin_write(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def _commit(self) -> None:
        self._db.execute("COMMIT")
        self.wal.committed()

    def close(self) -> None:
        super().close()
        self.wal.close()

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")


class PostgresTraceStore(SqlTraceStore):
    """Several replicas write to one database; an advisory lock orders the chain."""

    placeholder = "%s"
    raw_text = "{}"
    serial = "BIGSERIAL PRIMARY KEY"
    real = "DOUBLE PRECISION"
    LOCK_KEY = 7_355_608

    def __init__(self, url: str) -> None:
        import psycopg

        try:
            connection = psycopg.connect(url, connect_timeout=5)
        except psycopg.Error as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else "no answer"
            raise EngineUnavailableError(f"cannot reach PostgreSQL at {_safe(url)}: "
                                         f"{first}") from None
        try:
            super().__init__(connection, _safe(url))
        except psycopg.Error as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else "an error"
            raise DataError(f"PostgreSQL at {_safe(url)} refused the trace store: "
                            f"{first}") from None

    def _tables(self) -> set[str]:
        rows = self._query("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        self._db.commit()
        return {row[0] for row in rows}

    def _begin_write(self) -> None:
        self._db.commit()  # end any read transaction first
        self._db.cursor().execute("SELECT pg_advisory_xact_lock(%s)", (self.LOCK_KEY,))

    def _end_read(self) -> None:
        self._db.commit()


def _safe(url: str) -> str:
    """The URL without its password (nor query parameters, which may hold one), for messages."""
    url = url.split("?", 1)[0]
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user, has_password, _ = credentials.partition(":")
        return f"{scheme}://{user}{':***' if has_password else ''}@{host}"
    return url


def open_store(where: str | Path) -> SqlTraceStore:
    """`postgresql://...` or `postgres://...` opens PostgreSQL; anything else is a SQLite path."""
    text = str(where)
    if text.startswith(("postgresql://", "postgres://")):
        return PostgresTraceStore(text)
    return SQLiteTraceStore(Path(text).expanduser())


def is_postgres(where: Any) -> bool:
    return str(where).startswith(("postgresql://", "postgres://"))
