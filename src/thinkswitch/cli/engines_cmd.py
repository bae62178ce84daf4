"""`thinkswitch engines`: the engines and the dialects."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from thinkswitch.engines.registry import engine_factories
from thinkswitch.thinking.dialects import DIALECTS


def engines() -> None:
    """List the engines and the dialects (how each model family is told to think)."""
    console = Console()
    table = Table(title="engines")
    table.add_column("name")
    table.add_column("what it runs")
    for name, (_, description) in sorted(engine_factories().items()):
        table.add_row(name, description)
    console.print(table)
    dialects = Table(title="dialects")
    dialects.add_column("name")
    dialects.add_column("markers")
    dialects.add_column("embedded engine")
    for name, dialect in sorted(DIALECTS.items()):
        markers = f"{dialect.parser.start} … {dialect.parser.end}"
        dialects.add_row(name, markers, "yes" if dialect.local else "no (server-side)")
    console.print(dialects)
