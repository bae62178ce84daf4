"""The switch's lifecycle: `close()` closes the engine and the trace store, `thinkswitch ask`
and a server that owns its switch close it, and the faces get the store and the price table
from the switch's own properties rather than reaching into its recorder."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from thinkswitch.cli.app import main
from thinkswitch.engines.scripted import ScriptedEngine
from thinkswitch.kernel.errors import DataError
from thinkswitch.kernel.request import Request
from thinkswitch.kernel.result import Usage
from thinkswitch.server.app import create_app
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.trace.backends import open_store
from thinkswitch.trace.prices import Price, PriceTable
from thinkswitch.trace.recorder import Recorder
from thinkswitch.triage.rules import RulesPolicy


class ClosingEngine(ScriptedEngine):
    def __init__(self) -> None:
        super().__init__()
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def test_close_closes_the_engine_and_the_store(tmp_path: Path) -> None:
    engine = ClosingEngine()
    engine.enqueue(answer=["12"])
    store = open_store(str(tmp_path / "t.db"))
    prices = PriceTable({"scripted-model": Price(input=1.0, output=2.0)})
    switch = Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(), Settings(),
                                Recorder(store, prices)))
    assert switch.trace_store is store and switch.prices is prices
    switch.run(Request.build("q?", think="off"))
    switch.close()
    assert engine.closed == 1
    with pytest.raises(DataError, match="closed database"):
        store.records(limit=1)


def test_without_a_recorder_there_is_no_store_and_no_price() -> None:
    switch = Switch(SwitchParts(ClosingEngine(), get_dialect("prompted"), RulesPolicy(),
                                Settings()))
    assert switch.trace_store is None
    assert switch.prices.cost("scripted-model", Usage(prompt_tokens=10**6)).input == 0.0
    switch.close()


def test_ask_closes_the_switch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    closed: list[str] = []
    close = SwitchParts.close

    def counted(self: SwitchParts) -> None:
        closed.append(self.engine.name)
        close(self)

    monkeypatch.setattr(SwitchParts, "close", counted)
    main(["ask", "Say hello.", "--think", "off", "--engine", "instant",
          "--db", str(tmp_path / "t.db")])
    assert closed == ["instant"]
    assert capsys.readouterr().out.strip()


def test_a_server_that_owns_its_switch_closes_it_on_shutdown(tmp_path: Path) -> None:
    engine = ClosingEngine()
    store = open_store(str(tmp_path / "t.db"))
    switch = Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(), Settings(),
                                Recorder(store)))
    with TestClient(create_app(switch)) as client:
        assert client.get("/v1/traces").status_code == 200
    assert engine.closed == 0  # a borrowed switch is left open
    with TestClient(create_app(switch, owns_switch=True)) as client:
        assert client.get("/v1/traces").json()["data"] == []
    assert engine.closed == 1
