"""`serve --learn N`: retrain on the shadow pairs every N new labelled ones, promote behind
the guard, and reload — all off the request path, in one background thread.

After each answer the switch wakes the thread (an event; the answer is never delayed). The
thread counts the store's labelled pairs; once N more than at the last round have arrived it
trains a candidate on all of them (the guard judges its recipe by rolling origin, so nothing
need be held out; see triage.guard), runs the guard against the live model, and on a pass
installs the candidate, records the promotion and swaps the live policy.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.errors import ThinkswitchError
from thinkswitch.kernel.request import Request
from thinkswitch.kernel.result import Result
from thinkswitch.shadow.promotion import promote, reload_live, store_examples
from thinkswitch.switch.pipeline import Switch
from thinkswitch.triage.guard import DEFAULT_GUARD, GuardOptions, Verdict
from thinkswitch.triage.trace_training import train_on_examples


@dataclass
class LearnerState:
    rounds: int = 0
    promotions: int = 0
    last_labelled: int = 0
    last_verdict: str = ""
    last_error: str = ""


class Learner:
    """An after-answer step (it only wakes its thread) and the thread that learns."""

    name = "learn"

    def __init__(self, switch: Switch, every: int, policy_dir: Path,
                 options: GuardOptions = DEFAULT_GUARD, holdout: float = 0.0,
                 promoted: Callable[[], None] | None = None) -> None:
        """`promoted` is called after each promotion (a server of several workers: the
        others reload)."""
        if switch.recorder is None:
            raise ThinkswitchError("--learn needs the trace store (recording on)")
        self.switch = switch
        self.store = switch.recorder.store
        self.every = every
        self.policy_dir = policy_dir
        self.options = options
        self.holdout = holdout
        self.promoted = promoted
        self.state = LearnerState()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, request: Request, decision: Decision, result: Result) -> None:
        self._wake.set()

    def start(self) -> None:
        self.switch.after_answer = (*self.switch.after_answer, self)
        self._thread = threading.Thread(target=self._run, name="thinkswitch-learn", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=30)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.check()
            except ThinkswitchError as error:  # a bad round is reported, the server goes on
                self.state.last_error = str(error)

    def check(self) -> Verdict | None:
        """One round if N new labelled pairs arrived since the last; its verdict, else None."""
        examples = [e for e in store_examples(self.store) if e.labelled]
        if len(examples) < self.state.last_labelled + self.every:
            return None
        self.state.last_labelled = len(examples)
        self.state.rounds += 1
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        trained = train_on_examples(examples, holdout=self.holdout,
                                    version=f"traces-{stamp}-r{self.state.rounds}")
        self.policy_dir.mkdir(parents=True, exist_ok=True)
        candidate = self.policy_dir / f"candidate-r{self.state.rounds}.npz"
        trained.model.save(candidate)
        settings = self.switch.settings
        verdict, record = promote(self.store, candidate, self.policy_dir,
                                  settings.triage_model, self.options, examples=examples)
        candidate.unlink(missing_ok=True)
        self.state.last_verdict = verdict.reason
        if record is not None:
            self.state.promotions += 1
            reload_live(self.switch.policy, self.store, settings.triage_model, settings.knob)
            if self.promoted is not None:
                self.promoted()
        return verdict
