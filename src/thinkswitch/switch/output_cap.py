"""One cap on everything a request generates: thinking plus answer.

OpenAI counts reasoning inside `max_completion_tokens` / `max_output_tokens`, and Anthropic's
`max_tokens` bounds thinking and text together (with `budget_tokens < max_tokens`). The engines
take a thinking budget and, after it, an answer cap; a request with an output cap is split
between the two before generation, so the sum can never pass the cap:

- thinking keeps its budget when that budget is below the cap (the answer gets the rest);
- a budget at or above the cap (an effort level's budget under a small cap, say) is cut to
  the cap less a quarter of it (rounded down, at least 1 token), which the answer keeps;
- with thinking off the answer gets the whole cap.

The split is fixed before the first token, so thinking that ends early does not give its
unused tokens to the answer: the bound is kept at the price of some answer room.
"""

from __future__ import annotations

from thinkswitch.kernel.decision import Mode
from thinkswitch.kernel.errors import BudgetError


def thinking_share(budget: int, cap: int) -> int:
    """The thinking budget under an output cap of `cap` tokens (at least 1)."""
    if budget < cap:
        return budget
    return max(1, cap - max(1, cap // 4))


def answer_share(mode: Mode, budget: int | None, cap: int) -> int:
    """The answer's cap once thinking under `budget` has had its share of `cap`."""
    if mode == "off" or budget is None:
        return cap
    if cap < 2:
        raise BudgetError(f"an output cap of {cap} token leaves no room to think and answer")
    return cap - thinking_share(budget, cap)
