"""The `WHERE` clause of a filtered trace-store query, for `SqlTraceStore` and the pair index.

A query filters on the conditions whose value was given: a None value is no filter at all
(not `IS NULL`). The clause uses `?` placeholders; the values come back in the same order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def where_clause(filters: Iterable[tuple[str, object]]) -> tuple[str, list[Any]]:
    """(` WHERE c1 AND c2 ...` or "" when no value is given, the values of those conditions)
    for `(condition, value)` pairs such as `("caller = ?", caller)`."""
    given = [(condition, value) for condition, value in filters if value is not None]
    clause = f" WHERE {' AND '.join(condition for condition, _ in given)}" if given else ""
    return clause, [value for _, value in given]
