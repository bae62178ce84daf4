"""Redaction: inputs and traces become salted hashes plus lengths; decisions, usage and cost
are kept. The salt is the store's own (kept in the store), so equal texts can still be matched
by someone holding the store, while the texts themselves are not in it."""

from __future__ import annotations

import hashlib
from typing import Any

from thinkswitch.trace.record import TraceRecord, canonical


def fingerprint(text: str, salt: str) -> dict[str, Any]:
    digest = hashlib.sha256((salt + text).encode("utf-8")).hexdigest()
    return {"sha256": digest, "length": len(text)}


def redact(record: TraceRecord, salt: str) -> TraceRecord:
    messages = [
        {"role": message.get("role", ""), "content": fingerprint(str(message.get("content", "")),
                                                                 salt)}
        for message in record.messages
    ]
    return record.model_copy(update={"messages": messages,
                                     "thinking": _hidden(record.thinking, salt),
                                     "answer": _hidden(record.answer, salt), "redacted": True})


def redact_feedback(record: TraceRecord, salt: str) -> TraceRecord:
    """A feedback record with its comment and correction as fingerprints; the verdict and the
    step stay, since they are what training and stats read."""
    feedback = dict(record.feedback or {})
    for field in ("comment", "correction"):
        if isinstance(feedback.get(field), str):
            feedback[field] = fingerprint(feedback[field], salt)
    return record.model_copy(update={"feedback": feedback, "redacted": True})


def _hidden(value: str | dict[str, Any], salt: str) -> dict[str, Any]:
    """A fingerprint of a text, or of a structured answer (tool calls) as canonical JSON."""
    if isinstance(value, dict):
        if set(value) == {"sha256", "length"}:  # already a fingerprint
            return value
        return fingerprint(canonical(value), salt)
    return fingerprint(value, salt)
