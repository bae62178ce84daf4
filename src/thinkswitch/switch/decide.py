"""Step 1, decide: off or on as the caller asked, else the triage policy's decision.

The budget is the caller's cap or the default; an empty question and a minimum above the cap
are refused here, before any policy or engine sees them. A probe-first policy gives only the
provisional decision its fast attempt runs under (see `thinkswitch.switch.probe`).
"""

from __future__ import annotations

from collections.abc import Iterator

from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.errors import BudgetError
from thinkswitch.kernel.events import SwitchEvent
from thinkswitch.kernel.request import Request
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.turn import Turn


def decision_for(request: Request, budget: int, parts: SwitchParts) -> Decision:
    """The caller's off/on, or the policy's decision in `auto`."""
    if request.think == "on" and request.min_thinking > budget:
        raise BudgetError(
            f"min_thinking {request.min_thinking} is larger than the budget {budget}"
        )
    if request.think == "off":
        return Decision(requested="off", mode="off", budget=None, policy="user",
                        reason="thinking switched off by the caller")
    if request.think == "on":
        return Decision(requested="on", mode="on", budget=budget, policy="user",
                        reason=f"thinking switched on by the caller, budget {budget}")
    return parts.policy.decide(request.messages, budget)


class Decide:
    name = "decide"

    def run(self, turn: Turn, parts: SwitchParts) -> Iterator[SwitchEvent]:
        turn.budget = parts.budget_for(turn.request)
        turn.decision = decision_for(turn.request, turn.budget, parts)
        yield from ()
