"""Sealing a record encodes each field once (the hot path of every append): the stored body and
the hash must be exactly what `canonical` of the whole record and `content_hash` of its content
give, for any record, or old and new records would not verify alike."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from thinkswitch.trace.record import GENESIS, Cost, TraceRecord, canonical, content_hash

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
SCALAR = st.none() | st.booleans() | st.integers(-10**12, 10**12) | \
    st.floats(allow_nan=False, allow_infinity=False) | TEXT
JSON = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(TEXT, inner, max_size=4), max_leaves=12)


@st.composite
def records(draw: st.DrawFn) -> TraceRecord:
    fields: dict[str, Any] = {
        "created_at": draw(st.floats(0, 4e9)),
        "caller": draw(TEXT),
        "messages": draw(st.lists(st.dictionaries(TEXT, JSON, max_size=3), max_size=3)),
        "decision": draw(st.dictionaries(TEXT, JSON, max_size=5)),
        "thinking": draw(TEXT | st.dictionaries(TEXT, JSON, max_size=3)),
        "answer": draw(TEXT | st.dictionaries(TEXT, JSON, max_size=3)),
        "usage": draw(st.dictionaries(TEXT, st.integers(0, 10**9), max_size=3)),
        "timings": draw(st.dictionaries(TEXT, st.none() | st.floats(0, 1e6), max_size=3)),
        "finish_reason": draw(st.none() | TEXT),
        "cost": Cost(input=draw(st.floats(0, 1e3)), output=draw(st.floats(0, 1e3))),
        "error": draw(st.none() | TEXT),
        "redacted": draw(st.booleans()),
        "kind": draw(st.sampled_from(["request", "feedback", "shadow", "retention"])),
        "steps": draw(st.none() | st.lists(st.dictionaries(TEXT, JSON, max_size=3), max_size=3)),
        "ref": draw(st.none() | TEXT),
        "feedback": draw(st.none() | st.dictionaries(TEXT, JSON, max_size=3)),
        "shadow": draw(st.none() | st.dictionaries(TEXT, JSON, max_size=3)),
    }
    return TraceRecord(**fields)


@settings(max_examples=300, deadline=None)
@given(records(), st.sampled_from([GENESIS, "ab" * 32]))
def test_the_sealed_body_and_hash_are_the_canonical_ones(record: TraceRecord,
                                                         prev_hash: str) -> None:
    sealed, body = record.sealed(prev_hash)
    assert sealed.prev_hash == prev_hash
    assert body == canonical(sealed.model_dump())
    assert sealed.hash == content_hash(sealed.content())
    assert json.loads(body)["hash"] == sealed.hash


def test_a_field_added_later_is_hashed_only_once_set() -> None:
    """`steps`, `ref`, `feedback` and `shadow` stay out of the hash while null (old records
    keep their hashes) and are in the body all the same."""
    bare, body = TraceRecord(id="r1", created_at=1.0).sealed(GENESIS)
    assert '"steps":null' in body and '"shadow":null' in body
    with_steps, _ = TraceRecord(id="r1", created_at=1.0, steps=[]).sealed(GENESIS)
    assert bare.hash != with_steps.hash
    content = {key: value for key, value in bare.model_dump().items()
               if key not in ("hash", "steps", "ref", "feedback", "shadow")}
    assert bare.hash == content_hash(content)
