"""`thinkswitch serve --workers N`: one listening socket, N worker processes serving the same
app on it, and the supervisor that keeps them.

One process serves on one core (the GIL): a proxy whose CPU is busy per streamed delta goes
no faster than that core. The supervisor binds the port before any worker starts (a busy port
is one error) and starts N workers (`multiprocessing`'s spawn: fresh interpreters, each
building its own engine, switch and trace-store connection). Each worker accepts on a socket of
its own, all N bound to the port with SO_REUSEPORT, so the kernel spreads connections evenly
over the workers by their address hash. (One shared socket was tried first: an event loop
accepts every pending connection when it wakes, and at 32 clients one worker took 87% of the
requests.) The supervisor keeps every socket open: connections waiting in the queue of a
worker that dies stay there for its successor, which gets the same socket.

What the workers share lives in an anonymous board file (`thinkswitch.server.worker_board`): the
capacity bound and the request counters. The supervisor forwards SIGTERM / SIGINT (drain, then
stop) and SIGHUP (reload the policy) to every worker; a worker asks for a reload everywhere with
SIGUSR1 (after `POST /admin/policy/reload`, or a `--learn` promotion: only worker 0 learns). A
worker that dies is restarted, its slots freed first; workers that die before they ever served
(a bad config, a missing model) make the supervisor give up after `START_FAILURES` such deaths
in a row, with a non-zero exit, rather than loop.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, replace
from multiprocessing import resource_tracker
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import typer
import uvicorn

from thinkswitch.config.load import ServerOptions
from thinkswitch.kernel.errors import ThinkswitchError, UsageError
from thinkswitch.server.worker_board import Seat, WorkerBoard

#: Workers that die before they served, in a row, before the supervisor gives up.
START_FAILURES = 3
#: A worker that served for less than this before it died counts as dying quickly: when its
#: place does so twice in a row, each restart waits twice as long, up to `RESTART_DELAY_MAX_S`
#: (a worker that crashes on every request must not be restarted in a tight loop).
QUICK_DEATH_S = 30.0
RESTART_DELAY_MAX_S = 5.0
#: prctl(2): the signal the kernel sends a process when its parent dies.
PR_SET_PDEATHSIG = 1
#: Pending connections the socket holds (uvicorn's default).
BACKLOG = 2048


@dataclass(frozen=True)
class WorkerSpec:
    """What each worker builds its app from: the same inputs `serve` had."""

    config: Path | None
    settings_flags: dict[str, Any]
    server_flags: dict[str, Any]
    learn: int | None


def listen(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` listening sockets on one port (SO_REUSEPORT), one per worker; a busy or
    unusable address is a `UsageError`. A first bind without SO_REUSEPORT makes sure that no
    one holds the port, not even a server of the same user that would let us share it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets: list[socket.socket] = []
    try:
        if port:
            socket.create_server((host, port), family=family).close()
        for _ in range(count):
            sockets.append(socket.create_server((host, port), family=family, backlog=BACKLOG,
                                                reuse_port=True))
            port = sockets[0].getsockname()[1]  # port 0: the kernel's choice, for all
    except OSError as error:
        for made in sockets:
            made.close()
        reason = os.strerror(error.errno) if error.errno else str(error)
        raise UsageError(f"cannot listen on {host}:{port}: {reason}") from None
    return sockets


def supervise(spec: WorkerSpec, options: ServerOptions, signing_key: bytes) -> int:
    """Serve with `options.workers` workers until SIGTERM/SIGINT; the exit code."""
    workers = options.workers or 1
    # every worker signs and names callers with the same key (one file read, here)
    spec = replace(spec, server_flags={**spec.server_flags, "signing_key": signing_key,
                                       "workers": workers})
    sockets = listen(options.host, options.port, workers)
    try:
        board = WorkerBoard.create(workers)
        try:
            typer.echo(f"thinkswitch: {workers} workers on http://{options.host}:"
                       f"{sockets[0].getsockname()[1]} (supervisor pid {os.getpid()}), capacity "
                       f"{options.capacity} across them")
            return Supervisor(spec, sockets, board).run()
        finally:
            board.close()
    finally:
        for made in sockets:
            made.close()


class Supervisor:
    """Starts, restarts and signals the workers (see the module's notes)."""

    def __init__(self, spec: WorkerSpec, sockets: list[socket.socket], board: WorkerBoard
                 ) -> None:
        self.spec = spec
        self.sockets = sockets
        self.board = board
        self.context = multiprocessing.get_context("spawn")
        self.workers: dict[int, BaseProcess] = {}
        self.stopping = False
        self.failures = 0
        self.exit_code = 0
        self.started_at: dict[int, float] = {}
        self.quick_deaths: dict[int, int] = {}

    def run(self) -> int:
        handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1)
        previous = {number: signal.getsignal(number) for number in handled}
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGHUP, self._reload)
        signal.signal(signal.SIGUSR1, self._reload)
        # multiprocessing starts its resource tracker at the first spawn and unblocks SIGINT
        # then, which would undo `_start`'s mask for the first worker: start it first
        resource_tracker.ensure_running()
        try:
            for index in range(self.board.workers):
                if not self.stopping:
                    self._start(index)
            self._watch()
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
            self._reap()
        return self.exit_code

    def _start(self, index: int) -> None:
        # SIGHUP / SIGUSR1 stay blocked in the new worker until it has its own handlers (a
        # reload cannot kill a worker that is still starting), and SIGINT until it ignores it
        # (Ctrl-C in a terminal reaches every process of the group: a starting worker must
        # not die of it with a traceback; the supervisor's SIGTERM stops it); here only for
        # the spawn.
        blocked = {signal.SIGHUP, signal.SIGUSR1, signal.SIGINT}
        signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
        try:
            process = self.context.Process(
                target=serve_worker, name=f"thinkswitch-worker-{index}",
                args=(self.spec, index, self.sockets[index], self.board, os.getpid()))
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, blocked)
        self.workers[index] = process
        self.started_at[index] = time.monotonic()
        if self.stopping and process.pid is not None:  # the stop came while it started
            os.kill(process.pid, signal.SIGTERM)

    def _signal_all(self, number: int) -> None:
        for process in list(self.workers.values()):
            if process.pid is not None and process.exitcode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, number)

    def _stop(self, signum: int, frame: object) -> None:
        # the first signal drains (SIGTERM to each worker); a second one stops at once
        self._signal_all(signal.SIGINT if self.stopping else signal.SIGTERM)
        self.stopping = True

    def _reload(self, signum: int, frame: object) -> None:
        self._signal_all(signal.SIGHUP)

    def _watch(self) -> None:
        while self.workers:
            wait([process.sentinel for process in self.workers.values()], timeout=0.5)
            for index, process in list(self.workers.items()):
                if process.exitcode is not None:
                    self._gone(index, process)

    def _gone(self, index: int, process: BaseProcess) -> None:
        process.join()
        del self.workers[index]
        served = self.board.was_ready(index)
        self.board.vacate(index)  # its slots are free before anyone takes its place
        if self.stopping:
            return
        self.failures = 0 if served else self.failures + 1
        how = _exit_description(process.exitcode)
        if self.failures >= START_FAILURES:
            typer.echo(f"thinkswitch: workers keep failing at start ({self.failures} in a row, "
                       f"the last {how}); see their messages above. Stopping.", err=True)
            self.exit_code = 1
            self.stopping = True
            self._signal_all(signal.SIGTERM)
            return
        delay = self._restart_delay(index, served)
        typer.echo(f"thinkswitch: worker {index} (pid {process.pid}) {how}"
                   f"{'' if served else ' before it served'}; restarting it"
                   f"{f' in {delay:.1f} s' if delay else ''}", err=True)
        time.sleep(delay)  # a worker failing at start or crashing at once: not in a tight loop
        if not self.stopping:
            self._start(index)

    def _restart_delay(self, index: int, served: bool) -> float:
        if not served:
            return 0.2 * self.failures
        lived = time.monotonic() - self.started_at.get(index, 0.0)
        quick = self.quick_deaths.get(index, 0) + 1 if lived < QUICK_DEATH_S else 0
        self.quick_deaths[index] = quick
        return 0.0 if quick < 2 else min(RESTART_DELAY_MAX_S, 0.1 * 2 ** quick)

    def _reap(self) -> None:
        """Whatever is still running when the supervisor leaves (an error of its own)."""
        self._signal_all(signal.SIGTERM)
        for process in self.workers.values():
            process.join(timeout=10)
            if process.exitcode is None:
                process.kill()
                process.join()


