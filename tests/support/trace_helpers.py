"""Shared by the trace store tests and their child processes: realistic records and raw SQL."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from thinkswitch.trace.backends import is_postgres
from thinkswitch.trace.record import Cost, TraceRecord

WRITER = Path(__file__).with_name("trace_writer.py")


def sample_record(index: int, tag: str = "t", **changes: Any) -> TraceRecord:
    """A record with every field set, as the switch writes them."""
    mode = "on" if index % 2 else "off"
    fields: dict[str, Any] = {
        "caller": f"key-{tag}",
        "messages": [{"role": "system", "content": "Be brief."},
                     {"role": "user", "content": f"[{tag}-{index}] How many legs do 3 spiders "
                      "have? Ünïcödé 数学 ✓ 🕷️ \"quoted\" \\ back\nslash"}],
        "decision": {"requested": "auto", "mode": mode, "budget": 256 if mode == "on" else None,
                     "policy": "rules" if index % 3 else "learned@v1", "score": index / 1000,
                     "reason": f"cue {index}"},
        "thinking": ("3 spiders × 8 legs = 24. " * 40) if mode == "on" else "",
        "answer": f"24 ({tag}-{index})",
        "usage": {"prompt_tokens": 30 + index, "thinking_tokens": 250 if mode == "on" else 0,
                  "answer_tokens": 4},
        "timings": {"ttft_s": 0.01 * index, "first_answer_s": None, "total_s": 0.5 + index},
        "engine": "scripted",
        "model": "scripted-model",
        "finish_reason": "stop",
        "cost": Cost(input=1.5e-5, output=2e-6, thinking=0.000123),
    }
    fields.update(changes)
    return TraceRecord(**fields)


def raw_sql(url: str, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement on the store's database behind its back (`?` placeholders)."""
    if is_postgres(url):
        import psycopg

        with psycopg.connect(url, autocommit=True) as connection:
            cursor = connection.execute(statement.replace("?", "%s"), params)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []
    connection = sqlite3.connect(url, isolation_level=None)
    try:
        return connection.execute(statement, params).fetchall()
    finally:
        connection.close()


def writer_command(url: str, count: int, tag: str, wait: bool = False,
                   pause: float = 0.0, sign: tuple[Path, int] | None = None) -> list[str]:
    """A child that appends `count` records (0: until killed), printing each id once stored;
    `sign`: (key file, every N records) makes it sign checkpoints."""
    return [sys.executable, str(WRITER), url, str(count), tag, *(["--wait"] if wait else []),
            "--pause", str(pause), *(["--sign", str(sign[0]), str(sign[1])] if sign else [])]


def backdated(index: int, days: float) -> TraceRecord:
    return sample_record(index, "old", created_at=time.time() - days * 86400)


def sha256_of(body: dict[str, object]) -> str:
    """The attacker's own SHA-256 of a body, written from the published format (README), not
    our code: the body without `hash` and without the later fields while they are null."""
    content = {key: value for key, value in body.items() if key != "hash"
               and not (key in ("steps", "ref", "feedback", "shadow") and value is None)}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
