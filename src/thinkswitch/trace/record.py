"""What one trace record holds, and its place in the hash chain."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

GENESIS = "0" * 64
_ADDED_LATER = ("steps", "ref", "feedback", "shadow")


class Cost(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    input: float = 0.0
    output: float = 0.0
    thinking: float = 0.0
    currency: str = "USD"

    @property
    def total(self) -> float:
        return self.input + self.output + self.thinking


class TraceRecord(BaseModel):
    """One request as it was answered (or failed). `hash` chains it to the record before."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    created_at: float = Field(default_factory=time.time)
    caller: str = ""
    messages: list[dict[str, Any]] = Field(default_factory=list)
    decision: dict[str, Any] = Field(default_factory=dict)
    thinking: str | dict[str, Any] = ""
    answer: str | dict[str, Any] = ""
    usage: dict[str, int] = Field(default_factory=dict)
    timings: dict[str, float | None] = Field(default_factory=dict)
    engine: str = ""
    model: str = ""
    finish_reason: str | None = None
    cost: Cost = Field(default_factory=Cost)
    error: str | None = None
    redacted: bool = False
    kind: str = Field("request", description="'request', 'feedback' on another record, "
                      "'shadow' for a shadow pair (about the request `ref`), or 'retention' "
                      "for a re-anchor note")
    steps: list[dict[str, Any]] | None = Field(
        None, description="the thinking's steps (index, start, end, kind), for flags to name")
    ref: str | None = Field(None, description="the record this one is about (feedback)")
    feedback: dict[str, Any] | None = Field(
        None, description="a person's verdict on the answer or on one step of `ref`")
    shadow: dict[str, Any] | None = Field(
        None, description="the shadow pair a 'shadow' record holds (see kernel/pairs.py)")
    prev_hash: str = GENESIS
    hash: str = ""

    def content(self) -> dict[str, Any]:
        """Everything the hash covers: the record without its own hash. Fields added after
        the first records were written are left out while unset, so those records keep their
        hashes."""
        return hashed_content(self.model_dump())

    def sealed(self, prev_hash: str) -> tuple[TraceRecord, str]:
        """This record chained after `prev_hash`, and the canonical JSON it is stored as.

        One dump, and each field's value encoded once: the hashed content and the stored body
        are the same field texts joined in key order (the body adds `hash`, and the fields
        added later while null), which is byte for byte `canonical` of each (tested)."""
        body = self.model_dump()
        body["prev_hash"] = prev_hash
        texts = {key: _CANONICAL.encode(value) for key, value in body.items() if key != "hash"}
        digest = hashlib.sha256(
            _joined(texts, hashed_content(body)).encode("utf-8")).hexdigest()
        texts["hash"] = f'"{digest}"'
        sealed = self.model_copy(update={"prev_hash": prev_hash, "hash": digest})
        return sealed, _joined(texts, texts)


def _joined(texts: dict[str, str], keys: Iterable[str]) -> str:
    """The canonical JSON object whose `keys` have these canonical value `texts`."""
    encode = _CANONICAL.encode
    return "{" + ",".join(f"{encode(key)}:{texts[key]}" for key in sorted(keys)) + "}"


def hashed_content(body: dict[str, Any]) -> dict[str, Any]:
    """What a stored body's hash covers: the body without `hash`, and without the fields added
    after the first records were written while they are null (so those records keep their
    hashes). `verify` applies it to the stored body itself, never to a re-dumped model."""
    return {key: value for key, value in body.items()
            if key != "hash" and not (key in _ADDED_LATER and value is None)}


def canonical(value: Any) -> str:
    """The one text a value is stored and hashed as (format 1, fixed since the first record):
    keys sorted, no whitespace, non-ASCII kept as UTF-8 (`ensure_ascii=False`), floats as
    Python's shortest round-trip repr. A future change would add a format key to the body whose
    absence means 1, so records written before it keep verifying."""
    return _CANONICAL.encode(value)


#: The encoder `canonical` is (json.dumps with these options, built once rather than per call).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"duplicate JSON key {key!r}")
        seen[key] = value
    return seen


def strict_json(text: str) -> Any:
    """JSON with duplicate keys refused: two readers must never see two different values."""
    return json.loads(text, object_pairs_hook=_unique_keys)


def parse_canonical(text: str) -> dict[str, Any]:
    """A stored body: an object without duplicate keys, written exactly in canonical form.

    Fast path: a text with a duplicated key can never equal the canonical form of what it
    parses to (which holds each key once), so one C-speed parse and one comparison settle the
    usual case; the strict parser runs only to name what is wrong."""
    value = json.loads(text)
    if isinstance(value, dict) and canonical(value) == text:
        return value
    value = strict_json(text)  # raises on a duplicate key, naming it
    if not isinstance(value, dict):
        raise ValueError(f"the body is a JSON {type(value).__name__}, not an object")
    raise ValueError("the body is not in canonical form (sorted keys, no whitespace)")


#: What the server's faces put before a record's id in their response ids (`chatcmpl-<id>`,
#: `msg_<id>`, `resp_<id>`; see server/request_id.py).
RESPONSE_ID_PREFIXES = ("chatcmpl-", "msg_", "resp_")


def record_id_of(named: str) -> str:
    """The record id in a request id or a response id: what `logs show` looks up, so an id
    from a client's log finds its record."""
    for prefix in RESPONSE_ID_PREFIXES:
        if named.startswith(prefix):
            return named.removeprefix(prefix)
    return named


def content_hash(content: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(content).encode("utf-8")).hexdigest()
