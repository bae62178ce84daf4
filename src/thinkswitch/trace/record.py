"""What one trace record holds, and its place in the hash chain."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

GENESIS = "0" * 64
_ADDED_LATER = ("steps", "ref", "feedback")


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
    kind: str = Field("request", description="'request', 'feedback' on another record, or "
                      "'retention' for a re-anchor note")
    steps: list[dict[str, Any]] | None = Field(
        None, description="the thinking's steps (index, start, end, kind), for flags to name")
    ref: str | None = Field(None, description="the record this one is about (feedback)")
    feedback: dict[str, Any] | None = Field(
        None, description="a person's verdict on the answer or on one step of `ref`")
    prev_hash: str = GENESIS
    hash: str = ""

    def content(self) -> dict[str, Any]:
        """Everything the hash covers: the record without its own hash. Fields added after
        the first records were written are left out while unset, so those records keep their
        hashes."""
        content = self.model_dump(exclude={"hash"})
        for name in _ADDED_LATER:
            if content[name] is None:
                del content[name]
        return content

    def sealed(self, prev_hash: str) -> TraceRecord:
        """This record chained after `prev_hash`."""
        linked = self.model_copy(update={"prev_hash": prev_hash, "hash": ""})
        return linked.model_copy(update={"hash": content_hash(linked.content())})


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(content: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(content).encode("utf-8")).hexdigest()
