"""Caller ids keyed with the server's secret: not guessable from a copy of the database, stable
across restarts (the secret is kept in a 0600 file), and a key still reads its records written
under the old unsalted ids."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import httpx
import pytest
from support.live_server import live_server

from thinkswitch.engines.instant import InstantEngine
from thinkswitch.kernel.errors import UsageError
from thinkswitch.server.admission import ApiKeys, caller_id_secret
from thinkswitch.server.app import create_app
from thinkswitch.server.secret import load_or_create_secret
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.trace.backends import open_store
from thinkswitch.trace.record import TraceRecord
from thinkswitch.trace.recorder import Recorder
from thinkswitch.triage.rules import RulesPolicy

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def unsalted(key: str) -> str:
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def test_ids_depend_on_the_secret_and_are_not_the_unsalted_hash() -> None:
    one = ApiKeys(["alice"], caller_id_secret(b"a" * 32))
    other = ApiKeys(["alice"], caller_id_secret(b"b" * 32))
    ident = one.identify("alice")
    assert ident is not None and ident == one.identify("alice")
    assert ident[0] != unsalted("alice") and ident[0].startswith("key-")
    assert ident[1] == (unsalted("alice"),)
    other_ident = other.identify("alice")
    assert other_ident is not None and other_ident[0] != ident[0]
    assert one.identify("mallory") is None and one.identify("ålice") is None


def test_the_secret_file_is_made_once_with_0600(tmp_path: Path) -> None:
    path = tmp_path / "state" / "server-secret"
    first = load_or_create_secret(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32 and load_or_create_secret(path) == first
    os.chmod(path, 0o644)
    with pytest.raises(UsageError, match="readable by other users"):
        load_or_create_secret(path)


def test_records_are_keyed_and_old_records_stay_readable(tmp_path: Path) -> None:
    store = open_store(tmp_path / "traces.sqlite")
    old = store.append(TraceRecord(caller=unsalted("alice-key"), answer="from before",
                                   messages=[{"role": "user", "content": "old"}]))
    store.append(TraceRecord(caller=unsalted("bob-key"), answer="bob's"))
    switch = Switch(SwitchParts(InstantEngine(), get_dialect("prompted"), RulesPolicy(), Settings(),
                                Recorder(store)))
    alice = {"x-api-key": "alice-key"}
    app = create_app(switch, api_keys=["alice-key", "bob-key"], signing_key=b"s" * 32)
    with live_server(app) as root:
        new_id = httpx.post(f"{root}/v1/chat/completions", json=BODY,
                            headers=alice).json()["thinkswitch"]["trace_id"]
        rows = httpx.get(f"{root}/v1/traces", headers=alice).json()["data"]
        assert [row["id"] for row in rows] == [new_id, old.id]
        assert httpx.get(f"{root}/v1/traces/{old.id}", headers=alice).status_code == 200
        page = httpx.get(f"{root}/v1/traces", headers=alice,
                         params={"limit": 1, "after": new_id}).json()
        assert [row["id"] for row in page["data"]] == [old.id]
    recorded = store.get(new_id)
    assert recorded is not None
    secret = caller_id_secret(b"s" * 32)
    assert recorded.caller == ApiKeys(["alice-key"], secret).caller_id(b"alice-key")
    assert recorded.caller != unsalted("alice-key")
    store.close()
