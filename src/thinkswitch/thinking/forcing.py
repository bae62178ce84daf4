"""Budget forcing: one mechanism that holds thinking to its limits and always gets an answer.

Three moments decide what happens next, the same for every engine:

- **cut**: the thinking reaches the budget while the model is still thinking. The thinking is
  closed with the dialect's end marker and the model goes on for the answer (finish `budget`).
- **wait**: the model closes its thinking before `min_thinking`. What followed the close is
  dropped, `wait_text` ("Wait,", as in s1) is appended to the trace and the model thinks on.
- **close**: the model ends (end of sequence) while still thinking, or right after closing its
  thinking with nothing written, so there would be no answer. Below `min_thinking` that is a
  wait; otherwise the thinking is closed (if the model did not) and the answer asked for
  exactly as at a cut (finish `thinking_ended`).

How an engine goes on is its own business, behind `ForcingHost`: the embedded engine appends
text to the tokens it has and continues from the same KV cache; a server engine makes a new call
that carries the trace so far. An engine's pass (one stretch of generation) asks this module
at every token whether to stop (`cut_now`, `closed_early`) and returns how it ended;
`run_forced` strings the passes together.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

from thinkswitch.kernel.decision import Mode
from thinkswitch.kernel.result import FinishReason

Event = TypeVar("Event")
Event_co = TypeVar("Event_co", covariant=True)

#: Why the answer was asked for by budget forcing rather than written after the model's own close.
ForcedReason = Literal["budget", "thinking_ended"]
#: How one pass of generation ended: the model finished (or hit a length cap); the thinking
#: reached the budget; the model closed its thinking before `min_thinking`; or the model ended
#: with thinking and no answer (inside its thinking, or right after closing it).
PassEnd = Literal["done", "cut", "early", "no_answer"]


class ForcingHost(Protocol[Event_co]):
    """What an engine gives budget forcing: ways to start a pass, and its thinking count.

    Each method returns a generator that yields the pass's events and returns its `PassEnd`.
    """

    @property
    def thinking_tokens(self) -> int:
        """Thinking tokens so far, in the engine's own unit (model tokens or server deltas)."""

    def think(self) -> Generator[Event_co, None, PassEnd]:
        """A thinking pass: the first, or one that goes on from the trace so far."""

    def extend(self, text: str) -> Event_co:
        """Append injected thinking text (the wait text) to the trace, counting it, so the
        next pass goes on from there; return the event that shows it to the caller."""

    def answer(self, reason: ForcedReason) -> Generator[Event_co, None, PassEnd]:
        """Close the thinking (unless the model did) and generate the answer, a pass that does
        not think and does not end before some answer text."""


@dataclass
class BudgetForcing:
    """The decisions of budget forcing for one request, and what was forced.

    `waits` bounds how many early ends are replaced by the wait text (None: no bound; 0: never,
    for an engine that cannot push a model back into thinking).
    """

    thinking_on: bool
    budget: int | None
    min_thinking: int = 0
    waits: int | None = None
    forced: ForcedReason | None = None

    @classmethod
    def for_plan(cls, mode: Mode, budget: int | None, min_thinking: int, *,
                 waits: int | None = None) -> BudgetForcing:
        """Forcing for a thinking plan's mode and limits (all off when the mode is off)."""
        on = mode == "on"
        return cls(thinking_on=on, budget=budget if on else None,
                   min_thinking=min_thinking if on else 0, waits=waits)

    @property
    def can_wait(self) -> bool:
        return self.thinking_on and self.min_thinking > 0 and self.waits != 0

    def cut_now(self, thinking_tokens: int, in_thinking: bool) -> bool:
        """Whether to cut here: still thinking, and the budget is spent."""
        return (self.thinking_on and in_thinking and self.budget is not None
                and thinking_tokens >= self.budget)

    def closed_early(self, thinking_tokens: int) -> bool:
        """Whether a close of the thinking just seen comes too early (and can be undone)."""
        return self.can_wait and thinking_tokens < self.min_thinking

    def finish(self, finish: FinishReason) -> FinishReason:
        """The request's finish reason: a forced answer that ended normally says why it was
        forced; a length cap or tool calls say so themselves."""
        return self.forced if self.forced is not None and finish == "stop" else finish

    def take_wait(self, thinking_tokens: int) -> bool:
        """Whether an end of thinking at `thinking_tokens` becomes a wait (using one up)."""
        if not self.closed_early(thinking_tokens):
            return False
        if self.waits is not None:
            self.waits -= 1
        return True


def run_forced(
    host: ForcingHost[Event], forcing: BudgetForcing, wait_text: str
) -> Generator[Event, None, None]:
    """Run a request's passes: think, wait and think on while the thinking ends too early,
    then cut or close and ask for the answer where the thinking did not end by itself."""
    end = yield from host.think()
    while end in ("early", "no_answer") and forcing.take_wait(host.thinking_tokens):
        yield host.extend(wait_text)
        if forcing.cut_now(host.thinking_tokens, in_thinking=True):
            end = "cut"
            break
        end = yield from host.think()
    if end in ("cut", "no_answer"):
        forcing.forced = "budget" if end == "cut" else "thinking_ended"
        yield from host.answer(forcing.forced)
