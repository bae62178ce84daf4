"""The trace store: every answered request's decision, trace, answer, tokens, time and cost,
append-only and hash-chained so that a change, a removal or a reordering can be detected."""
