"""Closing a stream that may be a generator.

The switch's streams are iterators; when they are generators, closing one runs its `finally`
blocks at once (which is what stops an engine within a token), rather than whenever the
garbage collector gets to it. Plain iterators have nothing to close.
"""

from __future__ import annotations


def close_iterator(items: object) -> None:
    """Call `items.close()` if it has one (a generator), else do nothing."""
    close = getattr(items, "close", None)
    if callable(close):
        close()
