"""The replica pool on its own (fake clock) and the `openai` engine over several replicas
(httpx.MockTransport): picking, circuit breaker, health checks, retry before the first token."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from support.upstream_chunks import delta, sse

from thinkswitch.engines import pool as pool_module
from thinkswitch.engines.openai_compat import OpenAICompatEngine
from thinkswitch.engines.pool import ReplicaPool, Watchdog, split_urls
from thinkswitch.kernel.errors import EngineUnavailableError, UpstreamRejectedError, UsageError
from thinkswitch.kernel.events import AnswerDelta, Finish
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.kernel.plan import GenerationRequest, ThinkingPlan
from thinkswitch.thinking.dialects import get_dialect

A, B, C = "http://a.test/v1", "http://b.test/v1", "http://c.test/v1"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_split_urls_reads_one_or_a_comma_separated_list() -> None:
    assert split_urls("http://x/v1/") == ["http://x/v1"]
    assert split_urls(f" {A}, {B} ,") == [A, B]
    with pytest.raises(UsageError, match="more than once"):
        split_urls(f"{A},{A}/")
    with pytest.raises(UsageError, match="no server"):
        split_urls(" , ")


def test_least_outstanding_wins_and_ties_go_round_robin() -> None:
    pool = ReplicaPool([A, B, C])
    first, second, third = pool.acquire(), pool.acquire(), pool.acquire()
    assert [first.url, second.url, third.url] == [A, B, C]
    pool.release(second)
    assert pool.acquire().url == B  # the only one with 0 outstanding
    fourth = pool.acquire()  # all at 1: next in turn after B
    assert fourth.url == C and fourth.replica.outstanding == 2
    for replica in (first, second, third, fourth, second):
        pool.release(replica)
    assert [r.outstanding for r in pool.replicas] == [0, 0, 0]
    order = []
    for _ in range(6):
        replica = pool.acquire()
        order.append(replica.url)
        pool.release(replica)
    assert order == [A, B, C, A, B, C]
    pool.close()


def test_avoid_skips_replicas_that_failed_the_request() -> None:
    pool = ReplicaPool([A, B])
    assert pool.acquire(avoid={A}).url == B
    assert pool.usable({A})
    with pytest.raises(EngineUnavailableError, match="failed this request"):
        pool.acquire(avoid={A, B})
    pool.close()


def test_breaker_opens_after_n_failures_and_half_opens_after_cooldown() -> None:
    clock = FakeClock()
    pool = ReplicaPool([A, B], breaker_failures=2, breaker_cooldown_s=10.0, clock=clock)
    a = pool.replicas[0]
    pool.release(pool.acquire(), "boom 1")  # A fails once: still in
    assert a.state == "closed" and a.failures == 1
    pool.release(pool.acquire(), None)  # B
    pool.release(pool.acquire(), "boom 2")  # A again: opens
    assert a.state == "open" and a.last_error == "boom 2"
    leases = [pool.acquire() for _ in range(3)]
    assert [lease.url for lease in leases] == [B, B, B]  # A is out
    for lease in leases:
        pool.release(lease)
    clock.now += 9.9
    before = pool.acquire()
    assert before.url == B
    pool.release(before)
    clock.now += 0.2  # cooldown over: one trial request may go to A
    trial = pool.acquire(avoid={B})
    assert trial.url == A and a.state == "half_open" and a.trial
    assert not pool.usable(avoid={B})  # one trial at a time
    pool.release(trial, "still broken")  # a failed trial reopens at once
    assert a.state == "open" and a.opened_at == clock.now
    clock.now += 10.0
    trial = pool.acquire(avoid={B})
    pool.release(trial, None)  # a good trial closes the circuit
    assert a.state == "closed" and a.failures == 0
    pool.close()


def test_all_out_names_every_replica_and_why() -> None:
    clock = FakeClock()
    pool = ReplicaPool([A], breaker_failures=1, breaker_cooldown_s=5.0, clock=clock)
    pool.release(pool.acquire(), "connection refused")
    with pytest.raises(EngineUnavailableError) as caught:
        pool.acquire()
    assert str(caught.value) == (
        f"no upstream replica is available: {A} (out for 5.0 s more: connection refused)"
    )
    pool.close()


def test_health_check_takes_replicas_out_and_brings_them_back() -> None:
    healthy = {A: True, B: False}
    pool = ReplicaPool([A, B], probe=lambda url: healthy[url])
    pool.check_now()
    pool.check_now()
    assert [r.state for r in pool.replicas] == ["closed", "closed"], "two misses are not out"
    pool.check_now()  # the third failed probe in a row (breaker_failures=3)
    assert [r.state for r in pool.replicas] == ["closed", "open"]
    assert pool.replicas[1].last_error == "health check failed"
    healthy[B] = True
    pool.check_now()  # back half-open: the next request is its trial
    assert [r.state for r in pool.replicas] == ["closed", "half_open"]
    a = pool.acquire()
    trial = pool.acquire()  # least outstanding: B, as its trial
    assert (a.url, trial.url, trial.trial) == (A, B, True)
    pool.release(a)
    pool.release(trial)
    assert [r.state for r in pool.replicas] == ["closed", "closed"]
    pool.close()


def test_health_checker_thread_starts_on_first_use_and_brings_a_replica_back() -> None:
    healthy = {A: True, B: False}
    probes: list[str] = []

    def probe(url: str) -> bool:
        probes.append(url)
        return healthy[url]

    pool = ReplicaPool([A, B], breaker_failures=1, breaker_cooldown_s=60.0,
                       health_interval_s=0.05, probe=probe)
    time.sleep(0.15)
    assert probes == [] and pool._checker is None  # nothing runs before first use
    pool.release(pool.acquire(avoid={A}), "refused")  # B fails: out for 60 s
    assert pool.replicas[1].state == "open"
    healthy[B] = True
    deadline = time.monotonic() + 2.0
    while pool.replicas[1].state != "half_open" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pool.replicas[1].state == "half_open"  # long before the 60 s cooldown
    assert B in probes
    pool.close()
    assert pool._checker is not None and not pool._checker.is_alive()


def test_pool_is_thread_safe_under_concurrent_use() -> None:
    pool = ReplicaPool([A, B, C])
    peak: dict[str, int] = {A: 0, B: 0, C: 0}
    lock = threading.Lock()

    def work() -> None:
        for _ in range(300):
            replica = pool.acquire()
            with lock:
                peak[replica.url] = max(peak[replica.url], replica.replica.outstanding)
            pool.release(replica)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.outstanding for r in pool.replicas] == [0, 0, 0]
    assert sum(r.served for r in pool.replicas) == 1800
    assert all(1 <= peak[url] <= 2 for url in (A, B, C))  # 6 workers spread over 3
    pool.close()


def test_watchdog_runs_actions_at_their_deadline_unless_cancelled() -> None:
    watchdog = Watchdog()
    fired: list[tuple[str, float]] = []
    start = time.monotonic()
    watchdog.arm(0.10, lambda: fired.append(("late", time.monotonic() - start)))
    watchdog.arm(0.05, lambda: fired.append(("early", time.monotonic() - start)))
    cancelled = watchdog.arm(0.07, lambda: fired.append(("cancelled", 0.0)))
    watchdog.cancel(cancelled)
    time.sleep(0.3)
    watchdog.close()
    assert [name for name, _ in fired] == ["early", "late"]
    assert 0.05 <= fired[0][1] < 0.25 and 0.10 <= fired[1][1] < 0.3


def test_a_cancelled_timer_lets_go_of_its_action_at_once() -> None:
    import gc
    import weakref

    class Holder:
        def act(self) -> None: ...

    watchdog = Watchdog()
    holder = Holder()
    held = weakref.ref(holder)
    timer = watchdog.arm(600.0, holder.act)
    keep = watchdog.arm(600.0, lambda: None)
    watchdog.cancel(timer)
    del holder, timer
    gc.collect()
    assert held() is None, "a cancelled timer kept its action (and what it holds) alive"
    watchdog.cancel(keep)
    watchdog.close()


def test_cancelled_timers_do_not_pile_up_and_a_sooner_timer_still_fires_in_time() -> None:
    watchdog = Watchdog()
    keep = watchdog.arm(600.0, lambda: None)
    for _ in range(1000):  # a streamed call arms and cancels its deadlines
        watchdog.cancel(watchdog.arm(600.0, lambda: None))
    assert len(watchdog._heap) <= 3
    fired = threading.Event()
    late = threading.Event()
    watchdog.arm(0.3, late.set)
    watchdog.arm(0.05, fired.set)  # due before every other: the waiting thread is woken
    assert fired.wait(0.25) and not late.is_set()
    assert late.wait(1.0)
    watchdog.cancel(keep)
    assert watchdog._heap == []
    watchdog.close()


def test_an_idle_watchdog_thread_ends_and_a_new_one_starts_when_needed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pool_module, "WATCHDOG_IDLE_S", 0.05)
    watchdog = Watchdog()
    first, second = threading.Event(), threading.Event()
    watchdog.arm(0.0, first.set)
    assert first.wait(1.0)
    deadline = time.monotonic() + 2.0
    while watchdog._thread is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert watchdog._thread is None
    watchdog.arm(0.0, second.set)
    assert second.wait(1.0)
    watchdog.close()


# --- the engine over several replicas ------------------------------------------------------

Reply = Callable[[httpx.Request], httpx.Response]


def ok(words: tuple[str, ...] = ("four",)) -> Reply:
    events = [delta(content=word) for word in words] + [delta("stop", content="")]
    return lambda _: httpx.Response(200, content=sse(*events))


def status(code: int) -> Reply:
    return lambda _: httpx.Response(code, json={"error": {"message": f"scripted {code}"}})


def token_then_error() -> Reply:
    events = sse(delta(content="par"), {"error": {"message": "engine died"}}, done=False)
    return lambda _: httpx.Response(200, content=events)


class Replicas:
    """A MockTransport over hosts a/b/c.test: a queue of replies per host, calls recorded."""

    def __init__(self, **replies: list[Reply]) -> None:
        self.replies = replies
        self.calls: list[str] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host.split(".")[0]
        if request.method == "GET":
            return httpx.Response(200, json={"data": [{"id": "m"}]})
        self.calls.append(host)
        queue = self.replies[host]
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        return reply(request)


def engine(replicas: Replicas, urls: str = f"{A},{B}", **options: Any) -> OpenAICompatEngine:
    return OpenAICompatEngine(base_url=urls, model="m", transport=httpx.MockTransport(
        replicas.handle), **options)


def run(engine: OpenAICompatEngine) -> Iterator[Any]:
    request = GenerationRequest(
        messages=(ChatMessage(role="user", content="2+2?"),),
        plan=ThinkingPlan(mode="off", answer_max_tokens=16),
        temperature=0.0,
    )
    return engine.execute(request, get_dialect("prompted"))


def answer(engine: OpenAICompatEngine) -> str:
    events = list(run(engine))
    assert events[-1] == Finish("stop")
    return "".join(e.text for e in events if isinstance(e, AnswerDelta))


def test_engine_spreads_requests_over_replicas() -> None:
    replicas = Replicas(a=[ok()], b=[ok()])
    with_pool = engine(replicas)
    assert [answer(with_pool) for _ in range(4)] == ["four"] * 4
    assert replicas.calls == ["a", "b", "a", "b"]
    assert [r.served for r in with_pool.pool.replicas] == [2, 2]
    with_pool.close()


def garbage() -> Reply:
    return lambda _: httpx.Response(200, content=b"data: {nope\n\n")


@pytest.mark.parametrize(("failure", "logged"), [
    (status(500), "HTTP 500: scripted 500"),
    (status(429), "HTTP 429: scripted 429"),
    (garbage(), "a stream line that is not JSON"),
])
def test_failure_before_the_first_token_is_retried_once_on_another_replica(
    failure: Reply, logged: str
) -> None:
    replicas = Replicas(a=[failure], b=[ok(("fine",))])
    with_pool = engine(replicas)
    assert answer(with_pool) == "fine"
    assert replicas.calls == ["a", "b"]
    a = with_pool.pool.replicas[0]
    assert a.failures == 1 and logged in a.last_error
    with_pool.close()


def test_unreachable_replica_is_retried_on_another() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    replicas = Replicas(a=[refuse], b=[ok(("up",))])
    with_pool = engine(replicas)
    assert answer(with_pool) == "up"
    assert replicas.calls == ["a", "b"]
    assert "connection refused" in with_pool.pool.replicas[0].last_error
    with_pool.close()


def test_only_one_retry_then_the_error_is_raised() -> None:
    replicas = Replicas(a=[status(500)], b=[status(502)], c=[ok()])
    with_pool = engine(replicas, urls=f"{A},{B},{C}")
    with pytest.raises(EngineUnavailableError, match="HTTP 502"):
        list(run(with_pool))
    assert replicas.calls == ["a", "b"]
    with_pool.close()


def test_a_single_replica_is_not_retried() -> None:
    replicas = Replicas(a=[status(500), ok()])
    with_pool = engine(replicas, urls=A)
    with pytest.raises(EngineUnavailableError, match="HTTP 500"):
        list(run(with_pool))
    assert replicas.calls == ["a"]
    with_pool.close()


def test_a_refused_request_is_not_retried_and_does_not_trip_the_breaker() -> None:
    replicas = Replicas(a=[status(400)], b=[ok()])
    with_pool = engine(replicas, breaker_failures=1)
    with pytest.raises(UpstreamRejectedError, match="refused the request \\(HTTP 400\\)"):
        list(run(with_pool))
    assert replicas.calls == ["a"]
    assert with_pool.pool.replicas[0].state == "closed"
    with_pool.close()


def test_no_retry_after_a_token_was_yielded() -> None:
    replicas = Replicas(a=[token_then_error()], b=[ok()])
    with_pool = engine(replicas)
    events = run(with_pool)
    assert next(events) == AnswerDelta("par")
    with pytest.raises(EngineUnavailableError) as caught:
        next(events)
    assert str(caught.value) == (
        "upstream failed mid-stream, after part of the answer was sent (not retried): "
        f"{A}/chat/completions failed mid-stream: engine died"
    )
    assert replicas.calls == ["a"]
    with_pool.close()


def test_breaker_keeps_a_failing_replica_out_of_later_requests() -> None:
    replicas = Replicas(a=[status(500)], b=[ok()])
    with_pool = engine(replicas, breaker_failures=2, breaker_cooldown_s=60.0)
    for _ in range(5):
        assert answer(with_pool) == "four"
    # A failed twice (both retried on B), then its circuit opened: B serves everything
    assert replicas.calls == ["a", "b", "a", "b", "b", "b", "b"]
    assert with_pool.pool.replicas[0].state == "open"
    with_pool.close()


def test_total_timeout_is_enforced_between_chunks_without_a_socket() -> None:
    def trickle(_: httpx.Request) -> httpx.Response:
        def body() -> Iterator[bytes]:
            for word in ("a", "b", "c", "d"):
                time.sleep(0.1)
                yield f"data: {json.dumps(delta(content=word))}\n\n".encode()
            yield b"data: [DONE]\n\n"

        return httpx.Response(200, content=body())

    replicas = Replicas(a=[trickle])
    with_pool = engine(replicas, urls=A, total_timeout_s=0.25)
    with pytest.raises(EngineUnavailableError,
                       match=r"did not finish within the total timeout of 0\.25 s"):
        list(run(with_pool))
    with_pool.close()


def test_only_the_trial_decides_a_half_open_circuit() -> None:
    clock = FakeClock()
    pool = ReplicaPool([A], breaker_failures=2, breaker_cooldown_s=5.0, clock=clock)
    early = pool.acquire()  # started while the circuit was closed
    pool.release(pool.acquire(), "boom")
    pool.release(pool.acquire(), "boom")  # open
    clock.now += 5.0
    trial = pool.acquire()
    assert trial.trial and pool.replicas[0].state == "half_open"
    pool.release(early)  # an old call finishing well does not close the circuit
    assert pool.replicas[0].state == "half_open" and not pool.usable()
    pool.release(trial, None)
    assert pool.replicas[0].state == "closed"
    pool.close()


def test_an_abandoned_trial_decides_nothing() -> None:
    clock = FakeClock()
    pool = ReplicaPool([A], breaker_failures=1, breaker_cooldown_s=5.0, clock=clock)
    pool.release(pool.acquire(), "boom")
    clock.now += 5.0
    trial = pool.acquire()
    pool.release(trial, None, judged=False)  # its client went away
    assert pool.replicas[0].state == "half_open" and pool.usable()
    assert pool.acquire().trial, "the next request is the trial"
    pool.close()
