"""Run a command with some host files replaced, for it alone: a private mount namespace in
which each target path shows another file. The sandbox finds bwrap only in the system's
directories (never through PATH), so a missing or failing bwrap is shown this way."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path


def bind_over(replacements: Mapping[Path, Path]) -> list[str]:
    """The command prefix: `unshare --mount` as root (else in a user namespace mapping us to
    ourselves, so we are not root inside), bind-mounting each source over its target."""
    mounts = " && ".join(f"mount --bind {shlex.quote(str(source))} {shlex.quote(str(target))}"
                         for target, source in replacements.items())
    namespaces = ["--mount"] if os.geteuid() == 0 else ["--map-current-user", "--mount"]
    return ["unshare", *namespaces, "sh", "-c", f'{mounts} && exec "$@"', "bind_over"]
