"""A policy's score for every question of a paired outcome table: what its curve, its
calibration and its evaluation are computed from."""

from __future__ import annotations

from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.outcomes.paired import PairedTable
from thinkswitch.triage.base import TriagePolicy, decide_alone


def policy_scores(policy: TriagePolicy, table: PairedTable, budget: int = 1024) -> list[float]:
    """The policy's score for each question; a question without text scores 0."""
    scores = []
    for item in table.items:
        if not item.question:
            scores.append(0.0)
            continue
        decision = decide_alone(policy, (ChatMessage(role="user", content=item.question),), budget)
        fallback = float(decision.mode == "on")
        scores.append(fallback if decision.score is None else decision.score)
    return scores
