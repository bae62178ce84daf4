"""Run a scenario of tests/js/clients.mjs (the official `openai` and `@anthropic-ai/sdk` npm
packages) against a server, and read back what the SDK handed the script as JSON.

`make setup` installs the packages (`npm ci` in tests/js). Without Node.js or the packages the
tests skip with the reason, unless THINKSWITCH_REQUIRE_NODE=1 (set by `make test` as root,
which installs them) makes that a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

JS = Path(__file__).resolve().parent.parent / "js"
SCRIPT = JS / "clients.mjs"
PACKAGES = ("openai", "@anthropic-ai/sdk")


def node_problem() -> str | None:
    """Why the JavaScript clients cannot run here, or None."""
    if shutil.which("node") is None:
        return "Node.js (`node`) is not installed"
    missing = [name for name in PACKAGES if not (JS / "node_modules" / name).is_dir()]
    if missing:
        return f"{', '.join(missing)} not installed in {JS} (run `make setup`)"
    return None


def skip_without_node() -> None:
    problem = node_problem()
    if problem is None:
        return
    if os.environ.get("THINKSWITCH_REQUIRE_NODE") == "1":
        pytest.fail(f"the JavaScript client tests must run here (THINKSWITCH_REQUIRE_NODE=1): "
                    f"{problem}")
    pytest.skip(f"the JavaScript client tests cannot run: {problem}")


def run_scenario(name: str, root: str, key: str, timeout_s: float = 60.0,
                 **env: str) -> dict[str, Any]:
    """What scenario `name` saw against the server at `root`, presenting API key `key`;
    `env` adds variables for the script. The script failing fails the test with its stderr."""
    skip_without_node()
    run = subprocess.run(
        ["nice", "-n", "10", "node", str(SCRIPT), name], capture_output=True, text=True,
        timeout=timeout_s, cwd=JS,
        env={**os.environ, "THINKSWITCH_URL": root, "THINKSWITCH_KEY": key, **env})
    if run.returncode != 0:
        pytest.fail(f"node scenario {name!r} failed ({run.returncode}):\n{run.stderr}")
    seen: dict[str, Any] = json.loads(run.stdout)
    return seen
