"""Bench results in SQLite: one row per (engine, model, suite, item, mode, policy).

Each item is committed as soon as it is graded, so an interrupted run keeps every finished
item and a repeated run skips them (unless `fresh`).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from thinkswitch.kernel.errors import DataError

SCHEMA = """
CREATE TABLE IF NOT EXISTS bench_results (
    engine TEXT NOT NULL, model TEXT NOT NULL, suite TEXT NOT NULL, item_id TEXT NOT NULL,
    mode TEXT NOT NULL, policy TEXT NOT NULL,
    budget INTEGER, decided_mode TEXT, decision TEXT, answer TEXT, thinking TEXT,
    extracted TEXT, correct INTEGER NOT NULL, detail TEXT,
    prompt_tokens INTEGER, thinking_tokens INTEGER, answer_tokens INTEGER,
    ttft_s REAL, first_answer_s REAL, total_s REAL, error TEXT, created_at REAL,
    PRIMARY KEY (engine, model, suite, item_id, mode, policy)
)
"""


@dataclass(frozen=True, slots=True)
class RunKey:
    engine: str
    model: str
    suite: str
    mode: str
    policy: str


@dataclass(frozen=True, slots=True)
class ItemRecord:
    item_id: str
    budget: int | None
    decided_mode: str
    decision: str
    answer: str
    thinking: str
    extracted: str | None
    correct: bool
    detail: str
    prompt_tokens: int
    thinking_tokens: int
    answer_tokens: int
    ttft_s: float | None
    first_answer_s: float | None
    total_s: float
    error: str | None = None

    @property
    def thought(self) -> bool:
        return self.decided_mode == "on"

    @property
    def tokens(self) -> int:
        return self.thinking_tokens + self.answer_tokens

    def decision_dict(self) -> dict[str, object]:
        loaded: dict[str, object] = json.loads(self.decision) if self.decision else {}
        return loaded


class ResultStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(SCHEMA)
        except sqlite3.DatabaseError as error:
            raise DataError(f"cannot use {path} as a bench results database: {error}") from None
        self.path = path

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._db:
            yield self._db

    def load(self, key: RunKey) -> dict[str, ItemRecord]:
        rows = self._db.execute(
            "SELECT item_id, budget, decided_mode, decision, answer, thinking, extracted, "
            "correct, detail, prompt_tokens, thinking_tokens, answer_tokens, ttft_s, "
            "first_answer_s, total_s, error FROM bench_results WHERE engine=? AND model=? "
            "AND suite=? AND mode=? AND policy=?",
            (key.engine, key.model, key.suite, key.mode, key.policy),
        ).fetchall()
        return {row[0]: ItemRecord(row[0], row[1], row[2], row[3], row[4], row[5], row[6],
                                   bool(row[7]), *row[8:]) for row in rows}

    def save(self, key: RunKey, record: ItemRecord) -> None:
        values = asdict(record)
        columns = ["engine", "model", "suite", "mode", "policy", *values, "created_at"]
        params = [*asdict(key).values(), *values.values(), time.time()]
        params[columns.index("correct")] = int(record.correct)
        with self._tx() as db:
            db.execute(
                f"INSERT OR REPLACE INTO bench_results ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' for _ in columns)})",
                params,
            )

    def forget(self, key: RunKey) -> None:
        with self._tx() as db:
            db.execute(
                "DELETE FROM bench_results WHERE engine=? AND model=? AND suite=? AND mode=? "
                "AND policy=?",
                (key.engine, key.model, key.suite, key.mode, key.policy),
            )

    def close(self) -> None:
        self._db.close()
