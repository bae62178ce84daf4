"""Budget forcing's decisions and its loop over passes, on a scripted host (the engine
boundary); the real engines plug into the same loop in test_llama_engine.py,
test_thinking_ended.py and test_openai_engine_mock.py."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

import pytest

from thinkswitch.thinking.forcing import BudgetForcing, ForcedReason, PassEnd, run_forced


@dataclass
class ScriptedHost:
    """Each thinking pass adds `tokens` thinking tokens and ends as scripted."""

    passes: list[tuple[int, PassEnd]]
    thinking_tokens: int = 0
    calls: list[str] = field(default_factory=list)

    def think(self) -> Generator[str, None, PassEnd]:
        self.calls.append("think")
        tokens, end = self.passes.pop(0)
        self.thinking_tokens += tokens
        yield f"thought {tokens}"
        return end

    def answer(self, reason: ForcedReason) -> Generator[str, None, PassEnd]:
        self.calls.append(f"answer({reason})")
        yield "answer"
        return "done"

    def extend(self, text: str) -> str:
        self.calls.append(f"extend({text})")
        self.thinking_tokens += 1  # the injected text counts
        return f"extend({text})"


def run(host: ScriptedHost, forcing: BudgetForcing) -> list[str]:
    return list(run_forced(host, forcing, "Wait,"))


def test_a_model_that_ends_by_itself_makes_one_pass() -> None:
    host = ScriptedHost([(10, "done")])
    forcing = BudgetForcing(thinking_on=True, budget=64)
    assert run(host, forcing) == ["thought 10"]
    assert forcing.forced is None
    assert forcing.finish("stop") == "stop"


def test_a_cut_asks_for_the_answer_and_says_budget() -> None:
    host = ScriptedHost([(64, "cut")])
    forcing = BudgetForcing(thinking_on=True, budget=64)
    assert run(host, forcing) == ["thought 64", "answer"]
    assert host.calls == ["think", "answer(budget)"]
    assert forcing.finish("stop") == "budget"
    assert forcing.finish("length") == "length"  # a cut-off answer says so


def test_ending_with_no_answer_closes_and_asks_for_the_answer() -> None:
    host = ScriptedHost([(12, "no_answer")])
    forcing = BudgetForcing(thinking_on=True, budget=64)
    assert run(host, forcing) == ["thought 12", "answer"]
    assert host.calls == ["think", "answer(thinking_ended)"]
    assert forcing.finish("stop") == "thinking_ended"


def test_an_early_close_waits_then_thinks_on() -> None:
    host = ScriptedHost([(3, "early"), (20, "done")])
    forcing = BudgetForcing(thinking_on=True, budget=64, min_thinking=10)
    assert run(host, forcing) == ["thought 3", "extend(Wait,)", "thought 20"]
    assert host.calls == ["think", "extend(Wait,)", "think"]
    assert forcing.finish("stop") == "stop"


def test_ending_with_no_answer_below_the_minimum_waits_first() -> None:
    host = ScriptedHost([(3, "no_answer"), (20, "no_answer")])
    forcing = BudgetForcing(thinking_on=True, budget=64, min_thinking=10)
    events = run(host, forcing)
    assert events == ["thought 3", "extend(Wait,)", "thought 20", "answer"]
    assert forcing.finish("stop") == "thinking_ended"


def test_a_wait_that_reaches_the_budget_is_a_cut() -> None:
    host = ScriptedHost([(7, "early")])
    forcing = BudgetForcing(thinking_on=True, budget=8, min_thinking=8)
    assert run(host, forcing) == ["thought 7", "extend(Wait,)", "answer"]
    assert forcing.forced == "budget"


def test_waits_are_bounded() -> None:
    host = ScriptedHost([(1, "no_answer"), (1, "no_answer"), (1, "no_answer")])
    forcing = BudgetForcing(thinking_on=True, budget=64, min_thinking=50, waits=2)
    events = run(host, forcing)
    assert events.count("extend(Wait,)") == 2
    assert host.calls[-1] == "answer(thinking_ended)"
    assert forcing.waits == 0


@pytest.mark.parametrize(
    ("thinking_tokens", "in_thinking", "cut"),
    [(63, True, False), (64, True, True), (80, False, False)],
)
def test_cut_only_while_thinking_at_the_budget(
    thinking_tokens: int, in_thinking: bool, cut: bool
) -> None:
    forcing = BudgetForcing.for_plan("on", 64, 0)
    assert forcing.cut_now(thinking_tokens, in_thinking) is cut


def test_off_never_forces() -> None:
    forcing = BudgetForcing.for_plan("off", 64, 10)
    assert not forcing.cut_now(1000, in_thinking=True)
    assert not forcing.closed_early(0)
    assert forcing.budget is None and forcing.min_thinking == 0


def test_no_wait_without_a_way_back_into_thinking() -> None:
    forcing = BudgetForcing.for_plan("on", 64, 10, waits=0)
    assert not forcing.closed_early(2)
    assert BudgetForcing.for_plan("on", 64, 10).closed_early(2)
