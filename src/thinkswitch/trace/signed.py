"""Hold a walked chain against its signed checkpoints and say what the signatures vouch for.

Every checkpoint signed by a given key must check: its record `count` must exist and carry the
signed `head` hash (else the records up to it were rewritten, or the newest were removed), and
the chain must still start where the newest checkpoint says (else records were removed from
its start without a signed retention). Checkpoints handed in from outside (`trusted`, e.g. a
copy kept elsewhere) must also be signed by a given key. What comes after the newest
checkpoint is chained but unsigned; the verdict says so, and `all_signed` makes it a failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from thinkswitch.trace.checkpoint import Checkpoint
from thinkswitch.trace.signing import PublicKey

UNKEYED = ("the chain is unkeyed (no --key): it shows accidental damage, not tampering. "
           "Anyone who can write the database can edit, delete, insert, reorder or "
           "re-attribute records and recompute the SHA-256 chain, and deleting the newest "
           "records (or all of them) leaves no mark. Sign checkpoints (`thinkswitch logs "
           "keygen`, THINKSWITCH_TRACE_SIGNING_KEY_FILE) and verify with --key PUB.")


@dataclass(frozen=True)
class Walked:
    """One record the chain walk accepted: its position (counting records removed by
    retention), id, hash, and where it was read (`seq 12`, `export.jsonl:7`)."""

    position: int
    record_id: str
    hash: str
    where: str


@dataclass(frozen=True)
class SignedOutcome:
    ok: bool
    message: str = ""
    record_id: str | None = None
    notes: tuple[str, ...] = ()


def _fail(message: str, record_id: str | None = None) -> SignedOutcome:
    return SignedOutcome(False, message, record_id)


def check_signed(walked: Sequence[Walked], first: int, stored: Sequence[tuple[str, str]],
                 trusted: Sequence[tuple[str, str]], keys: Sequence[PublicKey],
                 all_signed: bool) -> SignedOutcome:
    if not keys:
        notes = [UNKEYED]
        if stored or trusted:
            notes.append(f"{len(stored) + len(trusted)} signed checkpoints are not checked: "
                         "pass --key PUB")
        return SignedOutcome(True, notes=tuple(notes))
    by_id = {key.key_id: key for key in keys}
    shown_keys = ", ".join(by_id)
    valid: list[tuple[Checkpoint, bool]] = []
    other_keys: set[str] = set()
    for where, line, handed_in in [(w, t, False) for w, t in stored] + \
            [(w, t, True) for w, t in trusted]:
        try:
            checkpoint = Checkpoint.parse(line)
        except ValueError as error:
            reason = (str(error).strip().splitlines() or ["unreadable"])[0]
            return _fail(f"checkpoint {where} is unreadable: {reason}")
        key = by_id.get(checkpoint.key_id)
        if key is None:
            if handed_in:
                return _fail(f"checkpoint {where} is signed by key {checkpoint.key_id}, "
                             f"not by {shown_keys}")
            other_keys.add(checkpoint.key_id)
            continue
        if not checkpoint.valid_under(key):
            return _fail(f"checkpoint {where} (record {checkpoint.count}, {checkpoint.when()})"
                         f" has an invalid signature for key {key.key_id}: it was forged or "
                         "altered")
        valid.append((checkpoint, handed_in))
    if not valid:
        return _fail(f"no checkpoint signed by key {shown_keys}: nothing vouches for the "
                     f"{len(walked)} records (their checkpoints were deleted, or the store "
                     "never signed with this key)")
    return _against_chain(walked, first, valid, shown_keys, other_keys, all_signed)


def _against_chain(walked: Sequence[Walked], first: int, valid: list[tuple[Checkpoint, bool]],
                   shown_keys: str, other_keys: set[str], all_signed: bool) -> SignedOutcome:
    last = first + len(walked) - 1
    at = {item.position: item for item in walked}
    valid.sort(key=lambda pair: (pair[0].count, pair[0].at))
    highest = valid[-1][0]
    if highest.count > last:
        gone = "every record was removed" if not walked else \
            f"{_records(max(last + 1, first), highest.count)} removed"
        return _fail(f"truncated: {_signed(highest)} vouches for records up to "
                     f"{highest.count}, but the chain ends at record {last}: {gone}")
    matched = first - 1  # the newest position a checkpoint vouched for so far
    newest: Checkpoint | None = None
    skipped = 0
    for checkpoint, handed_in in valid:
        signed = _signed(checkpoint)
        if checkpoint.count < first:
            if handed_in:
                return _fail(f"{signed} covers only records that retention removed (the chain "
                             f"now starts at record {first}); it cannot vouch for the rest")
            skipped += 1
            continue
        record = at[checkpoint.count]
        if record.hash != checkpoint.head:
            start = at[max(matched + 1, first)]
            span = (f"record {start.record_id} ({start.where})" if start is record else
                    f"records {start.position}..{record.position} (ids {start.record_id} "
                    f"({start.where}) to {record.record_id} ({record.where}))")
            return _fail(f"record {record.record_id} (record {record.position}, {record.where})"
                         f" does not match {signed}: {span} were changed, re-attributed, "
                         "removed or inserted after signing, and the hash chain recomputed",
                         start.record_id)
        matched = checkpoint.count
        newest = checkpoint
    if newest is None:
        return _fail(f"no checkpoint signed by key {shown_keys} covers the kept records "
                     f"{first}..{last}")
    if first > newest.first:
        return _fail(f"{_records(newest.first, first - 1)} removed from the start of the "
                     f"chain after the checkpoint signed at record {newest.count} "
                     f"({newest.when()}), and no signed checkpoint records that purge")
    unsigned = [item for item in walked if item.position > newest.count]
    tail = (f"{len(unsigned)} records after it are chained but not yet signed"
            + (f" (ids {', '.join(item.record_id for item in unsigned[:3])}"
               f"{', …' if len(unsigned) > 3 else ''})" if unsigned else ""))
    verdict = (f"signed checkpoint at record {newest.count} ({newest.when()}) verified with key "
               f"{newest.key_id}: records {newest.first}..{newest.count} untampered; {tail}")
    if unsigned and all_signed:
        return _fail(f"{verdict}; --all-signed wants none", unsigned[0].record_id)
    notes = [verdict]
    if skipped:
        notes.append(f"{skipped} older checkpoints cover only records removed by retention")
    if other_keys:
        notes.append(f"checkpoints by other keys not checked: {', '.join(sorted(other_keys))}")
    return SignedOutcome(True, notes=tuple(notes))


def _signed(checkpoint: Checkpoint) -> str:
    return (f"the checkpoint signed at record {checkpoint.count} ({checkpoint.when()}) "
            f"with key {checkpoint.key_id}")


def _records(start: int, end: int) -> str:
    return f"record {start} was" if start == end else f"records {start}..{end} were"
