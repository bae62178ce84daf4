"""Shadow pairs in the trace store, on SQLite and a real PostgreSQL: chained after the request
they shadow, filtered by window, model, policy version and caller, covered by `verify` (an edit
is caught), purged with the records, redacted without losing the label, and the migration
applied to a store written before pairs existed."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator

import pytest
from support.trace_helpers import raw_sql, sample_record

from thinkswitch.kernel.pairs import Agreement, ShadowPair, SideOutcome
from thinkswitch.trace.backends import open_store
from thinkswitch.trace.prices import Price, PriceTable
from thinkswitch.trace.recorder import Recorder
from thinkswitch.trace.store import SqlTraceStore
from thinkswitch.trace.verify import verify


def make_pair(request_id: str, index: int = 0, **changes: object) -> ShadowPair:
    """A pair as the shadow runner writes it: answered directly, thinking run in the shadow."""
    fields: dict[str, object] = {
        "request_id": request_id, "caller": "key-a", "engine": "replay",
        "model": "gemini-2.5-flash", "policy": "learned@v2", "score": 0.31,
        "propensity": 0.2, "question": f"Who painted the Ninth Wave? ({index})",
        "live": SideOutcome(mode="off", answer="Aivazovsky", answer_tokens=5, seconds=0.4,
                            finish_reason="stop", correct=False),
        "shadow": SideOutcome(mode="on", budget=1024, answer="Ivan Aivazovsky",
                              thinking_tokens=400, answer_tokens=7, seconds=3.5,
                              finish_reason="stop", correct=True),
        "agreement": Agreement(agree=True, method="text", note="same name"),
        "correctness_source": "replay",
        "created_at": 1_000.0 + index,
    }
    fields.update(changes)
    return ShadowPair.model_validate(fields)


@pytest.fixture
def store(store_url: str) -> Iterator[SqlTraceStore]:
    opened = open_store(store_url)
    yield opened
    opened.close()


def test_pair_round_trips_in_the_chain_after_its_request(store: SqlTraceStore) -> None:
    request = store.append(sample_record(1))
    pair = make_pair(request.id)
    sealed = store.append_shadow_pair(pair)
    assert sealed.kind == "shadow" and sealed.prev_hash == request.hash
    assert store.shadow_pairs() == [pair]
    back = store.get(pair.id)
    assert back is not None and back.shadow == pair.model_dump()
    # the record's usage is the shadow side's, never the request's
    assert back.usage == {"prompt_tokens": 0, "thinking_tokens": 400, "answer_tokens": 7}
    assert store.get(request.id) == request
    assert pair.thinking_paid is True and pair.side("on").budget == 1024
    result = verify(store)
    assert result.ok and result.checked == 2


def test_pairs_filter_by_window_model_policy_and_caller(store: SqlTraceStore) -> None:
    request = store.append(sample_record(1))
    pairs = [store.append_shadow_pair(p) and p for p in (
        make_pair(request.id, 0),
        make_pair(request.id, 1, model="claude-sonnet-4"),
        make_pair(request.id, 2, policy="learned@v3"),
        make_pair(request.id, 3, caller="key-b"),
    )]
    assert [p.id for p in store.shadow_pairs()] == [p.id for p in pairs]
    assert store.shadow_pairs(since=1_002.0) == pairs[2:]
    assert store.shadow_pairs(before=1_001.0) == pairs[:1]
    assert store.shadow_pairs(model="claude-sonnet-4") == [pairs[1]]
    assert store.shadow_pairs(policy_version="learned@v3") == [pairs[2]]
    assert store.shadow_pairs(caller="key-b") == [pairs[3]]
    assert store.shadow_pairs(model="nobody") == []
    # requests are not pairs, and the history filters keep showing requests only
    assert [r.kind for r in store.records()].count("shadow") == 4


def test_an_edited_pair_breaks_the_chain(store_url: str) -> None:
    store = open_store(store_url)
    request = store.append(sample_record(1))
    pair = make_pair(request.id)
    store.append_shadow_pair(pair)
    store.append(sample_record(2))
    store.close()
    body = json.loads(raw_sql(store_url, "SELECT body FROM traces WHERE id = ?", (pair.id,))[0][0])
    body["shadow"]["shadow"]["correct"] = False  # someone rewrites the label
    raw_sql(store_url, "UPDATE traces SET body = ? WHERE id = ?", (json.dumps(body), pair.id))
    reopened = open_store(store_url)
    try:
        result = verify(reopened)
        assert not result.ok and result.record_id == pair.id
        assert "was changed" in result.message
    finally:
        reopened.close()


def test_an_edited_or_removed_index_row_is_caught(store_url: str) -> None:
    store = open_store(store_url)
    request = store.append(sample_record(1))
    pairs = [make_pair(request.id, 0), make_pair(request.id, 1)]
    for pair in pairs:
        store.append_shadow_pair(pair)
    store.close()
    raw_sql(store_url, "UPDATE shadow_pairs SET policy = ? WHERE trace_id = ?",
            ("learned@v9", pairs[0].id))
    reopened = open_store(store_url)
    try:
        result = verify(reopened)
        assert not result.ok and result.record_id == pairs[0].id
        assert "index disagrees" in result.message
    finally:
        reopened.close()
    raw_sql(store_url, "UPDATE shadow_pairs SET policy = ? WHERE trace_id = ?",
            ("learned@v2", pairs[0].id))
    raw_sql(store_url, "DELETE FROM shadow_pairs WHERE trace_id = ?", (pairs[1].id,))
    reopened = open_store(store_url)
    try:
        result = verify(reopened)
        assert not result.ok and result.record_id == pairs[1].id
    finally:
        reopened.close()


def test_purge_removes_pairs_with_their_records(store: SqlTraceStore) -> None:
    old = store.append(sample_record(1, created_at=500.0))
    store.append_shadow_pair(make_pair(old.id, 0, created_at=501.0))
    new = store.append(sample_record(2, created_at=2_000.0))
    kept = make_pair(new.id, 1, created_at=2_001.0)
    store.append_shadow_pair(kept)
    assert store.purge_older_than(1_500.0) == 2
    assert store.shadow_pairs() == [kept]
    assert verify(store).ok


def test_a_redacting_recorder_keeps_the_label_and_no_text(store: SqlTraceStore) -> None:
    recorder = Recorder(store, PriceTable({"*": Price(input=1.0, output=2.0, thinking=4.0)}),
                        redact_inputs=True)
    request = store.append(sample_record(1))
    pair = make_pair(request.id, judge_tokens=10)
    sealed = recorder.shadow(pair)
    [stored] = store.shadow_pairs()
    assert stored.redacted and stored.question is None
    assert stored.live.answer is None and stored.shadow.answer is None
    assert stored.question_sha256 and stored.shadow.answer_sha256
    assert stored.question_sha256 != pair.question_sha256
    # the label survives redaction
    assert (stored.live.correct, stored.shadow.correct) == (False, True)
    assert stored.agreement.agree is True and stored.thinking_paid is True
    assert stored.shadow_tokens == 400 + 7 + 10
    record = store.get(pair.id)
    assert record is not None
    stored_text = record.model_dump_json()
    assert "Aivazovsky" not in stored_text and "Ninth Wave" not in stored_text
    # priced apart: the shadow side and the judge, per million tokens
    assert sealed.cost.thinking == pytest.approx(400 * 4.0 / 1e6)
    assert sealed.cost.output == pytest.approx((7 + 10) * 2.0 / 1e6)


def test_a_store_from_before_pairs_is_migrated_and_still_verifies(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "old.sqlite"
    store = open_store(path)
    request = store.append(sample_record(1))
    store.close()
    # as a store written before 0003 looked: no pair table, no record of it
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("DROP TABLE shadow_pairs")
    connection.execute("DELETE FROM schema_migrations WHERE name = '0005_shadow_pairs'")
    connection.close()
    reopened = open_store(path)
    try:
        applied = [row[0] for row in raw_sql(str(path), "SELECT name FROM schema_migrations")]
        assert "0005_shadow_pairs" in applied
        reopened.append_shadow_pair(make_pair(request.id))
        assert len(reopened.shadow_pairs()) == 1
        assert verify(reopened).ok
    finally:
        reopened.close()