def _exit_description(code: int | None) -> str:
    if code is not None and code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


def serve_worker(spec: WorkerSpec, index: int, server_socket: socket.socket, board: WorkerBoard,
                 supervisor_pid: int) -> None:
    """One worker process: build the app with its seat on the board and serve on the
    supervisor's socket. A start-up error is one line on stderr and exit code 2 (usage) or 1."""
    from thinkswitch.cli.serve_app import (
        build_app,
        reload_on_hangup,
        resolve_options,
        start_learning,
    )
    from thinkswitch.server.protocol import server_config

    _stop_with_supervisor(supervisor_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # until uvicorn's own handler (see `_start`)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    seat = Seat(board, index, supervisor_pid)
    workers = board.workers
    try:
        loaded, options = resolve_options(spec.config, spec.server_flags)
        app = build_app(loaded, options, spec.settings_flags, seat)
        reload_on_hangup(app)
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP, signal.SIGUSR1})
        if spec.learn is not None and index == 0:  # one learner; the others follow its promotions
            start_learning(app, spec.learn, promoted=seat.reload_everywhere)
        engine = app.state.switch.engine
        if engine.exclusive and index == 0:
            print(f"thinkswitch: warning: the {engine.name} engine generates one request at a "
                  f"time in each worker and each of the {workers} workers loads its own model: "
                  "more memory, and faster only with cores to spare", file=sys.stderr)
    except (ThinkswitchError, OSError) as error:
        print(f"thinkswitch worker {index}: {error}", file=sys.stderr)
        sys.exit(error.exit_code if isinstance(error, ThinkswitchError) else 1)
    server = uvicorn.Server(server_config(app, options.host, options.port,
                                          options.header_timeout_s, options.max_header_bytes,
                                          options.write_timeout_s, log_level="warning"))
    banner = (f"thinkswitch serving {app.state.engine_label} at "
              f"http://{options.host}:{options.port}/v1 (default mode {options.default_mode}"
              f"{', API keys required' if options.api_keys else ''})") if index == 0 else ""
    threading.Thread(target=_announce, args=(server, board, index, banner),
                     name="thinkswitch-ready", daemon=True).start()
    server.run(sockets=[server_socket])


def _announce(server: uvicorn.Server, board: WorkerBoard, index: int, banner: str) -> None:
    """Mark the worker ready on the board once uvicorn serves (and say so, for worker 0)."""
    while not server.started:
        if server.should_exit:
            return
        time.sleep(0.02)
    board.mark_ready(index, os.getpid())
    if banner:
        print(banner, flush=True)


def _stop_with_supervisor(supervisor_pid: int) -> None:
    """Have the kernel send this worker SIGTERM when its supervisor dies (SIGKILL, the OOM
    killer), whether the worker is still starting (SIGTERM ends it) or serving (it drains and
    stops): no worker outlives its supervisor holding the port."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != supervisor_pid:  # it died before the request above
        os.kill(os.getpid(), signal.SIGTERM)
