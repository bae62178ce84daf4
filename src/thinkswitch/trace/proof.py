"""An export a third party can check offline: `logs export --format jsonl --proof`.

JSON lines: a header (where the chain starts: the position of its first record and the hash
it chains from), every record in chain order with its position (the record carries its own
`hash` and `prev_hash`), then every signed checkpoint the store holds. `logs verify --file`
reads it back into the same `ChainSource` a live store gives, so the export is checked by the
same code, with the public key alone. The header is not signed; the checkpoints pin what it
says (a wrong start or first position shows as a mismatch against them).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from thinkswitch.kernel.errors import DataError
from thinkswitch.trace.record import canonical, strict_json
from thinkswitch.trace.store import SqlTraceStore
from thinkswitch.trace.verify import ChainSource, Link, source_of

FORMAT = "thinkswitch-proof/1"


def proof_lines(store: SqlTraceStore) -> Iterator[str]:
    """The export, line by line (the store is read once, in one consistent pass)."""
    source = source_of(store)
    yield canonical({"type": "header", "format": FORMAT, "first": source.first,
                     "start": source.start, "records": len(source.links),
                     "checkpoints": len(source.checkpoints), "exported_at": time.time()})
    for position, link in enumerate(source.links, source.first):
        body = link.body if isinstance(link.body, str) else bytes(link.body).decode("utf-8")
        yield canonical({"type": "record", "position": position, "record": strict_json(body)})
    for _, line in source.checkpoints:
        yield canonical({"type": "checkpoint", "checkpoint": strict_json(line)})


def read_proof(path: Path, trusted: list[tuple[str, str]] | None = None) -> ChainSource:
    """An export file as a chain to verify; DataError (file and line) when it is not one."""
    try:
        lines = path.read_bytes().decode("utf-8").splitlines()
    except OSError as error:
        raise DataError(f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeError:
        raise DataError(f"{path} is not UTF-8 text: not a thinkswitch export") from None
    header = _entry(path, 1, lines[0] if lines else "", "header")
    if header.get("format") != FORMAT:
        raise DataError(f"{path}:1: not a thinkswitch proof export (format "
                        f"{header.get('format')!r}, expected {FORMAT})")
    first, start = header.get("first"), header.get("start")
    if not isinstance(first, int) or isinstance(first, bool) or first < 1 \
            or not isinstance(start, str):
        raise DataError(f"{path}:1: the header's first/start are garbled")
    links: list[Link] = []
    checkpoints: list[tuple[str, str]] = []
    for number, line in enumerate(lines[1:], 2):
        entry = _entry(path, number, line, None)
        if entry["type"] == "record":
            if entry.get("position") != first + len(links):
                raise DataError(f"{path}:{number}: record out of place (position "
                                f"{entry.get('position')!r}, expected {first + len(links)})")
            links.append(Link(f"{path.name}:{number}", canonical(entry.get("record"))))
        elif entry["type"] == "checkpoint":
            checkpoints.append((f"{path.name}:{number}", canonical(entry.get("checkpoint"))))
        else:
            raise DataError(f"{path}:{number}: unknown entry type {entry['type']!r}")
    if len(links) != header.get("records"):
        # Not a verdict on its own (the header is unsigned), but a cut file should say so.
        raise DataError(f"{path}: the header announces {header.get('records')} records, the "
                        f"file holds {len(links)}: the export is incomplete or was cut")
    return ChainSource(links, first, start, checkpoints, trusted or [])


def _entry(path: Path, number: int, line: str, wanted: str | None) -> dict[str, Any]:
    try:
        entry = strict_json(line)
    except ValueError as error:
        raise DataError(f"{path}:{number}: not a JSON line: "
                        f"{(str(error).splitlines() or ['empty'])[0]}") from None
    if not isinstance(entry, dict) or not isinstance(entry.get("type"), str) or \
            (wanted is not None and entry["type"] != wanted):
        raise DataError(f"{path}:{number}: expected a {wanted or 'record or checkpoint'} entry")
    return entry
