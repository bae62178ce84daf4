"""Walk the hash chain and name the first record that was changed, removed or reordered."""

from __future__ import annotations

import json
from dataclasses import dataclass

from thinkswitch.trace.record import GENESIS, TraceRecord, content_hash
from thinkswitch.trace.store import SqlTraceStore


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    message: str
    seq: int | None = None
    record_id: str | None = None


def verify(store: SqlTraceStore) -> Verification:
    anchors = {anchor.seq: anchor.prev_hash for anchor in store.anchors()}
    expected = GENESIS
    checked = 0
    previous_id = None
    for position, row in enumerate(store.raw_chain()):
        seq, body, prev_column, hash_column = int(row[0]), str(row[1]), str(row[2]), str(row[3])
        try:
            record = TraceRecord.model_validate(json.loads(body))
        except ValueError as error:
            first = str(error).strip().splitlines()[0]
            return Verification(False, checked, f"record at seq {seq} is unreadable: {first}",
                                seq)
        if position == 0 and seq in anchors:
            expected = anchors[seq]
        recomputed = content_hash(record.content())
        # The columns that `records()` filters on must say what the hashed body says.
        columns = (row[4], float(row[5]), row[6], row[7], row[8], row[9], row[10])
        stored = (record.id, record.created_at, record.decision.get("mode"),
                  record.decision.get("policy"), record.caller, record.kind, record.ref)
        if recomputed != record.hash or hash_column != record.hash or columns != stored:
            return Verification(False, checked, f"record {record.id} (seq {seq}) was changed: "
                                "its content no longer matches its hash", seq, record.id)
        if record.prev_hash != expected or prev_column != record.prev_hash:
            after = f"after record {previous_id}" if previous_id else "at the start"
            return Verification(False, checked, f"the chain breaks {after}, at record "
                                f"{record.id} (seq {seq}): a record was removed or the records "
                                "were reordered", seq, record.id)
        expected = record.hash
        previous_id = record.id
        checked += 1
    return Verification(True, checked, f"chain intact: {checked} records verified")
