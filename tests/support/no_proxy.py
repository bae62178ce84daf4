"""A fixture for tests that call a server on 127.0.0.1 with httpx's environment defaults."""

from __future__ import annotations

import pytest


@pytest.fixture
def without_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """No environment proxy: calls go straight to the server."""
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
