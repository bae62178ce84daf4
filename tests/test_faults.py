"""Fault tests on 127.0.0.1: the thinkswitch server with the `openai` engine over real scripted
upstream servers (tests/scripted_upstream.py) that go slow, send garbage, cut streams, stall,
or are killed mid-load. The pool must keep serving, no request may outlive its deadline, and
every answered request must be in the SQLite trace store exactly once."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.live_server import live_server
from support.scripted_upstream import (
    MODEL,
    Script,
    create_upstream,
    thinkswitch_in_front,
    upstream_process,
)

from thinkswitch.engines.openai_compat import OpenAICompatEngine
from thinkswitch.kernel.errors import EngineUnavailableError
from thinkswitch.kernel.events import AnswerDelta
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.kernel.plan import GenerationRequest, ThinkingPlan
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.trace.backends import open_store
from thinkswitch.trace.recorder import Recorder

pytestmark = pytest.mark.slow  # real upstream processes: not in make test-fast

#: Short upstream timeouts, so faults show within a second.
FAST = {"connect_timeout_s": 1.0, "read_timeout_s": 2.0, "first_token_timeout_s": 0.8,
        "total_timeout_s": 5.0, "breaker_failures": 1, "breaker_cooldown_s": 30.0,
        "health_interval_s": 30.0}


@pytest.fixture(autouse=True)
def _quiet_uvicorn() -> Iterator[None]:
    """A cut stream is an exception inside the upstream app; uvicorn logs it, on purpose."""
    logger = logging.getLogger("uvicorn.error")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)


@contextmanager
def upstream(**script: Any) -> Iterator[tuple[str, Script]]:
    scripted = Script(**script)
    with live_server(create_upstream(scripted)) as root:
        yield f"{root}/v1", scripted


def thinkswitch(urls: list[str], db: Path, **options: Any
                ) -> AbstractContextManager[tuple[str, OpenAICompatEngine]]:
    return thinkswitch_in_front(urls, recorder=Recorder(open_store(db)), capacity=64,
                                **{**FAST, **options})


@dataclass
class Outcome:
    question: str
    answer: str
    error: str
    done: bool
    started: float
    elapsed: float

    @property
    def ok(self) -> bool:
        return self.done and not self.error


def ask(root: str, question: str) -> Outcome:
    """One streaming chat request, read to the end."""
    started = time.monotonic()
    answer: list[str] = []
    error, done = "", False
    body = {"model": MODEL, "stream": True, "reasoning_effort": "none",
            "messages": [{"role": "user", "content": question}]}
    try:
        with httpx.stream("POST", f"{root}/v1/chat/completions", json=body,
                          timeout=30.0) as response:
            if response.status_code != 200:
                response.read()
                error = f"HTTP {response.status_code}: {response.text}"
            for line in response.iter_lines() if not error else ():
                if not line.startswith("data: "):
                    continue
                if line == "data: [DONE]":
                    done = True
                    break
                payload = json.loads(line[6:])
                if "error" in payload:
                    error = payload["error"]["message"]
                for choice in payload.get("choices", []):
                    answer.append(choice["delta"].get("content") or "")
    except httpx.HTTPError as failure:
        error = f"client: {failure!r}"
    return Outcome(question, "".join(answer), error, done, started,
                   time.monotonic() - started)


def ask_many(root: str, questions: list[str], concurrency: int) -> list[Outcome]:
    with ThreadPoolExecutor(concurrency) as workers:
        return list(workers.map(lambda q: ask(root, q), questions))


def check_traces(db: Path, outcomes: list[Outcome]) -> None:
    """Every answered request is recorded exactly once, with its answer; a failed one only as
    a failure."""
    records = open_store(db).records()
    answered = Counter(r.messages[-1]["content"] for r in records if r.error is None)
    failed = Counter(r.messages[-1]["content"] for r in records if r.error is not None)
    for outcome in outcomes:
        if outcome.ok:
            assert answered[outcome.question] == 1, outcome
            assert failed[outcome.question] == 0, outcome
        else:
            assert answered[outcome.question] == 0, outcome
            assert failed[outcome.question] == 1, outcome
    assert sum(answered.values()) == sum(o.ok for o in outcomes)


def test_slow_and_garbage_replicas_are_taken_out_and_the_pool_keeps_serving(
    tmp_path: Path,
) -> None:
    db = tmp_path / "traces.sqlite"
    with upstream(token_delay_s=0.002) as (good, _), \
            upstream(mode="slow", slow_s=3.0) as (slow, slow_script), \
            upstream(mode="garbage") as (garbage, garbage_script), \
            thinkswitch([good, slow, garbage], db) as (root, engine):
        burst = ask_many(root, [f"burst question {i}" for i in range(6)], 6)
        states = {r.url: r.state for r in engine.pool.replicas}
        assert states == {good: "closed", slow: "open", garbage: "open"}
        bad_calls = (slow_script.calls, garbage_script.calls)
        steady = ask_many(root, [f"steady question {i}" for i in range(30)], 6)
    assert (slow_script.calls, garbage_script.calls) == bad_calls  # both stayed out
    assert all(o.ok for o in steady)
    assert all(o.answer == f"answer to {o.question} w0 w1 w2" for o in steady)
    # in the burst a request fails only when both its tries met a bad replica
    assert sum(o.ok for o in burst) >= 3
    for failed in (o for o in burst if not o.ok):
        assert failed.error.startswith(("cannot reach", "http://127.0.0.1")), failed
    # the slow replica is cut at the first-token timeout (0.8 s), then one retry
    assert max(o.elapsed for o in burst + steady) < 2.5
    check_traces(db, burst + steady)


def test_a_stream_cut_after_tokens_is_a_clear_error_event_and_is_not_retried(
    tmp_path: Path,
) -> None:
    db = tmp_path / "traces.sqlite"
    with upstream(mode="cut", cut_after=2) as (cut, cut_script), \
            upstream() as (good, good_script), \
            thinkswitch([cut, good], db) as (root, engine):
        broken = ask(root, "question cut short")
        after = ask(root, "question after the cut")
    assert not broken.ok and broken.done  # an error event, then [DONE]
    assert broken.answer == "answer to"
    assert broken.error.startswith(
        "upstream failed mid-stream, after part of the answer was sent (not retried): "
        f"cannot reach {cut}/chat/completions: peer closed connection")
    assert (cut_script.calls, good_script.calls) == (1, 1)  # the good call is `after`
    assert after.ok and after.answer.startswith("answer to question after the cut")
    assert engine.pool.replicas[0].state == "open"
    check_traces(db, [broken, after])


def test_a_replica_killed_mid_load_fails_only_its_streams_and_comes_back(
    tmp_path: Path,
) -> None:
    db = tmp_path / "traces.sqlite"
    # streams of ~0.8 s, so several are in flight on the doomed replica when it dies
    with upstream(token_delay_s=0.05, tokens=16) as (good, _), \
            upstream_process(token_delay_s=0.05, tokens=16) as (doomed, process), \
            thinkswitch([good, doomed], db, health_interval_s=0.3) as (root, engine):
        questions = [f"load question {i}" for i in range(40)]
        finished = threading.Semaphore(0)
        killed_at: list[float] = []

        def kill_in_steady_state() -> None:
            for _ in range(8):  # the first wave is answered, and the second...
                finished.acquire()
            time.sleep(0.4)  # ... is mid-stream
            process.kill()
            killed_at.append(time.monotonic())

        def counted(question: str) -> Outcome:
            outcome = ask(root, question)
            finished.release()
            return outcome

        killer = threading.Thread(target=kill_in_steady_state)
        killer.start()
        with ThreadPoolExecutor(8) as workers:
            outcomes = list(workers.map(counted, questions))
        killer.join()
        doomed_replica = engine.pool.replicas[1]
        assert doomed_replica.state == "open"
        served_before = doomed_replica.served
        assert served_before >= 1  # it took its share before it died
        # the replica comes back at the same address: the health check brings it back in
        port = int(doomed.rsplit(":", 1)[1].split("/")[0])
        with upstream_process(token_delay_s=0.0, tokens=5, port=port):
            deadline = time.monotonic() + 5.0
            while doomed_replica.state == "open" and time.monotonic() < deadline:
                time.sleep(0.05)
            assert doomed_replica.state == "half_open"
            later = ask_many(root, [f"later question {i}" for i in range(6)], 2)
            assert doomed_replica.served > served_before and doomed_replica.state == "closed"
    assert all(o.ok for o in later)
    failures = [o for o in outcomes if not o.ok]
    # only the streams in flight on the killed replica fail (at most one per client), and
    # they fail with a clear error event; everything that started later is answered
    assert 1 <= len(failures) <= 8
    for failed in failures:
        assert failed.done and failed.error.startswith("upstream failed mid-stream"), failed
        assert failed.started < killed_at[0]
    assert all(o.ok for o in outcomes if o.started > killed_at[0] + 0.1)
    assert sum(o.ok for o in outcomes) >= 32
    assert max(o.elapsed for o in outcomes + later) < 3.0
    check_traces(db, outcomes + later)


def _generate(engine: OpenAICompatEngine, question: str = "q") -> str:
    request = GenerationRequest(messages=(ChatMessage(role="user", content=question),),
                                plan=ThinkingPlan(mode="off", answer_max_tokens=64),
                                temperature=0.0)
    events = engine.execute(request, get_dialect("prompted"))
    return "".join(e.text for e in events if isinstance(e, AnswerDelta))


@pytest.mark.parametrize(("script", "options", "message", "limit_s"), [
    ({"mode": "slow", "slow_s": 5.0}, {"first_token_timeout_s": 0.4},
     "sent no token within the first-token timeout of 0.4 s", 0.4),
    ({"mode": "stall", "slow_s": 5.0, "cut_after": 2}, {"read_timeout_s": 0.4},
     "timed out", 0.4),
    ({"token_delay_s": 0.1, "tokens": 40}, {"total_timeout_s": 0.5},
     "did not finish within the total timeout of 0.5 s", 0.5),
])
def test_upstream_timeouts_end_a_stalled_stream_on_time(
    script: dict[str, Any], options: dict[str, Any], message: str, limit_s: float,
) -> None:
    with upstream(**script) as (url, _):
        engine = OpenAICompatEngine(base_url=url, model=MODEL, **{**FAST, **options})
        started = time.monotonic()
        with pytest.raises(EngineUnavailableError, match=message):
            _generate(engine)
        elapsed = time.monotonic() - started
        engine.close()
    assert limit_s <= elapsed < limit_s + 0.6


def test_a_gap_longer_than_the_first_token_timeout_is_fine_after_the_first_token() -> None:
    # first token at once, then a 1.2 s gap: the first-token timeout (0.8 s) no longer
    # applies, the read timeout (2 s) does
    with upstream(mode="stall", slow_s=1.2, cut_after=2, tokens=3) as (url, _):
        engine = OpenAICompatEngine(base_url=url, model=MODEL, **FAST)
        assert _generate(engine, "q") == "answer to q"
        engine.close()
