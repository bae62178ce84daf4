"""The command line imports only what a command uses: behaviour, not timing (bench/startup.py
times it)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from thinkswitch.cli.app import load_command
from thinkswitch.cli.commands import COMMANDS, top_help

HEAVY = ("numpy", "pydantic", "pydantic_settings", "thinkswitch.bench", "typer", "rich",
         "thinkswitch.switch", "thinkswitch.triage")


def loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running `code`."""
    probe = f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                         text=True).stdout
    return set(out.split())


def test_importing_the_cli_loads_no_heavy_package() -> None:
    loaded = loaded_after("import thinkswitch.cli.app")
    assert "thinkswitch.cli.app" in loaded  # the probe does see what it imports
    assert {name for name in loaded if name.split(".")[0] in HEAVY or
            any(name == heavy or name.startswith(heavy + ".") for heavy in HEAVY)} == set()


def test_ask_off_loads_no_policy_numpy_or_bench(tmp_path: pytest.TempPathFactory) -> None:
    code = ("import os, sys\n"
            f"os.environ['THINKSWITCH_TRACE_DB'] = {str(tmp_path / 't.db')!r}\n"
            "from thinkswitch.cli.app import main\n"
            "try:\n    main(['ask', '--think', 'off', '--engine', 'instant', 'hi'])\n"
            "except SystemExit as stop:\n    assert not stop.code, stop.code\n")
    loaded = loaded_after(code)
    assert "thinkswitch.switch.pipeline" in loaded  # it did answer
    for heavy in ("numpy", "thinkswitch.bench", "thinkswitch.triage.learned",
                  "thinkswitch.server"):
        assert heavy not in loaded, heavy


def test_top_help_lists_every_command_with_its_own_help() -> None:
    text = top_help()
    for name, entry in COMMANDS.items():
        assert f"  {name}" in text
        assert entry.help in text


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_help_line_is_the_commands_own(name: str) -> None:
    app = load_command(name)
    single = app.registered_commands[0] if len(app.registered_commands) == 1 else None
    if single is not None and single.name == name and single.callback is not None:
        own = (single.callback.__doc__ or "").strip().splitlines()[0]  # a command function
    else:
        own = str(app.info.help)  # a group of commands
    assert own == COMMANDS[name].help


def test_help_and_unknown_command_from_the_shell() -> None:
    ok = subprocess.run([sys.executable, "-m", "thinkswitch", "--help"], capture_output=True,
                        text=True)
    assert ok.returncode == 0 and "ask" in ok.stdout and "Commands:" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "thinkswitch", "nope"], capture_output=True,
                         text=True)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "thinkswitch: usage error: No such command 'nope' (commands: "
        + ", ".join(COMMANDS) + ")."]
