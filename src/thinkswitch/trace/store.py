"""Trace stores: SQLite (default) and PostgreSQL (for several replicas), one SQL core.

A record is stored as its canonical JSON plus the columns that queries filter on. Appends are
serialised (SQLite `BEGIN IMMEDIATE`, PostgreSQL an advisory transaction lock) so the chain has
one order across threads and processes. With a signing key, signed checkpoints of the chain's
head are written beside it (checkpoint.py) under the same write lock. The schema is created
and migrated by named, append-only migrations recorded in `schema_migrations`; a database that
is not a trace store, or whose schema is newer than this code, is refused before anything is
written.

One store object may be shared by threads: each public method holds the object's lock, so the
one connection is used by one thread at a time.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from thinkswitch.kernel.errors import DataError, ThinkswitchError
from thinkswitch.kernel.pairs import ShadowPair
from thinkswitch.trace import pair_index
from thinkswitch.trace.checkpoint import Checkpoint, Checkpointer, CheckpointSchedule
from thinkswitch.trace.record import GENESIS, Cost, TraceRecord
from thinkswitch.trace.sql_where import where_clause

if TYPE_CHECKING:
    from thinkswitch.trace.signing import SigningKey

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
    # Who made each request, as a column: the history API shows a caller only its own.
    ("0002_caller", (
        "ALTER TABLE traces ADD COLUMN caller TEXT",
        "CREATE INDEX traces_caller ON traces (caller)",
    )),
    # Records about other records (feedback on a request): what kind a record is and which
    # record it refers to, as columns, so a request's feedback is one indexed query.
    ("0003_kind_ref", (
        "ALTER TABLE traces ADD COLUMN kind TEXT",
        "ALTER TABLE traces ADD COLUMN ref TEXT",
        "CREATE INDEX traces_ref ON traces (ref)",
        "CREATE INDEX traces_kind ON traces (kind, seq)",
    )),
    # Signed checkpoints (see checkpoint.py): each row's body is the signed JSON line.
    ("0004_checkpoints", (
        "CREATE TABLE trace_checkpoints (id {serial}, count BIGINT NOT NULL,"
        " key_id TEXT NOT NULL, body TEXT NOT NULL)",
        "CREATE INDEX trace_checkpoints_count ON trace_checkpoints (count)",
    )),
    pair_index.MIGRATION,
)


@dataclass(frozen=True, slots=True)
class ChainHead:
    """Records `first`..`count` are in the chain (positions count retention's deletions);
    `hash` is record `count`'s (GENESIS when none was ever written)."""

    first: int
    count: int
    hash: str


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
                policy: str | None = None, limit: int | None = None,
                before: float | None = None, caller: str | None = None,
                after_id: str | None = None, kind: str | None = None) -> list[TraceRecord]:
        """Newest first; `since` <= created_at < `before`, of one `caller` and one `kind`
        when given; `after_id` is a page cursor: only records written before that one (by
        chain order, so records with the very same timestamp are neither skipped nor
        repeated)."""

    @abstractmethod
    def related(self, kind: str, ref: str | None = None, since: float | None = None,
                caller: str | None = None) -> list[TraceRecord]:
        """Records of `kind` (e.g. 'feedback'), oldest first: about the record `ref`, from
        `since` on, made by `caller`, when given."""

    @abstractmethod
    def append_shadow_pair(self, pair: ShadowPair, cost: Cost | None = None) -> TraceRecord:
        """Chain `pair` as a record of kind 'shadow' (its `cost` is the shadow work's, apart
        from any caller's) and index it; returns the sealed record."""

    @abstractmethod
    def shadow_pairs(self, since: float | None = None, model: str | None = None,
                     policy_version: str | None = None, caller: str | None = None,
                     before: float | None = None) -> list[ShadowPair]:
        """Pairs oldest first; `since` <= created_at < `before`, of one model (the engine's
        model name), one policy version (e.g. 'learned@v2') and one caller when given."""

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
        self._lock = threading.RLock()
        self._checkpointer: Checkpointer | None = None
        try:
            self._migrate()
        except BaseException:
            connection.close()  # a refused database is left as it was, with no handle open
            raise

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

    def _prepare(self) -> None:
        """Connection settings that may write (SQLite's WAL switch), once the database is
        known to be a trace store or empty."""

    # --- helpers -------------------------------------------------------------------------
    #: How verification reads a text column: SQLite hands back the raw bytes (a body that is not
    #: UTF-8 is then reported by its record, not as a driver error); PostgreSQL checks UTF-8.
    raw_text = "CAST({} AS BLOB)"

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
        if tables and "schema_migrations" not in tables:
            raise DataError(f"{self._where} is not a thinkswitch trace store "
                            f"(it has tables {', '.join(sorted(tables)[:5])})")
        if "schema_migrations" in tables:
            self._refuse_newer([row[0] for row in
                                self._query("SELECT name FROM schema_migrations")])
            self._end_read()
        self._prepare()
        self._begin_write()
        try:
            self._execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                          f"(name TEXT PRIMARY KEY, applied_at {self.real} NOT NULL)")
            applied = [row[0] for row in self._query("SELECT name FROM schema_migrations")]
            self._refuse_newer(applied)
            for name, statements in MIGRATIONS:
                if name in applied:
                    continue
                for statement in statements:
                    self._execute(statement.format(serial=self.serial, real=self.real))
                if name == "0002_caller":
                    self._backfill_callers()
                if name == "0003_kind_ref":
                    self._backfill_kinds()
                self._execute("INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                              (name, time.time()))
            if not self._query("SELECT value FROM trace_meta WHERE key = 'salt'"):
                self._execute("INSERT INTO trace_meta (key, value) VALUES ('salt', ?)",
                              (secrets.token_hex(16),))
            self._commit()
        except BaseException:
            self._rollback()
            raise

    def _backfill_callers(self) -> None:
        """Fill the caller column of records written before it existed, from their bodies."""
        for seq, body in self._query("SELECT seq, body FROM traces WHERE caller IS NULL"):
            caller = str(json.loads(body).get("caller", ""))
            self._execute("UPDATE traces SET caller = ? WHERE seq = ?", (caller, seq))

    def _backfill_kinds(self) -> None:
        """Fill the kind column of records written before it existed, from their bodies."""
        for seq, body in self._query("SELECT seq, body FROM traces WHERE kind IS NULL"):
            kind = str(json.loads(body).get("kind", "request"))
            self._execute("UPDATE traces SET kind = ? WHERE seq = ?", (kind, seq))

    def _refuse_newer(self, applied: Sequence[str]) -> None:
        unknown = sorted(set(applied) - {name for name, _ in MIGRATIONS})
        if unknown:
            raise DataError(f"{self._where} has a schema newer than this thinkswitch "
                            f"(migration {unknown[0]}); upgrade thinkswitch")

    # --- the interface -------------------------------------------------------------------
    def append(self, record: TraceRecord) -> TraceRecord:
        return self._append_sealed(record, None)

    def append_shadow_pair(self, pair: ShadowPair, cost: Cost | None = None) -> TraceRecord:
        record = TraceRecord(**pair.record_fields(), cost=cost or Cost(),
                             shadow=pair.model_dump())
        return self._append_sealed(record, pair)

    def _append_sealed(self, record: TraceRecord, pair: ShadowPair | None) -> TraceRecord:
        with self._lock:
            try:
                self._begin_write()
                sealed = self._insert(record, self._last_hash())
                if pair is not None:
                    self._execute(pair_index.INSERT, pair_index.row(sealed.id, pair))
                self._commit()
            except BaseException as error:
                self._rollback_quietly()
                if isinstance(error, Exception) and not isinstance(error, ThinkswitchError):
                    # disk full, a dropped PostgreSQL connection: one clear line, not a traceback
                    raise DataError(f"cannot record in the trace store {self._where}: "
                                    f"{_first_line(error)}") from error
                raise
            if self._checkpointer is not None:
                self._checkpointer.appended()
            return sealed

    def _rollback_quietly(self) -> None:
        # The connection itself may be gone; the original error is the one that matters.
        with contextlib.suppress(Exception):
            self._rollback()

    def _last_hash(self) -> str:
        """The hash the next record chains from, inside the write transaction. An empty table
        was never written (a purge that empties it leaves its retention note behind)."""
        last = self._query("SELECT hash FROM traces ORDER BY seq DESC LIMIT 1")
        return str(last[0][0]) if last else GENESIS

    def _insert(self, record: TraceRecord, prev_hash: str) -> TraceRecord:
        sealed, body = record.sealed(prev_hash)
        decision = sealed.decision
        self._execute(
            "INSERT INTO traces (id, created_at, mode, policy, caller, kind, ref, body, "
            "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (sealed.id, sealed.created_at, decision.get("mode"), decision.get("policy"),
             sealed.caller, sealed.kind, sealed.ref, body, sealed.prev_hash, sealed.hash),
        )
        return sealed

    def _read(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A read as one transaction; a database that cannot answer it (a garbled table, a
        body that is not UTF-8) is a DataError naming the store, not a driver traceback."""
        with self._lock:
            try:
                rows = self._query(statement, params)
                self._end_read()
            except ThinkswitchError:
                raise
            except Exception as error:
                self._rollback_quietly()
                raise DataError(f"cannot read the trace store {self._where}: "
                                f"{_first_line(error)}") from error
        return rows

    def _parse(self, body: Any) -> TraceRecord:
        try:
            return TraceRecord.model_validate(json.loads(body))
        except (ValueError, TypeError) as error:
            raise DataError(f"a record in {self._where} is unreadable: "
                            f"{_first_line(error)}; run `thinkswitch logs verify`") from None

    def get(self, record_id: str) -> TraceRecord | None:
        rows = self._read("SELECT body FROM traces WHERE id = ?", (record_id,))
        return self._parse(rows[0][0]) if rows else None

    def records(self, since: float | None = None, mode: str | None = None,
                policy: str | None = None, limit: int | None = None,
                before: float | None = None, caller: str | None = None,
                after_id: str | None = None, kind: str | None = None) -> list[TraceRecord]:
        where, params = where_clause((
            ("created_at >= ?", since), ("mode = ?", mode), ("policy = ?", policy),
            ("created_at < ?", before), ("caller = ?", caller), ("kind = ?", kind),
            ("seq < (SELECT seq FROM traces WHERE id = ?)", after_id)))
        tail = f" LIMIT {int(limit)}" if limit else ""
        rows = self._read(f"SELECT body FROM traces{where} ORDER BY seq DESC{tail}", params)
        return [self._parse(row[0]) for row in rows]

    def related(self, kind: str, ref: str | None = None, since: float | None = None,
                caller: str | None = None) -> list[TraceRecord]:
        where, params = where_clause((("kind = ?", kind), ("ref = ?", ref),
                                      ("created_at >= ?", since), ("caller = ?", caller)))
        rows = self._read(f"SELECT body FROM traces{where} ORDER BY seq", params)
        return [self._parse(row[0]) for row in rows]

    def shadow_pairs(self, since: float | None = None, model: str | None = None,
                     policy_version: str | None = None, caller: str | None = None,
                     before: float | None = None) -> list[ShadowPair]:
        statement, params = pair_index.select(since, before, model, policy_version, caller)
        return pair_index.pairs(self._read(statement, params))

    def chain(self) -> Iterator[tuple[int, TraceRecord]]:
        rows = self._read("SELECT seq, body FROM traces ORDER BY seq")
        for seq, body in rows:
            yield int(seq), self._parse(body)

    def raw_chain(self) -> list[tuple[Any, ...]]:
        """(seq, body, prev_hash, hash, id, created_at, mode, policy, caller, kind, ref)
        columns as stored, in chain order, for verification; text columns as bytes on
        SQLite."""
        text = [self.raw_text.format(column) for column in
                ("body", "prev_hash", "hash", "id")]
        tail = [self.raw_text.format(column) for column in
                ("mode", "policy", "caller", "kind", "ref")]
        return self._read(f"SELECT seq, {', '.join(text)}, created_at, {', '.join(tail)}"
                          " FROM traces ORDER BY seq")

    def shadow_index(self) -> list[tuple[Any, ...]]:
        """(trace_id, request_id, created_at, model, policy, caller) rows of the pair index,
        for verification."""
        return self._read(pair_index.ROWS)

    def anchors(self) -> list[Anchor]:
        rows = self._read("SELECT seq, prev_hash, deleted, at FROM trace_anchors ORDER BY seq")
        try:
            return [Anchor(int(r[0]), str(r[1]), int(r[2]), float(r[3])) for r in rows]
        except (TypeError, ValueError) as error:
            raise DataError(f"the retention anchors of {self._where} are garbled: "
                            f"{_first_line(error)}") from None

    # --- signed checkpoints --------------------------------------------------------------
    def sign_with(self, key: SigningKey, schedule: CheckpointSchedule) -> None:
        """Sign checkpoints with `key` on `schedule` from now on, and when the store closes."""
        self._checkpointer = Checkpointer(self, key, schedule)

    def _head(self) -> ChainHead:
        deleted = self._query("SELECT COALESCE(SUM(deleted), 0) FROM trace_anchors")[0][0]
        count = self._query("SELECT COUNT(*) FROM traces")[0][0]
        return ChainHead(int(deleted) + 1, int(deleted) + int(count), self._last_hash())

    def sign_checkpoint(self, key: SigningKey) -> Checkpoint | None:
        """Sign the head now, unless this key's newest checkpoint already covers it (or
        nothing was ever written). Inside the write lock: replicas agree on count and head."""
        with self._lock:
            try:
                self._begin_write()
                head = self._head()
                latest = self._query("SELECT body FROM trace_checkpoints WHERE key_id = ?"
                                     " ORDER BY count DESC, id DESC LIMIT 1", (key.key_id,))
                signed = None
                if head.count and not (latest and _covers(str(latest[0][0]), head)):
                    signed = Checkpoint.signed(key, head.first, head.count, head.hash)
                    self._execute("INSERT INTO trace_checkpoints (count, key_id, body)"
                                  " VALUES (?, ?, ?)", (signed.count, signed.key_id,
                                                        signed.line()))
                self._commit()
            except BaseException as error:
                self._rollback_quietly()
                if isinstance(error, Exception) and not isinstance(error, ThinkswitchError):
                    raise DataError(f"cannot write a checkpoint in {self._where}: "
                                    f"{_first_line(error)}") from error
                raise
            return signed

    def checkpoint_lines(self) -> list[str]:
        """Every stored checkpoint's signed JSON line, lowest count first (unchecked)."""
        rows = self._read(f"SELECT {self.raw_text.format('body')} FROM trace_checkpoints"
                          " ORDER BY count, id")
        return [_text(row[0]) for row in rows]

    def purge_older_than(self, cutoff: float) -> int:
        """Delete the records before the first one created at or after `cutoff` (a prefix of the
        chain, so what is kept still chains), anchor the chain at the first kept record, and
        append a 'retention' note — all in one transaction."""
        with self._lock:
            self._begin_write()
            try:
                count = self._purge(cutoff)
                self._commit()
            except BaseException:
                self._rollback()
                raise
        if count and self._checkpointer is not None:
            self._checkpointer.sign_now()  # the new start of the chain, signed at once
        return count

    def _purge(self, cutoff: float) -> int:
        keep = self._query("SELECT MIN(seq) FROM traces WHERE created_at >= ?", (cutoff,))
        first_kept = keep[0][0]
        if first_kept is None:  # nothing is new enough: everything goes
            first_kept = (self._query("SELECT MAX(seq) FROM traces")[0][0] or 0) + 1
        doomed = self._query("SELECT COUNT(*), MAX(seq) FROM traces WHERE seq < ?", (first_kept,))
        count, last_deleted = int(doomed[0][0]), doomed[0][1]
        if not count:
            return 0
        last_hash = self._query("SELECT hash FROM traces WHERE seq = ?", (last_deleted,))[0][0]
        self._execute("DELETE FROM traces WHERE seq < ?", (first_kept,))
        self._execute(pair_index.ORPHANS)
        note = TraceRecord(kind="retention", error=None, decision={}, answer=(
            f"retention: deleted {count} records created before "
            f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(cutoff))} UTC; the chain is "
            "re-anchored at the first kept record"))
        first = self._query("SELECT seq, prev_hash FROM traces ORDER BY seq LIMIT 1")
        if first:
            self._insert(note, self._last_hash())
        else:  # the note itself is the first kept record, chained from the last deleted one
            self._insert(note, str(last_hash))
            first = self._query("SELECT seq, prev_hash FROM traces ORDER BY seq LIMIT 1")
        self._execute("INSERT INTO trace_anchors (seq, prev_hash, deleted, at) "
                      "VALUES (?, ?, ?, ?)", (first[0][0], first[0][1], count, time.time()))
        return count

    def salt(self) -> str:
        return str(self._read("SELECT value FROM trace_meta WHERE key = 'salt'")[0][0])

    def _end_read(self) -> None:
        """End the implicit read transaction (PostgreSQL keeps one open otherwise)."""

    def close(self) -> None:
        """Sign a last checkpoint (when signing), then close the connection."""
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            checkpointer.close()
        with self._lock:
            self._db.close()


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _text(value: Any) -> str:
    """A text column read raw (bytes on SQLite); bytes that are not UTF-8 become U+FFFD, so such
    a checkpoint line fails to parse or to check instead of stopping the read."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def _covers(line: str, head: ChainHead) -> bool:
    try:
        latest = Checkpoint.parse(line)
    except ValueError:
        return False  # a garbled row is no reason to stop signing
    return latest.count == head.count and latest.head == head.hash and \
        latest.first == head.first
