"""Trace stores: SQLite (default) and PostgreSQL (for several replicas), one SQL core.

A record is stored as its canonical JSON plus the columns that queries filter on. Appends are
serialised (SQLite `BEGIN IMMEDIATE`, PostgreSQL an advisory transaction lock) so the chain has
one order across threads and processes. The schema is created and migrated by named,
append-only migrations recorded in `schema_migrations`; a database that is not a trace store,
or whose schema is newer than this code, is refused before anything is written.
"""

from __future__ import annotations

import json
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from thinkswitch.errors import DataError
from thinkswitch.trace.record import GENESIS, TraceRecord, canonical

MIGRATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("0001_traces", (
        "CREATE TABLE traces (seq {serial}, id TEXT NOT NULL UNIQUE, created_at {real} NOT NULL,"
        " mode TEXT, policy TEXT, body TEXT NOT NULL, prev_hash TEXT NOT NULL,"
        " hash TEXT NOT NULL)",
        "CREATE INDEX traces_created ON traces (created_at)",
        "CREATE TABLE trace_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE trace_anchors (seq BIGINT NOT NULL, prev_hash TEXT NOT NULL,"
        " deleted BIGINT NOT NULL, at {real} NOT NULL)",
    )),
)


@dataclass(frozen=True, slots=True)
class Anchor:
    """After a retention purge: the first kept record chains from `prev_hash`."""

    seq: int
    prev_hash: str
    deleted: int
    at: float


class TraceStore(ABC):
    """The store interface the switch, the CLI and the server use."""

    @abstractmethod
    def append(self, record: TraceRecord) -> TraceRecord:
        """Seal `record` after the last one and commit it; returns the sealed record."""

    @abstractmethod
    def get(self, record_id: str) -> TraceRecord | None: ...

    @abstractmethod
    def records(self, since: float | None = None, mode: str | None = None,
                policy: str | None = None, limit: int | None = None) -> list[TraceRecord]:
        """Newest first."""

    @abstractmethod
    def chain(self) -> Iterator[tuple[int, TraceRecord]]:
        """(seq, record) in chain order, oldest first."""

    @abstractmethod
    def anchors(self) -> list[Anchor]: ...

    @abstractmethod
    def purge_older_than(self, cutoff: float) -> int:
        """Delete records created before `cutoff`, re-anchor the chain, note it; count."""

    @abstractmethod
    def salt(self) -> str:
        """The store's redaction salt."""

    @abstractmethod
    def close(self) -> None: ...


