"""Each step of the switch's pipeline on its own (a `Turn`, the parts, a scripted engine at the
engine boundary), the after-answer hook, and the path of a streamed auto cascade request
through the layers. The whole path with real engines is in test_switch, test_triage_cascade,
test_trace_switch and the server tests."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from thinkswitch.engines.scripted import ScriptedEngine
from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.errors import BudgetError, UsageError
from thinkswitch.kernel.events import AnswerDelta, SwitchEvent, ThinkingDelta
from thinkswitch.kernel.request import Request
from thinkswitch.kernel.result import Result, Usage
from thinkswitch.settings import Settings
from thinkswitch.switch.decide import Decide
from thinkswitch.switch.degrade import Degrade
from thinkswitch.switch.generate import Generate
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import STEPS, Switch
from thinkswitch.switch.probe import ProbeFirstStep
from thinkswitch.switch.record import Record
from thinkswitch.switch.turn import Turn
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.trace.backends import open_store
from thinkswitch.trace.recorder import Recorder
from thinkswitch.triage.cascade import CascadePolicy
from thinkswitch.triage.rules import RulesPolicy

SURE = [math.log(0.95)] * 2
UNSURE = [math.log(0.1)] * 2
ON = Decision(requested="on", mode="on", budget=64, policy="user", reason="asked")


def parts(engine: ScriptedEngine | None = None, policy: Any = None,
          recorder: Recorder | None = None) -> SwitchParts:
    return SwitchParts(engine or ScriptedEngine(), get_dialect("prompted"),
                       policy or RulesPolicy(), Settings(default_budget=128), recorder)


def turn(question: str = "How many apples are 3 boxes of 4?", **options: Any) -> Turn:
    return Turn(Request.build(question, **options), "tester", time.perf_counter())


def run(step: Any, state: Turn, where: SwitchParts) -> list[SwitchEvent]:
    return list(step.run(state, where))


def test_the_pipeline_lists_its_steps_in_order() -> None:
    assert [step.name for step in STEPS] == [
        "decide", "degrade", "probe-first", "generate", "record"]


def test_decide_takes_the_callers_switch_or_asks_the_policy() -> None:
    state = turn(think="on", budget=64)
    assert run(Decide(), state, parts()) == []
    assert state.budget == 64 and state.decision is not None
    assert (state.decision.mode, state.decision.budget, state.decision.policy) == ("on", 64, "user")
    state = turn(think="auto")
    run(Decide(), state, parts())
    assert state.budget == 128 and state.decision is not None
    assert state.decision.policy == "rules" and state.decision.requested == "auto"


def test_decide_refuses_an_empty_question_and_a_minimum_above_the_cap() -> None:
    with pytest.raises(UsageError, match="empty"):
        run(Decide(), turn("   "), parts())
    with pytest.raises(BudgetError, match="min_thinking 100 is larger than the budget 50"):
        run(Decide(), turn(think="on", budget=50, min_thinking=100), parts())


def test_degrade_switches_off_thinking_that_would_miss_the_deadline() -> None:
    slow = turn(think="on", budget=1000, deadline_s=1.0)
    slow.decision = ON.model_copy(update={"budget": 1000})
    run(Degrade(), slow, parts())  # the prior speed, 20 tok/s: 50 s > 1 s
    assert slow.decision.mode == "off" and slow.decision.reason.startswith("deadline 1 s")
    relaxed = turn(think="on", budget=64)
    relaxed.decision = ON
    run(Degrade(), relaxed, parts())
    assert relaxed.decision == ON


def test_probe_first_is_skipped_for_a_policy_that_does_not_declare_it() -> None:
    engine = ScriptedEngine()
    state = turn()
    run(Decide(), state, parts(engine))
    before = state.decision
    assert run(ProbeFirstStep(), state, parts(engine)) == []
    assert state.decision == before and state.generation is None and engine.requests == []


@pytest.mark.parametrize(("logprobs", "mode"), [(SURE, "off"), (UNSURE, "on")])
def test_probe_first_decides_from_the_fast_attempt(logprobs: list[float], mode: str) -> None:
    engine = ScriptedEngine()
    engine.enqueue(answer=["12", "."], logprobs=logprobs, prompt_tokens=7)
    where = parts(engine, CascadePolicy(0.7))
    state = turn()
    run(Decide(), state, where)
    assert state.decision is not None and state.decision.reason == "probe"  # provisional
    run(ProbeFirstStep(), state, where)
    assert state.decision.mode == mode and state.decision.policy == "cascade"
    assert len(engine.requests) == 1 and engine.requests[0].logprobs is True
    if mode == "off":  # the fast answer is kept: replayed, its tokens counted by its own report
        assert state.replay is not None and state.generation is None
        assert state.spent == Usage(probe_tokens=2)
    else:  # the thinking run is prepared (and checked); the probe is paid for
        assert state.replay is None and state.generation is not None
        assert state.generation.plan.mode == "on" and state.generation.plan.budget == 128
        assert state.spent == Usage(prompt_tokens=7, answer_tokens=2, probe_tokens=2)


def test_generate_yields_the_decision_then_the_deltas_and_makes_the_result() -> None:
    engine = ScriptedEngine()
    engine.enqueue(thinking=["hm"], answer=["12"])
    state = turn(think="on", budget=64)
    state.decision = ON
    events = run(Generate(), state, parts(engine))
    assert events == [ON, ThinkingDelta("hm"), AnswerDelta("12")]
    assert state.result is not None and state.result.answer == "12"
    assert state.result.usage.thinking_tokens == 1 and engine.requests[0].plan.budget == 64


def test_generate_refuses_what_the_engine_cannot_serve_before_any_output() -> None:
    engine = ScriptedEngine()
    state = turn(think="off", options={"stop": ["x"]})
    state.decision = ON
    with pytest.raises(UsageError, match="'stop' is not supported"):
        run(Generate(), state, parts(engine))
    assert engine.requests == []


def test_record_appends_the_result_and_gives_it_the_trace_id(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "t.db"))
    engine = ScriptedEngine()
    engine.enqueue(answer=["12"])
    where = parts(engine, recorder=Recorder(store))
    state = turn(think="off")
    state.decision = ON.model_copy(update={"mode": "off", "budget": None})
    run(Generate(), state, where)
    assert state.result is not None and state.result.trace_id is None
    run(Record(), state, where)
    assert state.result.trace_id is not None
    assert store.get(state.result.trace_id).answer == "12"
    store.close()


class Remember:
    """An after-answer step that keeps what it was given."""

    name = "remember"

    def __init__(self, seen: list[Any]) -> None:
        self.seen = seen

    def __call__(self, request: Request, decision: Decision, result: Result) -> None:
        self.seen.append(("after", request.think, decision.mode, result.trace_id))


class Broken:
    name = "broken"

    def __call__(self, request: Request, decision: Decision, result: Result) -> None:
        raise RuntimeError("a bug in a hook")


def test_after_answer_steps_run_once_the_result_was_recorded_and_yielded(
        tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "t.db"))
    engine = ScriptedEngine()
    engine.enqueue(answer=["12"])
    seen: list[Any] = []
    switch = Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(), Settings(),
                                Recorder(store)), after_answer=[Broken(), Remember(seen)])
    for event in switch.stream(Request.build("q?", think="off")):
        seen.append(type(event).__name__)
    trace_id = store.records(limit=1)[0].id
    assert seen == ["Decision", "AnswerDelta", "Result", ("after", "off", "off", trace_id)]
    assert Switch(SwitchParts(ScriptedEngine(), get_dialect("prompted"), RulesPolicy(),
                              Settings())).after_answer == ()  # none by default
    store.close()


def test_switch_run_runs_the_after_answer_steps_before_it_returns() -> None:
    engine = ScriptedEngine()
    engine.enqueue(answer=["12"])
    seen: list[Any] = []
    switch = Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(), Settings()),
                    after_answer=[Remember(seen)])
    assert switch.run(Request.build("q?", think="off")).answer == "12"
    assert seen == [("after", "off", "off", None)]


#: The layer of a project module, for the path test (the faces are this test).
LAYER_RANK = {"switch": 3, "triage": 2, "engines": 2, "trace": 2, "thinking": 1,
              "outcomes": 1, "kernel": 0, "settings": 0}


def layer_of(frame: FrameType) -> str | None:
    module = frame.f_globals.get("__name__", "")
    if not module.startswith("thinkswitch."):
        return None
    return module.split(".")[1]


def test_a_streamed_auto_cascade_request_goes_down_the_layers_once(tmp_path: Path) -> None:
    """Every call made while the request streams goes down the layers: no frame of a lower
    layer calls into a higher one, and no layer is entered twice on one call stack (the
    cascade used to go switch → cascade → back into the switch's methods)."""
    store = open_store(str(tmp_path / "t.db"))
    engine = ScriptedEngine()
    engine.enqueue(answer=["maybe"], logprobs=UNSURE)
    engine.enqueue(thinking=["let me see"], answer=["12"])
    switch = Switch(SwitchParts(engine, get_dialect("prompted"), CascadePolicy(0.7),
                                Settings(default_budget=64), Recorder(store)))
    stacks: list[tuple[str, ...]] = []

    def profile(frame: FrameType, event: str, arg: object) -> None:
        if event != "call" or layer_of(frame) is None:
            return
        layers: list[str] = []
        current: FrameType | None = frame
        while current is not None:
            layer = layer_of(current)
            if layer is not None and (not layers or layers[-1] != layer):
                layers.append(layer)
            current = current.f_back
        stacks.append(tuple(reversed(layers)))  # outermost first

    stream: Iterator[SwitchEvent] = switch.stream(Request.build("How many apples?"))
    sys.setprofile(profile)
    try:
        events = list(stream)
    finally:
        sys.setprofile(None)
    store.close()
    assert isinstance(events[-1], Result) and events[-1].decision.mode == "on"
    assert events[-1].usage.probe_tokens == 1 and len(engine.requests) == 2
    for stack in stacks:
        assert len(set(stack)) == len(stack), f"a layer entered twice: {stack}"
        ranks = [LAYER_RANK[layer] for layer in stack]
        assert ranks == sorted(ranks, reverse=True), f"a call up the layers: {stack}"
    # The switch is the entry, then each lower layer it uses is reached from it.
    assert {stack[0] for stack in stacks} == {"switch"}
    reached = {stack[1] for stack in stacks if len(stack) > 1}
    assert {"triage", "engines", "trace", "kernel"} <= reached
