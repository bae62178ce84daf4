"""Shadow pairs with every correctness the store knows: recorded, and rated after the fact.

A pair is chained when its shadow run ends, with the correctness known then: the bench
grader's (the suite's reference answer or tests, for a request `thinkswitch bench` made) or the
replay engine's outcome table (both sides' recorded grades). A person's rating of the served
answer (`POST /v1/traces/{id}/feedback`, `{"verdict": "right" | "wrong"}`) usually comes later,
as a feedback record of its own; records are never rewritten, so the two are joined when the
pairs are read (`labelled_pairs`), by the request's id. The rule:

- the rating labels the served (live) side; where a grader or a table already knew that
  side's correctness, the recorded value stands (a rating fills only what is unknown); the
  latest rating of a request counts;
- the other side follows from the pair's judgement where it can: answers judged to agree share
  the verdict; a right served answer and one judged to differ from it make the other side
  wrong; a rating with a `correction` grades the other side against the correction (the same
  judges, `thinkswitch.shadow.agreement`); otherwise that side stays unknown, and the pair
  counts as labelled only for the side that is.

Training (`triage train --from-traces`), `triage report` and the `/metrics` gauges all read
pairs through here, so they agree on what is known.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from thinkswitch.kernel.pairs import ShadowPair
from thinkswitch.shadow.agreement import judge
from thinkswitch.trace.store import TraceStore


def answer_ratings(store: TraceStore, since: float | None = None) -> dict[str, dict[str, Any]]:
    """The latest rating of the answer (not of a step) per request id, from `since` on."""
    latest: dict[str, dict[str, Any]] = {}
    for record in store.related("feedback", since=since):  # oldest first: the last one wins
        body = record.feedback or {}
        if record.ref and body.get("step") is None and body.get("verdict") in ("right", "wrong"):
            latest[record.ref] = body
    return latest


def with_rating(pair: ShadowPair, rating: Mapping[str, Any]) -> ShadowPair:
    """`pair` with what one rating of its served answer says (see the module docstring)."""
    live, shadow = pair.live, pair.shadow
    rated = rating.get("verdict") == "right"
    live_correct = rated if live.correct is None else live.correct
    shadow_correct = shadow.correct
    if shadow_correct is None:
        shadow_correct = _other_side(pair, live_correct, rating.get("correction"))
    if live_correct == live.correct and shadow_correct == shadow.correct:
        return pair
    return pair.model_copy(update={
        "live": live.model_copy(update={"correct": live_correct}),
        "shadow": shadow.model_copy(update={"correct": shadow_correct}),
        "correctness_source": pair.correctness_source or "rating"})


def _other_side(pair: ShadowPair, live_correct: bool, correction: object) -> bool | None:
    agree = pair.agreement.agree
    if agree is True:
        return live_correct
    if agree is False and live_correct:
        return False
    if isinstance(correction, str) and correction.strip() and pair.shadow.answer:
        verdict = judge(pair.question or "", correction, pair.shadow.answer)
        return verdict.agreement.agree
    return None


def join_ratings(pairs: Sequence[ShadowPair],
                 ratings: Mapping[str, Mapping[str, Any]]) -> list[ShadowPair]:
    """Each pair with its request's rating, where it has one."""
    return [with_rating(pair, ratings[pair.request_id]) if pair.request_id in ratings else pair
            for pair in pairs]


def labelled_pairs(store: TraceStore, since: float | None = None, model: str | None = None,
                   policy_version: str | None = None, caller: str | None = None,
                   before: float | None = None) -> list[ShadowPair]:
    """`store.shadow_pairs(...)` with the ratings of their requests joined in."""
    pairs = store.shadow_pairs(since=since, model=model, policy_version=policy_version,
                               caller=caller, before=before)
    if not pairs:
        return pairs
    return join_ratings(pairs, answer_ratings(store, since))
