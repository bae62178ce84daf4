"""The trace store on SQLite and on a real PostgreSQL server: round trips, filters, concurrent
writers, tamper evidence, redaction, retention and bad databases."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.cli import assert_one_line_error, thinkswitch
from support.trace_helpers import backdated, raw_sql, sample_record

from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.errors import DataError, EngineUnavailableError
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.kernel.result import Result, Timings, Usage
from thinkswitch.trace.backends import SQLiteTraceStore, open_store
from thinkswitch.trace.record import GENESIS, TraceRecord, content_hash
from thinkswitch.trace.recorder import Recorder
from thinkswitch.trace.store import SqlTraceStore
from thinkswitch.trace.verify import Verification, verify


@pytest.fixture
def store(store_url: str) -> Iterator[SqlTraceStore]:
    opened = open_store(store_url)
    yield opened
    opened.close()


def verified(url: str) -> Verification:
    """`verify` on a fresh connection to the store at `url`."""
    store = open_store(url)
    try:
        return verify(store)
    finally:
        store.close()


def fill(store: SqlTraceStore, count: int) -> list[TraceRecord]:
    return [store.append(sample_record(index)) for index in range(count)]


# --- round trips and queries -------------------------------------------------------------------
def test_records_round_trip_exactly(store_url: str) -> None:
    store = open_store(store_url)
    written = [
        store.append(sample_record(1)),
        store.append(sample_record(2, answer="nul \x00 tab \t rtl שלום astral \U0001d518",
                                   error="engine 'x' failed: 500 — «boom»")),
        store.append(sample_record(3, redacted=True,
                                   messages=[{"role": "user",
                                              "content": {"sha256": "ab" * 32, "length": 12}}],
                                   thinking={"sha256": "cd" * 32, "length": 2000},
                                   answer={"sha256": "ef" * 32, "length": 7})),
        store.append(TraceRecord(kind="retention", answer="note", created_at=1.0e9 + 0.123456789)),
    ]
    assert written[0].prev_hash == GENESIS
    assert [r.prev_hash for r in written[1:]] == [r.hash for r in written[:-1]]
    assert all(r.hash == content_hash(r.content()) for r in written)
    store.close()

    again = open_store(store_url)  # a fresh connection reads exactly what was written
    for record in written:
        read = again.get(record.id)
        assert read == record
        assert read is not None and read.model_dump() == record.model_dump()
    assert [r for _, r in again.chain()] == written
    assert again.get("no-such-id") is None
    assert verify(again).ok
    again.close()


def test_records_filters_newest_first(store: SqlTraceStore) -> None:
    base = time.time() - 1000
    written = [store.append(sample_record(i, created_at=base + i)) for i in range(12)]
    assert [r.id for r in store.records()] == [r.id for r in reversed(written)]
    assert [r.id for r in store.records(limit=3)] == [r.id for r in written[-1:-4:-1]]
    assert [r.id for r in store.records(since=base + 9)] == [r.id for r in written[-1:-4:-1]]
    on = [r.id for r in reversed(written) if r.decision["mode"] == "on"]
    assert [r.id for r in store.records(mode="on")] == on
    learned = [r.id for r in reversed(written) if r.decision["policy"] == "learned@v1"]
    assert [r.id for r in store.records(policy="learned@v1")] == learned
    both = [r.id for r in reversed(written) if r.decision["mode"] == "off"
            and r.decision["policy"] == "rules" and r.created_at >= base + 4][:2]
    assert [r.id for r in store.records(since=base + 4, mode="off", policy="rules",
                                        limit=2)] == both


def test_threads_sharing_one_store_lose_nothing(store: SqlTraceStore) -> None:
    ids: list[str] = []
    errors: list[BaseException] = []

    def write(tag: str) -> None:
        try:
            for index in range(50):
                ids.append(store.append(sample_record(index, tag)).id)
                if index % 10 == 0:  # readers interleave with the writers
                    store.records(limit=5)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(f"thread{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    stored = [record.id for _, record in store.chain()]
    assert len(ids) == 400 and sorted(stored) == sorted(ids)
    result = verify(store)
    assert result.ok and result.checked == 400, result.message


# --- tamper evidence ---------------------------------------------------------------------------
def _swap_seq(url: str, a: int, b: int) -> None:
    raw_sql(url, "UPDATE traces SET seq = -1 WHERE seq = ?", (a,))
    raw_sql(url, "UPDATE traces SET seq = ? WHERE seq = ?", (a, b))
    raw_sql(url, "UPDATE traces SET seq = ? WHERE seq = -1", (b,))


@pytest.mark.parametrize("tamper", ["edited", "column", "deleted", "swapped", "swapped-bodies"])
def test_verify_names_the_first_tampered_record(store_url: str, tamper: str) -> None:
    store = open_store(store_url)
    records = fill(store, 6)
    seqs = [seq for seq, _ in store.chain()]
    store.close()
    assert verified(store_url).ok
    ids = [r.id for r in records]
    third, fourth = seqs[2], seqs[3]
    if tamper == "edited":
        raw_sql(store_url, "UPDATE traces SET body = replace(body, ?, ?) WHERE seq = ?",
                (records[2].answer, "25", third))
        expected = f"record {ids[2]} (seq {third}) was changed"
    elif tamper == "column":  # the filter column disagrees with the hashed body
        raw_sql(store_url, "UPDATE traces SET mode = 'on' WHERE seq = ?", (third,))
        expected = f"record {ids[2]} (seq {third}) was changed"
    elif tamper == "deleted":
        raw_sql(store_url, "DELETE FROM traces WHERE seq = ?", (third,))
        expected = f"breaks after record {ids[1]}, at record {ids[3]} (seq {fourth})"
    elif tamper == "swapped":
        _swap_seq(store_url, third, fourth)
        expected = f"breaks after record {ids[1]}, at record {ids[3]} (seq {third})"
    else:  # the rows keep their places, their contents are exchanged
        rows = {seq: raw_sql(store_url, "SELECT id, created_at, mode, policy, body, prev_hash, "
                             "hash FROM traces WHERE seq = ?", (seq,))[0]
                for seq in (third, fourth)}
        raw_sql(store_url, "UPDATE traces SET id = 'tmp' WHERE seq = ?", (third,))
        for seq, other in ((fourth, third), (third, fourth)):
            raw_sql(store_url, "UPDATE traces SET id = ?, created_at = ?, mode = ?, policy = ?, "
                    "body = ?, prev_hash = ?, hash = ? WHERE seq = ?", (*rows[other], seq))
        expected = f"breaks after record {ids[1]}, at record {ids[3]} (seq {third})"
    result = verified(store_url)
    assert not result.ok
    assert expected in result.message, result.message
    assert result.checked == 2


# --- redaction ---------------------------------------------------------------------------------
QUESTION = "Zebra-quokka riddle: which marsupial photobombs most? 袋鼠"
THINKING = "Thinking about quokkas smiling on Rottnest island..."
ANSWER = "The quokka, unmistakably"


def _result() -> Result:
    return Result(answer=ANSWER, thinking=THINKING,
                  decision=Decision(requested="auto", mode="on", budget=64, policy="rules",
                                    score=0.7, reason="cue: riddle"),
                  usage=Usage(prompt_tokens=11, thinking_tokens=9, answer_tokens=3),
                  timings=Timings(ttft_s=0.1, first_answer_s=0.2, total_s=0.3),
                  engine="scripted", model="scripted-model", finish_reason="stop")


def test_redaction_leaves_no_input_text_anywhere(store_url: str) -> None:
    store = open_store(store_url)
    recorder = Recorder(store, redact_inputs=True)
    messages = (ChatMessage(role="user", content=QUESTION),)
    record = recorder.result(messages, _result(), caller="key-1")
    recorder.failure(messages, _result().decision, "scripted", "scripted-model", "boom")
    kept = store.get(record.id)
    assert kept is not None and kept.redacted
    assert kept.decision["reason"] == "cue: riddle" and kept.usage["thinking_tokens"] == 9
    assert kept.answer == {"sha256": kept.answer["sha256"], "length": len(ANSWER)}  # type: ignore[index]
    assert kept.thinking["length"] == len(THINKING)  # type: ignore[index]
    assert kept.messages[0]["content"]["length"] == len(QUESTION)
    texts = [QUESTION, THINKING, ANSWER, "quokka", "袋鼠"]
    dump = repr(raw_sql(store_url, "SELECT * FROM traces"))
    assert not [text for text in texts if text in dump]
    if not store_url.startswith("postgres"):
        files = sorted(Path(store_url).parent.glob("traces.sqlite*"))
        assert any(f.name.endswith("-wal") for f in files)  # the WAL is searched too
        raw = b"".join(path.read_bytes() for path in files)
        assert not [t for t in texts if t.encode() in raw or t.encode("utf-16-le") in raw]
    store.close()
    assert verified(store_url).ok


# --- retention ---------------------------------------------------------------------------------
def test_retention_deletes_old_records_reanchors_and_notes_it(store_url: str) -> None:
    store = open_store(store_url)
    old = [store.append(backdated(i, days=40)) for i in range(5)]
    late_old = store.append(sample_record(5))
    straggler = store.append(backdated(6, days=40))  # created early, appended late
    new = [store.append(sample_record(i)) for i in range(7, 10)]
    cutoff = time.time() - 30 * 86400
    assert store.purge_older_than(cutoff) == 5
    kept = [record for _, record in store.chain()]
    assert [r.id for r in kept[:-1]] == [late_old.id, straggler.id] + [r.id for r in new]
    note = kept[-1]
    assert note.kind == "retention" and "deleted 5 records" in str(note.answer)
    anchors = store.anchors()
    assert len(anchors) == 1 and anchors[0].deleted == 5
    assert anchors[0].prev_hash == old[-1].hash
    assert store.get(old[0].id) is None
    assert verify(store).ok
    store.append(sample_record(11))
    assert verify(store).ok
    assert store.purge_older_than(cutoff) == 0  # nothing more is old enough: no note, no anchor
    assert len(store.anchors()) == 1

    everything = store.purge_older_than(time.time() + 60)
    assert everything == len(kept) + 1
    remaining = [record for _, record in store.chain()]
    assert len(remaining) == 1 and remaining[0].kind == "retention"
    assert verify(store).ok
    store.append(sample_record(12))
    result = verify(store)
    assert result.ok and result.checked == 2, result.message
    store.close()


# --- bad databases -----------------------------------------------------------------------------
def _snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def _foreign(path: Path) -> None:
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    connection.execute("INSERT INTO users (name) VALUES ('ada')")
    connection.commit()
    connection.close()


def _newer(path: Path) -> None:
    SQLiteTraceStore(path).close()
    raw_sql(str(path), "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
            ("9999_future", time.time()))


@pytest.mark.parametrize(("make", "words"), [
    (lambda p: p.write_bytes(bytes(range(256)) * 64), "is not a readable SQLite trace store"),
    (_foreign, "is not a thinkswitch trace store (it has tables users)"),
    (_newer, "has a schema newer than this thinkswitch (migration 9999_future)"),
], ids=["corrupt", "foreign", "newer"])
def test_bad_sqlite_files_are_refused_and_left_unchanged(tmp_path: Path, make, words) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "db" / "traces.sqlite"
    path.parent.mkdir()
    make(path)
    before = _snapshot(path.parent)
    with pytest.raises(DataError) as caught:
        open_store(path)
    assert words in str(caught.value) and str(path) in str(caught.value)
    assert _snapshot(path.parent) == before
    run = thinkswitch("logs", "list", "--db", str(path))
    assert_one_line_error(run, 1, words)
    assert _snapshot(path.parent) == before


@pytest.mark.parametrize("kind", ["foreign", "newer"])
def test_bad_postgres_databases_are_refused(pg_url: str, kind: str) -> None:
    if kind == "foreign":
        raw_sql(pg_url, "CREATE TABLE users (id BIGSERIAL PRIMARY KEY, name TEXT)")
        words = "is not a thinkswitch trace store (it has tables users)"
    else:
        open_store(pg_url).close()
        raw_sql(pg_url, "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                ("9999_future", time.time()))
        words = "has a schema newer than this thinkswitch (migration 9999_future)"
    tables = raw_sql(pg_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    with pytest.raises(DataError) as caught:
        open_store(pg_url)
    assert words in str(caught.value)
    assert raw_sql(pg_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'") \
        == tables
    assert_one_line_error(thinkswitch("logs", "verify", "--db", pg_url), 1, words)


def test_unreachable_postgres_is_a_clear_error() -> None:
    from support.pg_server import free_port

    url = f"postgresql://ts:secret@127.0.0.1:{free_port()}/traces"
    with pytest.raises(EngineUnavailableError, match="cannot reach PostgreSQL") as caught:
        open_store(url)
    assert "secret" not in str(caught.value)
    run = thinkswitch("logs", "list", "--db", url)
    assert_one_line_error(run, 1, "cannot reach PostgreSQL at postgresql://ts:***@127.0.0.1")
    assert "secret" not in run.stderr


def test_a_store_from_before_the_caller_column_is_migrated_and_still_verifies(
        tmp_path: Path) -> None:
    """Records written by the first schema get their caller column from their bodies."""
    path = tmp_path / "old.sqlite"
    store = SQLiteTraceStore(path)
    for index in range(3):
        store.append(sample_record(index, tag="ab" if index % 2 else "cd"))
    store.close()
    # back to the first schema, as a store written before 0002_caller looks
    raw_sql(str(path), "DROP INDEX traces_caller")
    raw_sql(str(path), "ALTER TABLE traces DROP COLUMN caller")
    raw_sql(str(path), "DELETE FROM schema_migrations WHERE name = ?", ("0002_caller",))
    reopened = SQLiteTraceStore(path)
    try:
        assert [r.caller for r in reopened.records(caller="key-ab")] == ["key-ab"]
        assert len(reopened.records(caller="key-cd")) == 2
        assert verify(reopened).ok
    finally:
        reopened.close()


def test_filters_by_caller_and_before(store: SqlTraceStore) -> None:
    appended = [store.append(sample_record(i, tag="x" if i < 3 else "y")) for i in range(5)]
    assert [r.id for r in store.records(caller="key-x")] == [r.id for r in appended[2::-1]]
    cutoff = appended[2].created_at
    older = store.records(caller="key-x", before=cutoff, limit=1)
    assert [r.id for r in older] == [appended[1].id]
    assert store.records(caller="key-nobody") == []


def test_pages_by_id_cursor_skip_nothing_at_equal_timestamps(store: SqlTraceStore) -> None:
    moment = 1_800_000_000.25
    appended = [store.append(sample_record(i, tag="same", created_at=moment))
                for i in range(5)]
    paged: list[str] = []
    cursor = None
    while True:
        page = store.records(caller="key-same", limit=2, after_id=cursor)
        if not page:
            break
        paged += [r.id for r in page]
        cursor = page[-1].id
    assert paged == [r.id for r in reversed(appended)]
    # the timestamp cursor cannot tell these apart: it skips all but the first page
    assert store.records(caller="key-same", before=moment) == []
    assert store.records(after_id="no-such-id") == []


def test_a_changed_caller_column_is_tampering(store: SqlTraceStore, store_url: str) -> None:
    record = store.append(sample_record(1, tag="owner"))
    store.append(sample_record(2))
    raw_sql(store_url, "UPDATE traces SET caller = ? WHERE id = ?", ("key-thief", record.id))
    result = verified(store_url)
    assert not result.ok and result.record_id == record.id