class SqlTraceStore(TraceStore):
    """The SQL shared by both databases; subclasses connect and name their dialect."""

    placeholder = "?"
    serial = "INTEGER PRIMARY KEY AUTOINCREMENT"
    real = "REAL"

    def __init__(self, connection: Any, where: str) -> None:
        self._db = connection
        self._where = where
        self._migrate()

    # --- dialect hooks -------------------------------------------------------------------
    @abstractmethod
    def _begin_write(self) -> None:
        """Start a transaction that holds the chain's write lock."""

    def _commit(self) -> None:
        self._db.commit()

    def _rollback(self) -> None:
        self._db.rollback()

    def _tables(self) -> set[str]:
        rows = self._query("SELECT name FROM sqlite_master WHERE type='table'")
        return {row[0] for row in rows}

    # --- helpers -------------------------------------------------------------------------
    def _sql(self, statement: str) -> str:
        return statement.replace("?", self.placeholder)

    def _query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self._db.cursor()
        cursor.execute(self._sql(statement), tuple(params))
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows

    def _execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        self._db.cursor().execute(self._sql(statement), tuple(params))

    def _migrate(self) -> None:
        tables = self._tables()
        known = [name for name, _ in MIGRATIONS]
        if tables and "schema_migrations" not in tables:
            raise DataError(f"{self._where} is not a thinkswitch trace store "
                            f"(it has tables {', '.join(sorted(tables)[:5])})")
        self._begin_write()
        try:
            self._execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                          f"(name TEXT PRIMARY KEY, applied_at {self.real} NOT NULL)")
            applied = [row[0] for row in self._query("SELECT name FROM schema_migrations")]
            unknown = sorted(set(applied) - set(known))
            if unknown:
                raise DataError(f"{self._where} has a schema newer than this thinkswitch "
                                f"(migration {unknown[0]}); upgrade thinkswitch")
            for name, statements in MIGRATIONS:
                if name in applied:
                    continue
                for statement in statements:
                    self._execute(statement.format(serial=self.serial, real=self.real))
                self._execute("INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                              (name, time.time()))
            if not self._query("SELECT value FROM trace_meta WHERE key = 'salt'"):
                self._execute("INSERT INTO trace_meta (key, value) VALUES ('salt', ?)",
                              (secrets.token_hex(16),))
            self._commit()
        except BaseException:
            self._rollback()
            raise

    # --- the interface -------------------------------------------------------------------
    def append(self, record: TraceRecord) -> TraceRecord:
        self._begin_write()
        try:
            last = self._query("SELECT hash FROM traces ORDER BY seq DESC LIMIT 1")
            sealed = record.sealed(last[0][0] if last else self._anchor_or_genesis())
            decision = sealed.decision
            self._execute(
                "INSERT INTO traces (id, created_at, mode, policy, body, prev_hash, hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (sealed.id, sealed.created_at, decision.get("mode"), decision.get("policy"),
                 canonical(sealed.model_dump()), sealed.prev_hash, sealed.hash),
            )
            self._commit()
        except BaseException:
            self._rollback()
            raise
        return sealed

    def _anchor_or_genesis(self) -> str:
        rows = self._query("SELECT prev_hash FROM trace_anchors ORDER BY seq DESC LIMIT 1")
        return str(rows[0][0]) if rows else GENESIS

    def get(self, record_id: str) -> TraceRecord | None:
        rows = self._query("SELECT body FROM traces WHERE id = ?", (record_id,))
        return TraceRecord.model_validate(json.loads(rows[0][0])) if rows else None

    def records(self, since: float | None = None, mode: str | None = None,
                policy: str | None = None, limit: int | None = None) -> list[TraceRecord]:
        clauses, params = [], []
        for column, value in (("created_at >=", since), ("mode =", mode), ("policy =", policy)):
            if value is not None:
                clauses.append(f"{column} ?")
                params.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        tail = f" LIMIT {int(limit)}" if limit else ""
        rows = self._query(f"SELECT body FROM traces{where} ORDER BY seq DESC{tail}", params)
        self._end_read()
        return [TraceRecord.model_validate(json.loads(row[0])) for row in rows]

    def chain(self) -> Iterator[tuple[int, TraceRecord]]:
        rows = self._query("SELECT seq, body FROM traces ORDER BY seq")
        self._end_read()
        for seq, body in rows:
            yield int(seq), TraceRecord.model_validate(json.loads(body))

    def raw_chain(self) -> list[tuple[int, str, str, str]]:
        """(seq, body, prev_hash column, hash column) as stored, for verification."""
        rows = self._query("SELECT seq, body, prev_hash, hash FROM traces ORDER BY seq")
        self._end_read()
        return [(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]

    def anchors(self) -> list[Anchor]:
        rows = self._query("SELECT seq, prev_hash, deleted, at FROM trace_anchors ORDER BY seq")
        self._end_read()
        return [Anchor(int(r[0]), str(r[1]), int(r[2]), float(r[3])) for r in rows]

    def purge_older_than(self, cutoff: float) -> int:
        self._begin_write()
        try:
            doomed = self._query("SELECT COUNT(*) FROM traces WHERE created_at < ?", (cutoff,))
            count = int(doomed[0][0])
            if count:
                self._execute("DELETE FROM traces WHERE created_at < ?", (cutoff,))
                first = self._query("SELECT seq, prev_hash FROM traces ORDER BY seq LIMIT 1")
                if first:
                    self._execute("INSERT INTO trace_anchors (seq, prev_hash, deleted, at) "
                                  "VALUES (?, ?, ?, ?)", (first[0][0], first[0][1], count,
                                                          time.time()))
                else:
                    self._execute("INSERT INTO trace_anchors (seq, prev_hash, deleted, at) "
                                  "VALUES (?, ?, ?, ?)", (0, GENESIS, count, time.time()))
            self._commit()
        except BaseException:
            self._rollback()
            raise
        if count:
            self.append(TraceRecord(kind="retention", error=None, decision={},
                                    answer=f"retention: deleted {count} records created before "
                                    f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(cutoff))}"
                                    " UTC; the chain is re-anchored at the first kept record"))
        return count

    def salt(self) -> str:
        rows = self._query("SELECT value FROM trace_meta WHERE key = 'salt'")
        self._end_read()
        return str(rows[0][0])

    def _end_read(self) -> None:
        """End the implicit read transaction (PostgreSQL keeps one open otherwise)."""

    def close(self) -> None:
        self._db.close()
