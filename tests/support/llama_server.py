"""The OpenAI/Anthropic server in front of the embedded llama.cpp engine, once per module
that imports its fixture (`from support.llama_server import QUESTION, server`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.live_server import live_server
from thinkswitch.engines.llama_cpp import LlamaCppEngine
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.trace.backends import open_store
from thinkswitch.trace.recorder import Recorder
from thinkswitch.triage.rules import RulesPolicy

QUESTION = "Tom has 3 boxes with 4 apples in each box. How many apples does Tom have?"


@pytest.fixture(scope="module")
def server(llama_engine: LlamaCppEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[str, Path]]:
    from thinkswitch.server.app import create_app

    db = tmp_path_factory.mktemp("server") / "traces.sqlite"
    settings = Settings(temperature=0.0, n_ctx=2048, answer_max_tokens=32)
    switch = Switch(SwitchParts(llama_engine, get_dialect("prompted"), RulesPolicy(), settings,
                                Recorder(open_store(db))))
    with live_server(create_app(switch)) as root:
        yield f"{root}/v1", db
