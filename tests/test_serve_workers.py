"""`thinkswitch serve --workers N`: real processes (a supervisor and its workers), real HTTP on
127.0.0.1, the official OpenAI SDK as client, a scripted upstream that streams slowly. One
capacity bound across the workers, a chain that verifies after concurrent load from both, a
killed worker restarted with its slots freed, reloads that reach every worker, and clear
errors for what cannot run."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import openai
import pytest
from openai import OpenAI
from support.cli import REPLAY_DATA, assert_one_line_error, thinkswitch, thinkswitch_process
from support.live_server import free_port
from support.scripted_upstream import MODEL, upstream_process
from support.serve_process import metric_values, serving, worker_metric, worker_pids

from thinkswitch.engines.replay import ReplayEngine
from thinkswitch.outcomes.paired import load_paired
from thinkswitch.settings import default_data_dir
from thinkswitch.shadow.promotion import promote
from thinkswitch.trace.backends import open_store
from thinkswitch.triage.examples import from_table
from thinkswitch.triage.learned import LearnedPolicy

needs_replay = pytest.mark.skipif(not REPLAY_DATA.is_dir(), reason="shared outcome data absent")
KEY = "workers-test-key"


def proxy_args(upstream: str, db: Path, capacity: int) -> list[str]:
    return ["--workers", "2", "--engine", "openai", "--base-url", upstream, "--model", MODEL,
            "--dialect", "prompted", "--think", "off", "--capacity", str(capacity),
            "--db", str(db)]


@dataclass
class Outcomes:
    answers: list[str] = field(default_factory=list)
    refused: list[openai.RateLimitError] = field(default_factory=list)
    cut: list[openai.APIConnectionError] = field(default_factory=list)


def stream_all(url: str, count: int, outcomes: Outcomes | None = None) -> Outcomes:
    """`count` streaming requests at once, each on its own connection."""
    outcomes = Outcomes() if outcomes is None else outcomes
    start = threading.Barrier(count)

    def one(number: int) -> None:
        client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=60)
        start.wait()
        try:
            stream = client.chat.completions.create(
                model=MODEL, stream=True, messages=[{"role": "user", "content": f"q{number}"}])
            outcomes.answers.append("".join(chunk.choices[0].delta.content or ""
                                            for chunk in stream if chunk.choices))
        except openai.RateLimitError as error:
            outcomes.refused.append(error)
        except openai.APIConnectionError as error:  # its worker was killed
            outcomes.cut.append(error)
        finally:
            client.close()

    threads = [threading.Thread(target=one, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def wait_inside(url: str, count: int, timeout_s: float = 60.0) -> None:
    """Poll /metrics until `count` requests are inside the server (no fixed sleep: the box
    may be loaded)."""
    deadline = time.monotonic() + timeout_s
    while metric_values(url, "thinkswitch_queue_depth")[""] < count:
        assert time.monotonic() < deadline, f"{count} requests never were inside together"
        time.sleep(0.05)


@pytest.mark.slow
def test_one_capacity_across_two_workers_and_one_chain(tmp_path: Path) -> None:
    db = tmp_path / "traces.sqlite"
    capacity, beyond = 6, 6
    with upstream_process(token_delay_s=0.1, tokens=60) as (upstream, _), \
            serving(*proxy_args(upstream, db, capacity)) as (url, _):
        # the first `capacity` streams fill the server (whenever each one gets going under
        # load), then the others come while they stream: every one of those is refused
        held = Outcomes()
        holding = threading.Thread(target=stream_all, args=(url, capacity, held))
        holding.start()
        wait_inside(url, capacity)
        outcomes = stream_all(url, beyond)
        holding.join(timeout=120)
        assert len(held.answers) == capacity and not held.refused and not held.cut
        assert len(outcomes.refused) == beyond and not outcomes.answers
        assert all(answer.startswith("answer to q") for answer in held.answers)
        for error in outcomes.refused:
            assert error.response.headers["retry-after"] == "1"
            assert "requests already inside" in error.message
        served = worker_metric(url, "requests_total")
        assert sum(served.values()) == capacity
        assert metric_values(url, "thinkswitch_errors_total") == {'kind="429"': beyond}
        # more answers on fresh connections until both workers have served (the kernel
        # spreads connections by their address hash)
        for _ in range(60):
            if min(worker_metric(url, "requests_total").values()) > 0:
                break
            assert len(stream_all(url, 1).answers) == 1
        served = worker_metric(url, "requests_total")
        assert min(served.values()) > 0, served
        assert metric_values(url, "thinkswitch_queue_depth") == {"": 0}
    verified = thinkswitch("logs", "verify", "--db", str(db))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    store = open_store(db)
    try:
        assert len(store.records(kind="request")) == sum(served.values())
    finally:
        store.close()


@pytest.mark.slow
def test_a_killed_worker_is_restarted_its_slots_freed_and_sigterm_drains(tmp_path: Path) -> None:
    capacity = 4
    with upstream_process(token_delay_s=0.1, tokens=60) as (upstream, _), \
            serving(*proxy_args(upstream, tmp_path / "t.sqlite", capacity)) as (url, server):
        held = Outcomes()
        holding = threading.Thread(target=stream_all, args=(url, capacity, held))
        holding.start()
        wait_inside(url, capacity)
        inside, pids = worker_metric(url, "inside"), worker_metric(url, "pid")
        assert set(pids.values()) == set(worker_pids(server.pid))
        victim = max(inside, key=lambda index: inside[index])
        survivors = capacity - inside[victim]
        os.kill(pids[victim], signal.SIGKILL)
        deadline = time.monotonic() + 60
        while worker_metric(url, "pid")[victim] in (0, pids[victim]):
            assert time.monotonic() < deadline, "the killed worker was not restarted"
            time.sleep(0.2)
        # the dead worker's slots were freed; the survivor's streams still hold theirs
        assert worker_metric(url, "inside")[victim] == 0
        assert metric_values(url, "thinkswitch_queue_depth")[""] <= survivors
        holding.join(timeout=60)
        assert len(held.cut) == inside[victim] and len(held.answers) == survivors
        again = stream_all(url, capacity)
        assert len(again.answers) == capacity and not again.refused  # the full capacity
        assert len(worker_pids(server.pid)) == 2
        # SIGTERM drains: the streams inside finish, then the server exits 0
        draining = Outcomes()
        finishing = threading.Thread(target=stream_all, args=(url, 2, draining))
        finishing.start()
        wait_inside(url, 2)
        server.send_signal(signal.SIGTERM)
        finishing.join(timeout=60)
        assert len(draining.answers) == 2 and not draining.cut
        assert server.wait(timeout=60) == 0
        _, err = server.communicate(timeout=10)
        assert f"worker {victim} (pid {pids[victim]}) was killed by SIGKILL" in err
        assert not worker_pids(server.pid) if Path(f"/proc/{server.pid}").exists() else True


def policy_of(url: str, question: str) -> str:
    with OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0) as client:
        response = client.chat.completions.create(
            model="gemini-2.5-flash", messages=[{"role": "user", "content": question}])
    decision = response.model_extra["thinkswitch"]["decision"]  # type: ignore[index]
    return str(decision["policy"])


def promote_version(db: Path, version: str, policy_dir: Path) -> None:
    candidate = policy_dir.parent / f"{version}.npz"
    replace(LearnedPolicy.from_path().model, version=version).save(candidate)
    store = open_store(db)
    try:
        _, record = promote(store, candidate, policy_dir, None, force=True, examples=from_table(
            load_paired(default_data_dir(), "replay:simpleqa/gemini-2.5-flash")))
        assert record is not None
    finally:
        store.close()


def every_worker_says(url: str, question: str, policy: str, timeout_s: float = 60.0) -> None:
    """Requests on fresh connections until each worker has answered one with `policy` since
    the last answer that was not (the other workers reload on the supervisor's SIGHUP, a
    moment later: polled, not slept for); fails if that does not happen in `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    start = worker_metric(url, "requests_total")
    said = []
    while time.monotonic() < deadline:
        said.append(policy_of(url, question))
        if said[-1] != policy:  # a worker not reloaded yet: count afresh from here
            start = worker_metric(url, "requests_total")
            continue
        now = worker_metric(url, "requests_total")
        if all(now[index] > start[index] for index in start):
            return
    raise AssertionError(f"not every worker says {policy} within {timeout_s} s: {said[-10:]}")


@pytest.mark.slow
@needs_replay
def test_a_reload_reaches_every_worker(tmp_path: Path) -> None:
    db, policies = tmp_path / "traces.sqlite", tmp_path / "policies"
    question = ReplayEngine(default_data_dir(), "gemini-2.5-flash").questions()[0]
    with serving("--workers", "2", "--engine", "replay", "--model", "gemini-2.5-flash",
                 "--db", str(db), "--api-key", KEY) as (url, server):
        every_worker_says(url, question, "learned@v3")
        promote_version(db, "by-admin", policies)
        reloaded = httpx.post(f"{url}/admin/policy/reload",
                              headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
        assert reloaded.status_code == 200, reloaded.text
        assert "now serving learned@by-admin" in reloaded.json()["policy"]
        every_worker_says(url, question, "learned@by-admin")

        promote_version(db, "by-hangup", policies)
        server.send_signal(signal.SIGHUP)
        every_worker_says(url, question, "learned@by-hangup")
        assert server.poll() is None


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--workers", "0"], {}, "--workers': Input should be greater than or equal to 1"),
    (["--workers", "65"], {}, "--workers': Input should be less than or equal to 64"),
    ([], {"THINKSWITCH_WORKERS": "many"}, "THINKSWITCH_WORKERS: Input should be a valid "
                                          "integer"),
    ([], {"THINKSWITCH_WORKERS": "0"}, "THINKSWITCH_WORKERS: Input should be greater than or "
                                       "equal to 1"),
    ([], {"THINKSWITCH_WORKERS": "65"}, "THINKSWITCH_WORKERS: Input should be less than or "
                                        "equal to 64"),
])
def test_bad_worker_counts_are_one_line_errors(args: list[str], env: dict[str, str],
                                               message: str) -> None:
    assert_one_line_error(thinkswitch("serve", "--engine", "instant", *args, env=env), 2,
                          message)


def test_a_config_file_sets_the_workers_and_bad_values_are_refused(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text("[server]\nworkers = 2\ncapacity = 8\n")
    checked = thinkswitch("config", "check", str(good))
    assert checked.returncode == 0 and "capacity 8 across 2 workers" in checked.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text("[server]\nworkers = 100\n")
    assert_one_line_error(thinkswitch("serve", "--engine", "instant", "--config", str(bad)), 2,
                          "server.workers: Input should be less than or equal to 64")


def test_a_busy_port_is_refused_before_any_worker_starts() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        run = thinkswitch("serve", "--engine", "instant", "--workers", "2", "--port", str(port))
    assert_one_line_error(run, 2, f"cannot listen on 127.0.0.1:{port}: Address already in use")


@pytest.mark.slow
def test_workers_that_keep_failing_at_start_stop_the_server(tmp_path: Path) -> None:
    started = time.monotonic()
    run = thinkswitch_process("serve", "--workers", "2", "--engine", "llama_cpp", "--model",
                              str(tmp_path / "missing.gguf"), "--port", str(free_port()))
    assert run.returncode == 1
    assert "workers keep failing at start (3 in a row" in run.stderr
    assert "thinkswitch worker 0: " in run.stderr and "missing.gguf" in run.stderr
    assert "Traceback" not in run.stderr
    assert time.monotonic() - started < 120


@pytest.mark.slow
def test_only_worker_0_learns(tmp_path: Path) -> None:
    """`--learn` runs in worker 0 alone: a learner that cannot start fails worker 0 (three
    times: the server gives up) and never worker 1, which serves meanwhile."""
    run = thinkswitch_process("serve", "--engine", "instant", "--policy", "rules", "--learn",
                              "5", "--db", str(tmp_path / "t.sqlite"), "--port", str(free_port()),
                              env={"THINKSWITCH_WORKERS": "2"})  # the variable, this time
    assert run.returncode == 1
    assert run.stderr.count("thinkswitch worker 0: --learn needs the learned policy") == 3
    assert "thinkswitch worker 1:" not in run.stderr
    assert "workers keep failing at start (3 in a row" in run.stderr


def open_files(pid: int) -> list[str]:
    """What process `pid`'s descriptors point at (those still open while read)."""
    targets = []
    for descriptor in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(FileNotFoundError):
            targets.append(os.readlink(descriptor))
    return targets


def test_one_worker_is_the_one_process_it_always_was() -> None:
    """`--workers 1` (the default): no supervisor, no board, no per-worker metrics."""
    with serving("--engine", "instant", "--workers", "1") as (url, server):
        assert httpx.get(f"{url}/health", timeout=10).status_code == 200
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        assert children == [] and worker_pids(server.pid) == []
        assert not any("memfd:thinkswitch" in target for target in open_files(server.pid))
        assert "thinkswitch_worker_" not in httpx.get(f"{url}/metrics", timeout=10).text
