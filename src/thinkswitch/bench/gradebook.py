"""Which bench item a request asked, so that a shadow pair can be graded like the bench.

`thinkswitch bench --shadow-rate R` runs the other side of drawn auto requests (as a server
does) and grades both sides with the suite's own checker: the reference answer, or the tests of
a code item. The bench registers each item here before asking it; the shadow runner looks the
request's question up (`grading`) and, when it is a bench item, judges by the checker instead
of by agreement alone.
"""

from __future__ import annotations

import threading

from thinkswitch.bench.items import Checker, Item


class GradeBook:
    """Bench items by their prompt (the exact user turn sent), with their suite's checker."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[Item, Checker]] = {}
        self._lock = threading.Lock()

    def register(self, item: Item, checker: Checker) -> None:
        with self._lock:
            self._items[item.prompt] = (item, checker)

    def grading(self, question: str) -> tuple[Item, Checker] | None:
        """The item asked with exactly `question` and its checker, or None."""
        with self._lock:
            return self._items.get(question)
