"""Hostile text shown by the CLI: what a remote caller or a model wrote reaches an operator's
terminal (`logs show`, `logs list`, `ask`) and spreadsheet (`logs export --format csv`,
`logs feedback --format csv`). Real uvicorn on 127.0.0.1, the official SDK, real SQLite, the
real CLI entry point; the scripted upstream echoes the question into the model's answer.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from support.cli import thinkswitch
from support.live_server import live_server
from support.scripted_upstream import Script, create_upstream

from thinkswitch.engines.scripted import ScriptedEngine
from thinkswitch.server.app import create_app
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.trace.backends import open_store
from thinkswitch.trace.recorder import Recorder
from thinkswitch.triage.rules import RulesPolicy

#: Clear the screen, home the cursor, a fake result line, a hidden-text switch, OSC 52 (write
#: the clipboard), an OSC 8 hyperlink, an 8-bit CSI, a carriage return and Rich markup.
ATTACK = ("\x1b[2J\x1b[H\x1b[32mverified: all 10 records\x1b[0m\x1b[8m hidden"
          "\x1b]52;c;cm0gLXJmIH4=\x07\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\"
          "\x9b31m red\rover [/bold] [link=https://evil.example]docs[/link]")
FORMULA = "=HYPERLINK(\"https://evil.example\",\"open\")"


def no_terminal_control(text: str) -> None:
    bad = sorted({f"{ord(c):#04x}" for c in text if (ord(c) < 0x20 and c not in "\n\t")
                  or 0x7F <= ord(c) < 0xA0})
    assert not bad, f"control characters reached the terminal: {bad}"


@pytest.fixture(scope="module")
def store_with_hostile_records(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A store holding one request whose question, thinking and answer carry ATTACK, one whose
    question is a formula, and feedback with ATTACK and a formula as comments."""
    db = str(tmp_path_factory.mktemp("hostile") / "traces.db")
    engine = ScriptedEngine()
    engine.enqueue(thinking=[ATTACK], answer=[ATTACK])
    engine.enqueue(answer=[FORMULA])
    switch = Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(), Settings(),
                                Recorder(open_store(db))))
    with live_server(create_app(switch, owns_switch=True)) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused")
        first = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": ATTACK}], reasoning_effort="high")
        second = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": FORMULA}], reasoning_effort="none")
        for trace, comment in ((first, ATTACK), (second, FORMULA)):
            trace_id = trace.model_extra["thinkswitch"]["trace_id"]  # type: ignore[index]
            given = httpx.post(f"{url}/v1/traces/{trace_id}/feedback",
                               json={"verdict": "wrong", "comment": comment})
            assert given.status_code == 201, given.text
            stepped = httpx.post(f"{url}/v1/traces/{trace_id}/feedback",
                                 json={"step": 1, "verdict": "wrong", "comment": comment})
            assert stepped.status_code in (201, 400), stepped.text
    yield db


def _first_id(db: str) -> str:
    store = open_store(db)
    try:
        return next(record.id for _, record in store.chain()
                    if record.kind == "request" and "verified" in str(record.answer))
    finally:
        store.close()


def test_logs_show_prints_hostile_text_as_text(store_with_hostile_records: str) -> None:
    db = store_with_hostile_records
    shown = thinkswitch("logs", "show", _first_id(db), "--db", db)
    assert shown.returncode == 0, shown.stderr
    no_terminal_control(shown.stdout)
    # spelled out, and the markup shown as the text it is
    assert "\\x1b[2J" in shown.stdout and "\\x9b31m" in shown.stdout
    assert "[/bold]" in shown.stdout and "[link=https://evil.example]docs[/link]" in shown.stdout


def test_logs_list_prints_hostile_text_as_text(store_with_hostile_records: str) -> None:
    listed = thinkswitch("logs", "list", "--db", store_with_hostile_records)
    assert listed.returncode == 0, listed.stderr
    no_terminal_control(listed.stdout)
    assert "\\x1b" in listed.stdout
    counted = thinkswitch("logs", "stats", "--db", store_with_hostile_records)
    assert counted.returncode == 0, counted.stderr
    no_terminal_control(counted.stdout)


@pytest.mark.parametrize("command", [["logs", "export", "--format", "csv"],
                                     ["logs", "feedback", "--format", "csv"]])
def test_csv_exports_never_start_a_text_cell_with_a_formula(store_with_hostile_records: str,
                                                            command: list[str]) -> None:
    exported = thinkswitch(*command, "--db", store_with_hostile_records)
    assert exported.returncode == 0, exported.stderr
    cells = [cell for row in csv.reader(io.StringIO(exported.stdout)) for cell in row]
    assert "'" + FORMULA in cells  # kept, as text
    assert not [cell for cell in cells if cell.startswith(("=", "+", "@"))]
    assert not [cell for cell in cells if cell.startswith("-") and not _number(cell)]


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_ask_prints_a_hostile_answer_as_text(tmp_path: Path) -> None:
    """The model (here an upstream echoing the question) answers with escape sequences."""
    question = "\x1b]0;pwned\x07 \x1b[2J \x1b[1A\x1b[2K [/bold] [link=https://evil.example]x[/link]"
    with live_server(create_upstream(Script(tokens=4))) as upstream:
        asked = thinkswitch("ask", question, "--engine", "openai", "--base-url",
                            f"{upstream}/v1", "--think", "off", "--no-record")
    assert asked.returncode == 0, asked.stderr
    no_terminal_control(asked.stdout + asked.stderr)
    assert "\\x1b]0;pwned\\x07" in asked.stdout
    assert "[link=https://evil.example]x[/link]" in asked.stdout


def test_a_tampered_record_cannot_print_over_the_verify_verdict(
        store_with_hostile_records: str, tmp_path: Path) -> None:
    """Whoever can write the database (the trace log's threat) names a record so that, on a
    terminal, the failure line is erased and "chain intact" shows in its place."""
    copy = tmp_path / "tampered.db"
    with sqlite3.connect(store_with_hostile_records) as source, sqlite3.connect(copy) as target:
        source.backup(target)
        seq, body = target.execute("SELECT seq, body FROM traces ORDER BY seq").fetchone()
        forged = "x\x1b[1A\x1b[2K\rchain intact: 9 records verified\x1b[8m"
        target.execute("UPDATE traces SET body = ?, id = ? WHERE seq = ?",
                       (json.dumps({**json.loads(body), "id": forged}), forged, seq))
    verified = thinkswitch("logs", "verify", "--db", str(copy))
    assert verified.returncode == 1
    no_terminal_control(verified.stdout + verified.stderr)
    assert verified.stderr.startswith("thinkswitch: tampering detected: record x\\x1b[1A")
