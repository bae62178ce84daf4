"""A directory every uid may enter: as root the sandbox's bubblewrap runs as uid 65534, which
cannot reach pytest's private `tmp_path` (under a 0700 directory)."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def public_dir(prefix: str) -> Iterator[Path]:
    """A fresh 0755 directory directly under /tmp, owned by us, removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    try:
        directory.chmod(0o755)
        yield directory
    finally:
        shutil.rmtree(directory)
