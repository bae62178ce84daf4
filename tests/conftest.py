"""Shared fixtures: the real embedded engine on the packaged tiny model, loaded once."""

from __future__ import annotations

import importlib.util

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
