"""The commands of `thinkswitch`, declared as data: where each lives and its one-line help.

`thinkswitch --help` is printed from this table alone, and a command's module is imported only
when that command runs (or its own `--help` is asked), so a command pays for its own imports
only (no numpy for `ask`, no server for `logs`). A test checks each line against the command.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class CommandEntry:
    """A command: the module and attribute that define it (a function or a Typer group)."""

    module: str
    attribute: str
    help: str


COMMANDS: Mapping[str, CommandEntry] = MappingProxyType({
    "ask": CommandEntry("thinkswitch.cli.ask_cmd", "ask",
                        "Answer QUESTION, streaming the thinking (dimmed) and then the answer."),
    "engines": CommandEntry("thinkswitch.cli.engines_cmd", "engines",
                            "List the engines and the dialects (how each model family is told "
                            "to think)."),
    "serve": CommandEntry("thinkswitch.cli.serve_cmd", "serve",
                          "Serve /v1/chat/completions (streaming and not), /v1/models and "
                          "/health."),
    "bench": CommandEntry("thinkswitch.cli.bench_cmd", "bench",
                          "Run SUITES under each mode; report accuracy against tokens, as "
                          "tables and plots."),
    "triage": CommandEntry("thinkswitch.cli.triage_group", "triage_app",
                           "Train, evaluate and explain triage."),
    "logs": CommandEntry("thinkswitch.cli.logs_cmd", "logs_app",
                         "Query, export and verify the trace store."),
    "config": CommandEntry("thinkswitch.cli.config_cmd", "config_app",
                           "Check or show a configuration file (TOML or YAML)."),
})

SUMMARY = "A light switch for LLM reasoning: off, on under a budget, or auto."


def top_help() -> str:
    """`thinkswitch --help`, from the table (no command module is imported)."""
    width = max(len(name) for name in COMMANDS)
    rows = "\n".join(f"  {name.ljust(width)}  {entry.help}" for name, entry in COMMANDS.items())
    return (f"Usage: thinkswitch [OPTIONS] COMMAND [ARGS]...\n\n  {SUMMARY}\n\n"
            f"Options:\n  --help  Show this message and exit.\n\nCommands:\n{rows}\n\n"
            "`thinkswitch COMMAND --help` shows a command's options.")
