"""The server's secret when none is configured: generated once, kept in a 0600 file.

It signs thinking blocks and keys the caller ids in the trace store (see `admission`). A secret
made afresh per process would make both change on every restart: thinking passed back across a
restart would fail its signature, and a key's history would seem to vanish. Replicas must share
one secret (`server.signing_key_file` or `signing_key_env` in the config file).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from thinkswitch.kernel.errors import UsageError

SECRET_BYTES = 32


def load_or_create_secret(path: Path) -> bytes:
    """The secret in `path`, creating it (0600, exclusively) when it does not exist."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(secrets.token_hex(SECRET_BYTES) + "\n")
    return _read(path)


def _read(path: Path) -> bytes:
    if path.stat().st_mode & 0o077:
        raise UsageError(f"the server secret {path} is readable by other users; "
                         f"run `chmod 600 {path}`")
    secret = path.read_bytes().strip()
    if len(secret) < SECRET_BYTES:
        raise UsageError(f"the server secret {path} is shorter than {SECRET_BYTES} bytes; "
                         "delete it to have a new one made")
    return secret
