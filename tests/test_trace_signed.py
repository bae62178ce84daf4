"""Signed checkpoints against an attacker who can write the database but has no private key:
edits with the chain recomputed by plain SHA-256, truncation, re-attribution, appended and
forged records, forged checkpoints, duplicate JSON keys. SQLite and a real PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from support.trace_helpers import raw_sql, sample_record, sha256_of, writer_command

from thinkswitch.trace.backends import open_store
from thinkswitch.trace.checkpoint import Checkpoint, CheckpointSchedule
from thinkswitch.trace.record import TraceRecord
from thinkswitch.trace.signing import (
    PublicKey,
    SigningKey,
    generate_keypair,
    load_public_key,
    load_signing_key,
)
from thinkswitch.trace.store import SqlTraceStore
from thinkswitch.trace.verify import Verification, verify

HOUR = 3600.0


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[SigningKey, PublicKey]:
    private, public, _ = generate_keypair(tmp_path_factory.mktemp("keys"))
    return load_signing_key(private), load_public_key(public)


def signed_store(url: str, key: SigningKey, every: int = 100,
                 every_s: float = HOUR) -> SqlTraceStore:
    store = open_store(url)
    store.sign_with(key, CheckpointSchedule(every_records=every, every_s=every_s))
    return store


def written(url: str, key: SigningKey, count: int, every: int = 100) -> list[TraceRecord]:
    """`count` records in a store that signs every `every` records and on close."""
    store = signed_store(url, key, every)
    records = [store.append(sample_record(index)) for index in range(count)]
    store.close()
    return records


def checked(url: str, public: PublicKey | None, **options: object) -> Verification:
    store = open_store(url)
    try:
        return verify(store, [public] if public else [], **options)  # type: ignore[arg-type]
    finally:
        store.close()


def rewrite(url: str, seq: int, change: dict[str, object]) -> None:
    """Change one record's body and recompute the whole chain from it, as anyone with write
    access and hashlib can: every hash and prev_hash after it is made consistent again."""
    rows = raw_sql(url, "SELECT seq, body FROM traces ORDER BY seq")
    previous = None
    for row_seq, text in rows:
        body = json.loads(text)
        if row_seq < seq:
            previous = body["hash"]
            continue
        if row_seq == seq:
            body.update(change)
        if previous is not None:
            body["prev_hash"] = previous
        body["hash"] = sha256_of(body)
        previous = body["hash"]
        raw_sql(url, "UPDATE traces SET body = ?, prev_hash = ?, hash = ?, caller = ? "
                "WHERE seq = ?", (json.dumps(body, sort_keys=True, separators=(",", ":"),
                                             ensure_ascii=False), body["prev_hash"],
                                  body["hash"], body["caller"], row_seq))


def seqs(url: str) -> list[int]:
    return [int(row[0]) for row in raw_sql(url, "SELECT seq FROM traces ORDER BY seq")]


def checkpoints(url: str) -> list[Checkpoint]:
    return [Checkpoint.parse(row[0]) for row in
            raw_sql(url, "SELECT body FROM trace_checkpoints ORDER BY count")]


# --- writing checkpoints -----------------------------------------------------------------------
def test_checkpoints_are_signed_every_n_records_and_on_close(
        store_url: str, keys: tuple[SigningKey, PublicKey]) -> None:
    key, public = keys
    store = signed_store(store_url, key, every=3)
    records = [store.append(sample_record(index)) for index in range(7)]
    assert [c.count for c in checkpoints(store_url)] == [3, 6]
    store.close()
    signed = checkpoints(store_url)
    assert [(c.first, c.count, c.head) for c in signed] == \
        [(1, 3, records[2].hash), (1, 6, records[5].hash), (1, 7, records[6].hash)]
    assert all(c.valid_under(public) and c.key_id == key.key_id for c in signed)
    reopened = signed_store(store_url, key)
    reopened.close()  # nothing new: no second checkpoint of the same head
    assert len(checkpoints(store_url)) == 3
    result = checked(store_url, public)
    assert result.ok, result.message
    assert f"signed checkpoint at record 7 ({signed[-1].when()}) verified with key " \
        f"{key.key_id}: records 1..7 untampered; 0 records after it" in result.notes[0]


def test_the_timer_signs_records_that_wait(store_url: str,
                                           keys: tuple[SigningKey, PublicKey]) -> None:
    key, _ = keys
    store = signed_store(store_url, key, every=1000, every_s=0.2)
    try:
        store.append(sample_record(1))
        store.append(sample_record(2))
        deadline = time.monotonic() + 10
        while not checkpoints(store_url) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [c.count for c in checkpoints(store_url)] == [2]
    finally:
        store.close()
    assert len(checkpoints(store_url)) == 1


def test_a_signature_is_refused_for_any_changed_field(keys: tuple[SigningKey, PublicKey],
                                                      tmp_path: Path) -> None:
    key, public = keys
    good = Checkpoint.signed(key, 1, 5, "ab" * 32)
    assert good.valid_under(public)
    for change in ({"count": 4}, {"first": 2}, {"head": "cd" * 32}, {"at": good.at + 1}):
        assert not good.model_copy(update=change).valid_under(public), change
    other, _, _ = generate_keypair(tmp_path)
    assert not good.valid_under(load_signing_key(other).public)


# --- an attacker with write access and no key -------------------------------------------------
@pytest.mark.parametrize("every", [1, 100], ids=["checkpoint-per-record", "checkpoint-at-close"])
@pytest.mark.parametrize("change", [{"answer": "25"}, {"caller": "key-someone-else"}],
                         ids=["edited", "re-attributed"])
def test_a_recomputed_chain_passes_unkeyed_and_fails_with_the_key(
        store_url: str, keys: tuple[SigningKey, PublicKey], every: int,
        change: dict[str, object]) -> None:
    key, public = keys
    records = written(store_url, key, 6, every)
    ids = [r.id for r in records]
    rewrite(store_url, seqs(store_url)[2], change)

    unkeyed = checked(store_url, None)  # the plain chain is fooled: this is the attack
    assert unkeyed.ok and unkeyed.checked == 6
    assert "the chain is unkeyed" in unkeyed.notes[0]
    assert "signed checkpoints are not checked: pass --key PUB" in unkeyed.notes[1]

    result = checked(store_url, public)
    assert not result.ok
    assert "does not match the checkpoint signed at record" in result.message
    assert "hash chain recomputed" in result.message
    if every == 1:  # a checkpoint per record pins the very record
        assert result.record_id == ids[2]
        assert f"record {ids[2]} (record 3, seq" in result.message
        assert f"with key {key.key_id}" in result.message
    else:  # one checkpoint over all six: the span it vouched for
        assert result.record_id == ids[0]
        assert f"records 1..6 (ids {ids[0]}" in result.message and ids[5] in result.message


@pytest.mark.parametrize("removed", [2, 6])
def test_truncation_fails_with_the_key(store_url: str, keys: tuple[SigningKey, PublicKey],
                                       removed: int) -> None:
    key, public = keys
    written(store_url, key, 6, every=2)
    doomed = seqs(store_url)[-removed:]
    raw_sql(store_url, f"DELETE FROM traces WHERE seq >= {doomed[0]}")
    assert checked(store_url, None).ok  # the chain that is left is intact
    result = checked(store_url, public)
    assert not result.ok
    assert "truncated: the checkpoint signed at record 6" in result.message
    assert ("every record was removed" if removed == 6 else "records 5..6 were removed") \
        in result.message


def test_deleting_the_checkpoints_too_is_caught_by_one_kept_elsewhere(
        store_url: str, keys: tuple[SigningKey, PublicKey]) -> None:
    key, public = keys
    written(store_url, key, 4)
    kept = raw_sql(store_url, "SELECT body FROM trace_checkpoints")[0][0]
    raw_sql(store_url, "DELETE FROM trace_checkpoints")
    raw_sql(store_url, f"DELETE FROM traces WHERE seq = {seqs(store_url)[-1]}")
    alone = checked(store_url, public)
    assert not alone.ok and "no checkpoint signed by key" in alone.message
    result = checked(store_url, public, trusted=[("kept.jsonl:1", kept)])
    assert not result.ok and "truncated" in result.message
    assert "record 4 was removed" in result.message


def test_a_forged_record_appended_after_the_checkpoint_is_reported_unsigned(
        store_url: str, keys: tuple[SigningKey, PublicKey]) -> None:
    key, public = keys
    records = written(store_url, key, 3)
    forged = sample_record(9, tag="forged").model_dump()
    forged["prev_hash"] = records[-1].hash
    forged["hash"] = sha256_of(forged)
    raw_sql(store_url, "INSERT INTO traces (id, created_at, mode, policy, caller, kind, body, "
            "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (forged["id"], forged["created_at"], forged["decision"]["mode"],
             forged["decision"]["policy"], forged["caller"], forged["kind"],
             json.dumps(forged, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
             forged["prev_hash"], forged["hash"]))
    result = checked(store_url, public)
    assert result.ok and result.checked == 4
    assert f"records 1..3 untampered; 1 records after it are chained but not yet signed " \
        f"(ids {forged['id']})" in result.notes[0]
    strict = checked(store_url, public, all_signed=True)
    assert not strict.ok and strict.record_id == forged["id"]
    assert "--all-signed wants none" in strict.message


def test_forged_checkpoints_are_refused(store_url: str, keys: tuple[SigningKey, PublicKey],
                                        tmp_path: Path) -> None:
    key, public = keys
    written(store_url, key, 3)
    rewrite(store_url, seqs(store_url)[0], {"answer": "forged"})
    head = raw_sql(store_url, "SELECT hash FROM traces ORDER BY seq DESC LIMIT 1")[0][0]
    # the attacker signs the forged head with a key of their own: not the auditor's key
    own, _, _ = generate_keypair(tmp_path)
    theirs = Checkpoint.signed(load_signing_key(own), 1, 3, head, at=time.time() + 10)
    raw_sql(store_url, "INSERT INTO trace_checkpoints (count, key_id, body) VALUES (?, ?, ?)",
            (3, theirs.key_id, theirs.line()))
    result = checked(store_url, public)
    assert not result.ok and "does not match" in result.message
    # ... or claims the auditor's key id with a signature it could not make
    claimed = theirs.model_copy(update={"key_id": key.key_id})
    raw_sql(store_url, "INSERT INTO trace_checkpoints (count, key_id, body) VALUES (?, ?, ?)",
            (3, key.key_id, claimed.line()))
    result = checked(store_url, public)
    assert not result.ok
    assert f"has an invalid signature for key {key.key_id}: it was forged" in result.message


def test_a_key_that_never_signed_vouches_for_nothing(
        store_url: str, keys: tuple[SigningKey, PublicKey], tmp_path: Path) -> None:
    key, _ = keys
    written(store_url, key, 2)
    _, other, _ = generate_keypair(tmp_path)
    result = checked(store_url, load_public_key(other))
    assert not result.ok and "no checkpoint signed by key" in result.message


# --- canonical bodies --------------------------------------------------------------------------
def test_a_body_with_a_duplicate_key_is_refused(store_url: str) -> None:
    store = open_store(store_url)
    record = store.append(sample_record(2))
    store.close()
    body = raw_sql(store_url, "SELECT body FROM traces")[0][0]
    original = json.dumps(record.answer)
    doubled = body.replace(f'"answer":{original}', f'"answer":"42 (forged)","answer":{original}')
    assert doubled != body
    # the last value wins in json.loads: the hash still matches, a first-value reader shows 42
    assert json.loads(doubled)["answer"] == record.answer
    assert sha256_of(json.loads(doubled)) == record.hash
    raw_sql(store_url, "UPDATE traces SET body = ?", (doubled,))
    result = checked(store_url, None)
    assert not result.ok and "duplicate JSON key 'answer'" in result.message


def test_a_body_not_in_canonical_form_is_refused(store_url: str) -> None:
    store = open_store(store_url)
    store.append(sample_record(1))
    store.close()
    body = json.loads(raw_sql(store_url, "SELECT body FROM traces")[0][0])
    raw_sql(store_url, "UPDATE traces SET body = ?", (json.dumps(body, indent=1),))
    result = checked(store_url, None)
    assert not result.ok and "not in canonical form" in result.message


# --- retention ---------------------------------------------------------------------------------
def test_a_signed_purge_verifies_and_a_faked_one_does_not(
        store_url: str, keys: tuple[SigningKey, PublicKey]) -> None:
    key, public = keys
    store = signed_store(store_url, key)
    for index in range(3):
        store.append(sample_record(index, created_at=time.time() - 40 * 86400))
    store.append(sample_record(3))
    assert store.purge_older_than(time.time() - 30 * 86400) == 3
    signed = checkpoints(store_url)[-1]
    assert (signed.first, signed.count) == (4, 5)  # signed at once, before close
    store.append(sample_record(4))
    store.close()
    result = checked(store_url, public)
    assert result.ok, result.message
    assert "records before 4 were removed by retention" in result.message
    assert "records 4..6 untampered" in result.notes[0]
    # the attacker removes the oldest kept record and forges an anchor for it
    first, second = seqs(store_url)[:2]
    second_prev = raw_sql(store_url, f"SELECT prev_hash FROM traces WHERE seq = {second}")
    raw_sql(store_url, f"DELETE FROM traces WHERE seq = {first}")
    raw_sql(store_url, "INSERT INTO trace_anchors (seq, prev_hash, deleted, at) VALUES "
            "(?, ?, ?, ?)", (seqs(store_url)[0], second_prev[0][0], 1, time.time()))
    result = checked(store_url, public)
    assert not result.ok
    assert "record 4 was removed from the start of the chain" in result.message


def test_replicas_signing_with_one_key_agree_on_every_checkpoint(
        store_url: str, keys: tuple[SigningKey, PublicKey], tmp_path: Path) -> None:
    """Three writer processes share the chain and the key, each signing every 7 of its own
    records: every checkpoint any of them signed matches the chain they built together."""
    key, public = keys
    key_file = tmp_path / "replica.key"
    key_file.write_bytes(key.key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    open_store(store_url).close()
    children = [subprocess.Popen(writer_command(store_url, 30, f"r{n}", pause=0.001,
                                                sign=(key_file, 7)),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for n in range(3)]
    for child in children:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
    signed = checkpoints(store_url)
    # A replica skips a due checkpoint when another one already signed the very same head;
    # the first one ever is signed by 19 records (3 x 6 + 1), the last covers all 90.
    counts = [c.count for c in signed]
    assert len(counts) >= 2 and len(set(counts)) == len(counts)
    assert min(counts) <= 19 and max(counts) == 90
    result = checked(store_url, public, all_signed=True)
    assert result.ok, result.message
    assert "records 1..90 untampered; 0 records after it" in result.notes[0]
    rewrite(store_url, seqs(store_url)[44], {"answer": "forged"})
    result = checked(store_url, public)
    assert not result.ok and "does not match" in result.message
