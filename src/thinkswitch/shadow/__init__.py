"""Shadow evaluation: for a random share of auto requests, the other side run after the user's
answer, off the critical path, judged, and recorded as a pair (see `thinkswitch.kernel.pairs`)."""
