"""Check a trace log: walk the hash chain, then hold it against its signed checkpoints.

The walk names the first record whose body no longer matches its hash, whose columns disagree
with its body, or that no longer chains from the one before (removed, inserted, reordered).
That much anyone can also fake by recomputing SHA-256; the checkpoints cannot be faked without
the private key, so with `keys` the verdict says exactly which records a signature vouches for.
The same code checks a live store and an exported file (see proof.py): both are a
`ChainSource`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from thinkswitch.trace.record import (
    GENESIS,
    TraceRecord,
    content_hash,
    hashed_content,
    parse_canonical,
)
from thinkswitch.trace.signed import Walked, check_signed
from thinkswitch.trace.signing import PublicKey
from thinkswitch.trace.store import SqlTraceStore

#: The stored columns that must say what the hashed body says, in `Link.columns` order.
COLUMNS = ("prev_hash", "hash", "id", "created_at", "mode", "policy", "caller", "kind", "ref")


@dataclass(frozen=True)
class Link:
    """One stored record as the verifier sees it: its body text (bytes when read raw) and,
    from a database, the columns stored beside it."""

    where: str
    body: str | bytes
    seq: int | None = None
    columns: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class ChainSource:
    """A chain to check: its records in order, the position of the first one (records before
    it were removed by retention), the hash it chains from, and the checkpoint lines found
    with it (`where`, line); `trusted` checkpoints were handed in and must all check."""

    links: Sequence[Link]
    first: int = 1
    start: str = GENESIS
    checkpoints: Sequence[tuple[str, str]] = ()
    trusted: Sequence[tuple[str, str]] = ()


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    message: str
    seq: int | None = None
    record_id: str | None = None
    notes: tuple[str, ...] = field(default=())


def source_of(store: SqlTraceStore, trusted: Sequence[tuple[str, str]] = ()) -> ChainSource:
    """Everything `verify` reads from a store, read once (a DataError when unreadable)."""
    anchors = store.anchors()
    rows = store.raw_chain()
    links = [Link(f"seq {int(row[0])}", row[1], int(row[0]), tuple(row[2:11])) for row in rows]
    starts = {anchor.seq: anchor.prev_hash for anchor in anchors}
    start = starts.get(links[0].seq, GENESIS) if links and links[0].seq is not None else GENESIS
    return ChainSource(links, 1 + sum(anchor.deleted for anchor in anchors), start,
                       [(f"row {n}", line) for n, line in
                        enumerate(store.checkpoint_lines(), 1)], trusted)


def verify(store: SqlTraceStore, keys: Sequence[PublicKey] = (),
           trusted: Sequence[tuple[str, str]] = (), all_signed: bool = False) -> Verification:
    outcome = verify_source(source_of(store, trusted), keys, all_signed)
    return _pair_index_checked(store, outcome) if outcome.ok else outcome


def _pair_index_checked(store: SqlTraceStore, outcome: Verification) -> Verification:
    """`outcome`, unless the shadow pair index (a table beside the chain, see
    trace/pair_index.py) disagrees with the pair records the chain holds."""
    chained: dict[str, tuple[Any, ...]] = {}
    for record in store.related("shadow"):
        pair = record.shadow or {}
        chained[record.id] = (record.id, pair.get("request_id"), pair.get("created_at"),
                              pair.get("model"), pair.get("policy"), pair.get("caller"))
    index = {str(row[0]): (str(row[0]), row[1], float(row[2]), *row[3:])
             for row in store.shadow_index()}
    if index == chained:
        return outcome
    wrong = min(key for key in index.keys() | chained.keys()
                if index.get(key) != chained.get(key))
    return Verification(False, outcome.checked, f"the shadow pair index disagrees with the "
                        f"chain at pair {wrong}: an index row was changed, added or removed",
                        None, wrong)


def verify_source(source: ChainSource, keys: Sequence[PublicKey] = (),
                  all_signed: bool = False) -> Verification:
    walked, failure = walk(source)
    if failure is not None:
        return failure
    last = source.first + len(walked) - 1
    intact = (f"chain intact: {len(walked)} records verified"
              + (f" (records {source.first}..{last}; records before {source.first} were "
                 "removed by retention)" if source.first > 1 and walked else ""))
    outcome = check_signed(walked, source.first, source.checkpoints, source.trusted, keys,
                           all_signed)
    if not outcome.ok:
        return Verification(False, len(walked), outcome.message, None, outcome.record_id)
    return Verification(True, len(walked), intact, notes=outcome.notes)


def walk(source: ChainSource) -> tuple[list[Walked], Verification | None]:
    expected = source.start
    walked: list[Walked] = []
    previous_id = None
    for index, link in enumerate(source.links):
        problem, body = _read_body(link)
        if body is None:
            named = _id_of(link)
            if named is not None:  # readable enough to name, not as it was written
                return walked, Verification(False, len(walked), f"record {named} "
                                            f"({link.where}) was changed: {problem}", link.seq,
                                            named)
            return walked, Verification(False, len(walked), f"record at {link.where} is "
                                        f"unreadable: {problem}", link.seq)
        record_id, record_hash = str(body.get("id")), str(body.get("hash"))
        changed = content_hash(hashed_content(body)) != record_hash or _columns_differ(link, body)
        if changed:
            reason = changed if isinstance(changed, str) else "its content no longer matches " \
                "its hash"
            return walked, Verification(False, len(walked), f"record {record_id} "
                                        f"({link.where}) was changed: {reason}", link.seq,
                                        record_id)
        if body.get("prev_hash") != expected:
            after = f"after record {previous_id}" if previous_id else "at the start"
            return walked, Verification(False, len(walked), f"the chain breaks {after}, at "
                                        f"record {record_id} ({link.where}): a record was "
                                        "removed or the records were reordered", link.seq,
                                        record_id)
        walked.append(Walked(source.first + index, record_id, record_hash, link.where))
        expected = record_hash
        previous_id = record_id
    return walked, None


def _id_of(link: Link) -> str | None:
    """The id a body that failed the strict reading claims, when a lenient parse finds one."""
    try:
        raw = link.body
        value = json.loads(raw if isinstance(raw, str) else bytes(raw).decode("utf-8"))
    except ValueError:
        return None
    named = value.get("id") if isinstance(value, dict) else None
    return named if isinstance(named, str) else None


def _read_body(link: Link) -> tuple[str, dict[str, Any] | None]:
    """The parsed body, or why it cannot be one: not UTF-8, duplicate keys, not canonical,
    not a record."""
    raw = link.body
    try:
        text = bytes(raw).decode("utf-8") if not isinstance(raw, str) else raw
        text.encode("utf-8")  # a lone surrogate is no more UTF-8 than a stray byte
    except UnicodeError:
        return "its body is not valid UTF-8", None
    try:
        body = parse_canonical(text)
        TraceRecord.model_validate(body)
    except ValueError as error:
        return (str(error).strip().splitlines() or ["not a record"])[0], None
    return "", body


def _columns_differ(link: Link, body: dict[str, Any]) -> str | bool:
    """False when the stored columns say what the body says; else which one does not."""
    if link.columns is None:
        return False
    decision = body.get("decision") if isinstance(body.get("decision"), dict) else {}
    assert isinstance(decision, dict)
    wanted = (body.get("prev_hash"), body.get("hash"), body.get("id"), body.get("created_at"),
              decision.get("mode"), decision.get("policy"), body.get("caller"),
              body.get("kind"), body.get("ref"))
    for name, stored, value in zip(COLUMNS, link.columns, wanted, strict=True):
        if name == "created_at":
            if not _same_time(stored, value):
                return f"its created_at column holds {_shown(stored)}, the body {value!r}"
            continue
        if isinstance(stored, bytes | bytearray | memoryview):
            try:
                stored = bytes(stored).decode("utf-8")
            except UnicodeError:
                return f"its {name} column is not valid UTF-8"
        if stored != value:
            return f"its {name} column says {_shown(stored)}, the hashed body {value!r}"
    return False


def _same_time(stored: Any, value: Any) -> bool:
    if isinstance(stored, bool) or not isinstance(stored, int | float):
        return False  # text (or anything else) in a time column
    return isinstance(value, int | float) and not math.isnan(float(stored)) \
        and float(stored) == float(value)


def _shown(value: Any) -> str:
    text = repr(bytes(value) if isinstance(value, bytearray | memoryview) else value)
    return text if len(text) <= 40 else text[:39] + "…"
