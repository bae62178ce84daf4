"""`.env` files as docker-compose reads them (KEY=value lines, # comments)."""

from __future__ import annotations

from pathlib import Path


def env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines()
             if line.strip() and not line.startswith("#"))
    return {key: value for key, value in pairs}
