"""The closed learning loop through a real server: `thinkswitch serve` on the replay engine,
driven over HTTP by the official OpenAI SDK (see bench/learning_loop.py for what is reported).

One run: a `thinkswitch serve --engine replay --model M --shadow-rate R --api-key K --db D`
process (auto mode, the shipped `learned` prior, its own SQLite store and state directory, the
shadow draw seeded, the shadow token cap lifted since replay compresses time) is
asked the recorded questions in a seeded random order, one at a time, each with the thinking
budget of the recorded run that stands for "on" (`thinking: {type: auto, budget_tokens: B}`).
After each request the client waits until the server's shadow run, if one was drawn, is done
(its /metrics): a server with spare capacity between requests, so that a shadow run is not
dropped because the previous one is still going (the drop itself is tested elsewhere). Every
`every` requests it runs one learning round on the server's store with the product's functions —
`train_on_examples` on the store's labelled pairs (nothing held out), `shadow.promotion.promote`
(the guard; a promotion is appended to the store's hash chain with both checksums) — exactly
what `serve --learn` does in its thread, and on a promotion asks the server to take it with
`POST /admin/policy/reload`. The round runs at the checkpoint rather than in the server's own
`--learn` thread so that it happens at the same request as the in-process loop's (the thread
counts labelled pairs, not requests, and runs while requests go on). The estimates come from
`shadow.report.build_report` on the store (what `thinkswitch triage report` prints).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx
import numpy as np
from loopback import VENV_BIN, free_port, running
from openai import OpenAI

from thinkswitch.shadow.promotion import PROMOTION, promote, store_examples
from thinkswitch.shadow.report import build_report
from thinkswitch.trace.backends import open_store
from thinkswitch.triage.features import Featurizer
from thinkswitch.triage.guard import GuardOptions
from thinkswitch.triage.learned import LearnedModel
from thinkswitch.triage.trace_training import train_on_examples

KEY = "learning-loop-key"
#: The replay engine's name of each recorded model, and the budget of its "on" run.
SERVED = {"gemini-2.5-flash": ("gemini-2.5-flash", 1024),
          "claude-sonnet4": ("claude-sonnet-4", 4096),
          "Qwen3-8B": ("Qwen3-8B", 1024)}


@dataclass
class HttpRun:
    """What one run through the server saw: per request the decision, and per checkpoint the
    round's verdict and the report's loss estimate."""

    modes: list[str] = field(default_factory=list)
    policies: list[str] = field(default_factory=list)
    budgets: list[int | None] = field(default_factory=list)
    shadowed: set[int] = field(default_factory=set)
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def shadow_settled(http: httpx.Client, url: str, timeout_s: float = 30.0) -> None:
    """Wait until every shadow run the server drew has been recorded, dropped or failed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        counts: dict[str, float] = {}
        for line in http.get(f"{url}/metrics", headers={"Authorization": f"Bearer {KEY}"}
                             ).text.splitlines():
            if line.startswith(("thinkswitch_shadow_total", "thinkswitch_shadow_dropped_total")):
                name, value = line.rsplit(" ", 1)
                counts[name] = float(value)
        drawn = counts.get('thinkswitch_shadow_total{outcome="drawn"}', 0.0)
        done = sum(v for k, v in counts.items() if "drawn" not in k)
        if done >= drawn:
            return
        time.sleep(0.02)
    raise RuntimeError("shadow runs did not settle")


def learning_round(db: Path, policy_dir: Path, version: str, seed: int,
                   features: Featurizer | None) -> tuple[dict[str, Any], bool]:
    """Train on the store's labelled pairs and promote behind the guard (as `serve --learn`);
    the verdict's summary and whether it promoted."""
    store = open_store(db)
    try:
        examples = store_examples(store)
        trained = train_on_examples(examples, holdout=0.0, version=version, features=features)
        candidate = policy_dir / f"candidate-{version}.npz"
        trained.model.save(candidate)
        verdict, record = promote(store, candidate, policy_dir, None, GuardOptions(seed=seed),
                                  examples=examples)
        candidate.unlink(missing_ok=True)
        return verdict.summary(), record is not None
    finally:
        store.close()


def estimate(db: Path) -> dict[str, Any]:
    """The store's report (what `thinkswitch triage report --json` prints), accuracy part,
    and the live model (the latest promotion's file, loaded; None: the shipped prior)."""
    store = open_store(db)
    try:
        requests = [r for r in store.records(kind="request")
                    if r.decision.get("requested") == "auto"]
        report = build_report(requests, store.shadow_pairs())
        promotions = store.records(policy=PROMOTION)
    finally:
        store.close()
    loss = report.accuracy.loss if report.accuracy is not None else None
    latest = promotions[0].answer if promotions else None
    live = LearnedModel.load(Path(str(latest["path"]))) if isinstance(latest, dict) else None
    return {"labelled_pairs": report.labelled_pairs, "promotions_recorded": len(promotions),
            "loss": None if loss is None else (loss.value, loss.low, loss.high),
            "live_model": live}


def run_http(name: str, questions: list[str], order: np.ndarray, rate: float, seed: int,
             every: int, features: Featurizer | None = None) -> HttpRun:
    """One seeded run of `order` (indices into `questions`) through a fresh server."""
    model, budget = SERVED[name]
    result = HttpRun()
    started = time.perf_counter()
    with TemporaryDirectory() as scratch:
        db, state = Path(scratch) / "traces.sqlite", Path(scratch) / "state"
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        command = [str(VENV_BIN / "thinkswitch"), "serve", "--engine", "replay", "--model", model,
                   "--port", str(port), "--shadow-rate", str(rate), "--db", str(db),
                   "--api-key", KEY, "--policy", "learned", "--meta-endpoints", "key"]
        # Replay answers in milliseconds what took the models seconds: the shadow token cap
        # per minute is lifted, as the traffic here is ~100 times denser than it was.
        env = {"XDG_DATA_HOME": str(state), "THINKSWITCH_SHADOW_SEED": str(seed),
               "THINKSWITCH_SHADOW_TOKENS_PER_MINUTE": str(10**9)}
        with running(command, f"{url}/health", env=env), \
                httpx.Client(timeout=30) as http:
            client = OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0)
            for step, index in enumerate(order, start=1):
                response = client.chat.completions.create(
                    model=model, messages=[{"role": "user", "content": questions[index]}],
                    extra_body={"thinking": {"type": "auto", "budget_tokens": budget}})
                decision = (response.model_extra or {})["thinkswitch"]["decision"]
                result.modes.append(str(decision["mode"]))
                result.policies.append(str(decision["policy"]))
                result.budgets.append(decision.get("budget"))
                shadow_settled(http, url)  # a server with spare capacity between requests
                if step % every:
                    continue
                summary, promoted = learning_round(db, state / "policies", f"s{seed}-{step}",
                                                   seed, features)
                if promoted:
                    reloaded = http.post(f"{url}/admin/policy/reload",
                                         headers={"Authorization": f"Bearer {KEY}"})
                    reloaded.raise_for_status()
                result.checkpoints.append({"step": step, "promoted": promoted,
                                           "guard": summary, **estimate(db)})
            store = open_store(db)
            try:
                asked = {questions[i]: position for position, i in enumerate(order)}
                result.shadowed = {asked[pair.question] for pair in store.shadow_pairs()
                                   if pair.question in asked}
            finally:
                store.close()
    result.seconds = time.perf_counter() - started
    return result
