"""Untrusted text (model output, request bodies, feedback comments, upstream errors) as the CLI
shows it: on a terminal, and in a spreadsheet.

A terminal obeys the control characters in what it prints: an escape sequence in an answer can
clear the screen, move the cursor to overwrite lines already shown (a forged `verify` result),
set the window title, hide text, or write the clipboard (OSC 52); a carriage return rewrites
its line. Rich also reads `[bold]`-style markup in plain strings: `[link=URL]` makes a
clickable hyperlink that shows other text, and an unmatched `[/bold]` stops the command with a
MarkupError. So every untrusted text is printed as a `rich.text.Text` (never parsed as markup)
with its control characters spelled out (`\\x1b`), line feeds and tabs kept.

A spreadsheet opening a CSV export runs a cell that starts with `=`, `+`, `-` or `@` as a
formula (`=HYPERLINK(...)`, DDE); such text cells get a leading `'` (OWASP's advice), which
spreadsheets show as text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

#: C0 controls but line feed and tab, DEL, and the C1 controls (U+0080-U+009F: 8-bit CSI and
#: OSC, which some terminals obey even in UTF-8), each as its escape.
_VISIBLE = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F, *range(0x80, 0xA0))
            if chr(code) not in "\n\t"}

#: How a text cell a spreadsheet would run as a formula begins (tab and carriage return
#: too: some spreadsheets drop them and read the rest).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def printable(text: str) -> str:
    """`text` with every control character but line feed and tab spelled out; a CRLF line
    end counts as a line feed."""
    return text.replace("\r\n", "\n").translate(_VISIBLE)


def shown(text: str, style: str = "") -> Text:
    """`text` for a rich console: no markup read, control characters spelled out."""
    from rich.text import Text  # here: the error line (`printable`) must not load rich

    return Text(printable(text), style=style)


def spreadsheet_cell(value: object) -> object:
    """A CSV cell: text a spreadsheet would run as a formula gets a leading `'`; numbers and
    everything else stay as they are (a negative number is a number, not a formula)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
