"""Nothing is lost: concurrent writer processes, and writers killed with SIGKILL mid-stream.

Each writer is a real child process (tests/trace_writer.py) with its own connection, writing to
the same SQLite file or PostgreSQL database. A writer prints a record's id only after `append`
returned, i.e. when the answer it belongs to could have been sent; every printed id must be in
the store afterwards and the chain must verify.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import threading
import time

import pytest
from support.trace_helpers import writer_command

from thinkswitch.trace.backends import open_store
from thinkswitch.trace.verify import verify

pytestmark = pytest.mark.slow  # kill -9 and writer processes: not in make test-fast

PROCESSES = 4
APPENDS = 100


def _stored(url: str) -> tuple[list[str], bool, str]:
    store = open_store(url)
    try:
        ids = [record.id for _, record in store.chain()]
        result = verify(store)
        return ids, result.ok, result.message
    finally:
        store.close()


def _spawn(url: str, count: int, tag: str, wait: bool = False,
           pause: float = 0.0) -> subprocess.Popen[str]:
    child = subprocess.Popen(writer_command(url, count, tag, wait, pause), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None
    ready = child.stdout.readline()
    assert ready == "ready\n", (ready, child.stderr.read() if child.stderr else "")
    return child


def test_writer_processes_lose_nothing(store_url: str) -> None:
    open_store(store_url).close()  # create the schema once; the writers race on appends only
    children = [_spawn(store_url, APPENDS, f"p{n}", wait=True, pause=0.001)
                for n in range(PROCESSES)]
    for child in children:  # all are connected; start them together
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    printed: list[str] = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        printed += out.split()
    ids, ok, message = _stored(store_url)
    assert len(printed) == PROCESSES * APPENDS
    assert sorted(ids) == sorted(printed)  # every id present exactly once
    assert ok, message
    # The writers really interleaved: the chain order is not one writer after another.
    tags = _tags_in_chain_order(store_url)
    changes = sum(a != b for a, b in itertools.pairwise(tags))
    print(f"{changes} switches between writers along the chain")
    assert changes > 4 * PROCESSES, f"the writers hardly overlapped ({changes} switches)"


def _tags_in_chain_order(url: str) -> list[str]:
    store = open_store(url)
    try:
        return [record.caller for _, record in store.chain()]
    finally:
        store.close()


def _kill_mid_stream(url: str, tag: str, seconds: float) -> list[str]:
    """Run a writer, collect the ids it prints for `seconds`, SIGKILL it; the printed ids."""
    child = _spawn(url, 0, tag)
    printed: list[str] = []
    assert child.stdout is not None
    stdout = child.stdout

    def read() -> None:
        printed.extend(line.strip() for line in stdout if line.strip())

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(seconds)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    reader.join(timeout=30)  # the pipe still holds what was printed before the kill
    assert child.returncode == -signal.SIGKILL
    if child.stderr is not None:
        child.stderr.close()
    stdout.close()
    return printed


def test_kill_9_loses_no_returned_record(store_url: str) -> None:
    rounds = random.Random(os.getpid())
    returned: list[str] = []
    for round_ in range(3):
        seconds = rounds.uniform(0.3, 1.5)
        printed = _kill_mid_stream(store_url, f"k{round_}", seconds)
        assert printed, f"the writer stored nothing in {seconds:.2f} s"
        returned += printed
        ids, ok, message = _stored(store_url)  # re-open after the crash
        missing = set(returned) - set(ids)
        assert not missing, f"{len(missing)} returned records lost after kill -9 (round {round_})"
        assert len(ids) == len(set(ids))
        assert ok, message
    # A store that survived the kills takes new records and still verifies.
    store = open_store(store_url)
    store.append(store.records(limit=1)[0].model_copy(update={"id": "after-the-kills"}))
    assert verify(store).ok
    store.close()
