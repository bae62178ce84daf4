"""The trace store's filter clause: only given values filter, in order, as placeholders."""

from __future__ import annotations

from thinkswitch.trace.sql_where import where_clause


def test_only_given_values_filter_in_their_order() -> None:
    clause, params = where_clause((("kind = ?", "feedback"), ("ref = ?", None),
                                   ("created_at >= ?", 0.0), ("caller = ?", "k1")))
    assert clause == " WHERE kind = ? AND created_at >= ? AND caller = ?"
    assert params == ["feedback", 0.0, "k1"]


def test_no_given_value_is_no_clause() -> None:
    assert where_clause((("mode = ?", None), ("policy = ?", None))) == ("", [])
