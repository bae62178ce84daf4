"""Shared fixtures: the real embedded engine on the packaged tiny model, loaded once; a real
PostgreSQL server for the trace store tests. Tests that use them are marked `llama` /
`postgres` here (the browser tests mark themselves `browser`), so that `make test-fast`
can leave them out."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from thinkswitch.settings import Settings


def _have_llama() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


@pytest.fixture(scope="session")
def llama_settings() -> Settings:
    if not _have_llama():
        pytest.skip("llama-cpp-python is not installed (run `make test`, which installs it)")
    return Settings(temperature=0.0, seed=7, n_ctx=2048)


@pytest.fixture(scope="session")
def llama_engine(llama_settings: Settings):  # type: ignore[no-untyped-def]
    from thinkswitch.engines.llama_cpp import LlamaCppEngine

    return LlamaCppEngine.from_settings(llama_settings)


@pytest.fixture(scope="session")
def postgres_server():  # type: ignore[no-untyped-def]
    """A real PostgreSQL server for the session (see tests/pg_server.py), or a skip."""
    from support.pg_server import start_server

    server = start_server()
    yield server
    server.stop()


@pytest.fixture
def pg_url(postgres_server) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A fresh, empty database on the session's server, dropped after the test."""
    with postgres_server.fresh_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a trace store lives: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "traces.sqlite")
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture(autouse=True, scope="session")
def _private_data_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Traces and bench results of the tests go to a temporary data home, not the user's.
    Subprocesses inherit it through the environment."""
    import os

    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("data-home"))


#: Fixtures whose users need the real embedded engine, or a PostgreSQL server.
LLAMA_FIXTURES = frozenset({"llama_engine", "llama_settings"})
POSTGRES_FIXTURES = frozenset({"postgres_server", "pg_url"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & LLAMA_FIXTURES:
            item.add_marker(pytest.mark.llama)
        callspec = getattr(item, "callspec", None)
        if fixtures & POSTGRES_FIXTURES or (
                callspec is not None and callspec.params.get("store_url") == "postgres"):
            item.add_marker(pytest.mark.postgres)
