"""The SQL of the shadow pair index (migration 0005_shadow_pairs), for `SqlTraceStore`.

A pair is a chained record of kind 'shadow' (`thinkswitch.kernel.pairs`); this table indexes it
by what the report and training filter on: window, model, policy version, caller. It holds no
content of its own (the chain covers it all), and `logs verify` checks it against the chain.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from thinkswitch.kernel.pairs import ShadowPair
from thinkswitch.trace.sql_where import where_clause

MIGRATION: tuple[str, tuple[str, ...]] = ("0005_shadow_pairs", (
    "CREATE TABLE shadow_pairs (trace_id TEXT PRIMARY KEY, request_id TEXT NOT NULL,"
    " created_at {real} NOT NULL, model TEXT NOT NULL, policy TEXT NOT NULL,"
    " caller TEXT NOT NULL)",
    "CREATE INDEX shadow_pairs_created ON shadow_pairs (created_at)",
    "CREATE INDEX shadow_pairs_request ON shadow_pairs (request_id)",
))
INSERT = ("INSERT INTO shadow_pairs (trace_id, request_id, created_at, model, policy, caller)"
          " VALUES (?, ?, ?, ?, ?, ?)")
ROWS = ("SELECT trace_id, request_id, created_at, model, policy, caller FROM shadow_pairs"
        " ORDER BY trace_id")
#: After a purge: index rows whose record is gone.
ORPHANS = "DELETE FROM shadow_pairs WHERE trace_id NOT IN (SELECT id FROM traces)"


def row(record_id: str, pair: ShadowPair) -> tuple[Any, ...]:
    """The index row of `pair`, chained as the record `record_id`."""
    return (record_id, pair.request_id, pair.created_at, pair.model, pair.policy, pair.caller)


def select(since: float | None, before: float | None, model: str | None,
           policy_version: str | None, caller: str | None) -> tuple[str, list[Any]]:
    """The query (with `?` placeholders) for the bodies of the pairs that match, oldest first."""
    where, params = where_clause((
        ("s.created_at >= ?", since), ("s.created_at < ?", before), ("s.model = ?", model),
        ("s.policy = ?", policy_version), ("s.caller = ?", caller)))
    return (f"SELECT t.body FROM shadow_pairs s JOIN traces t ON t.id = s.trace_id{where}"
            " ORDER BY t.seq", params)


def pairs(bodies: Sequence[tuple[Any, ...]]) -> list[ShadowPair]:
    """The pairs the record bodies hold (an index row whose record holds none is skipped)."""
    found = []
    for (body,) in bodies:
        shadow = json.loads(body).get("shadow")
        if shadow is not None:
            found.append(ShadowPair.model_validate(shadow))
    return found
