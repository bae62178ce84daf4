"""The `.npz` files triage models are kept in: named arrays plus a JSON `header`, never
unpickled.

One reader and one writer for every model kind, so each refuses a damaged file the same way:
a truncated zip raises `zipfile.BadZipFile`, which is neither an OSError nor a ValueError, so
every failure to read is turned into a DataError here rather than caught piecemeal.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from thinkswitch.kernel.errors import DataError


def write_model_file(path: Path, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """`arrays` and `header` (as JSON) into a compressed `.npz` at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    encoded = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with path.open("wb") as handle:
        np.savez_compressed(handle, allow_pickle=False, **arrays, header=encoded)


def read_model_file(path: Path, damaged: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The header and the other arrays of the model file at `path`; DataError
    "`damaged`: reason" for a file that is not one (truncated, foreign, no header)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        header = json.loads(bytes(arrays.pop("header")).decode())
    except Exception as error:  # any damage: a bad zip, a missing key, a non-JSON header
        raise DataError(f"{damaged}: {error!r}") from None
    if not isinstance(header, dict):
        raise DataError(f"{damaged}: the header is not a JSON object")
    return header, arrays


def model_format(path: Path) -> str | None:
    """The `format` a model file's header names; None for a file that is not one."""
    try:
        header, _ = read_model_file(path, str(path))
    except DataError:
        return None
    return str(header.get("format"))
