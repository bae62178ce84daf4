"""Promotions in the trace store, and the live model a server serves.

A promotion copies the candidate's file to `<policy dir>/<sha256[:16]>.npz` (content-addressed,
never overwritten) and appends a trace record of kind `promotion` whose decision names the new
policy version and whose body holds both models' checksums and the guard's verdict: in the
hash chain, like every decision. The live model of a store is the latest promotion's file (or
the configured one when nothing was promoted); a server re-reads it on SIGHUP or on
`POST /admin/policy/reload`. The labelled examples come from the store's shadow pairs and
from people's ratings (feedback records).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from thinkswitch.kernel.errors import DataError
from thinkswitch.shadow.pair_labels import labelled_pairs
from thinkswitch.trace.feedback import thinking_label
from thinkswitch.trace.record import TraceRecord
from thinkswitch.trace.store import TraceStore
from thinkswitch.triage.base import TriagePolicy
from thinkswitch.triage.examples import LabelledExample, from_pair
from thinkswitch.triage.guard import DEFAULT_GUARD, GuardOptions, Verdict
from thinkswitch.triage.learned import LearnedModel, LearnedPolicy, default_model_path
from thinkswitch.triage.promotion import (
    LiveModel,
    LivePolicy,
    checksum,
    guard,
    load_candidate,
)

#: The `policy` column of promotion records.
PROMOTION = "promotion"


def live_model(store: TraceStore, configured: Path | None) -> LiveModel:
    """The store's latest promoted model, else the configured (or shipped) one."""
    latest = store.records(kind="promotion", limit=1)
    if latest and isinstance(latest[0].answer, dict):
        body = latest[0].answer
        return LiveModel(Path(str(body["path"])), str(body["candidate_sha256"]),
                         str(body["candidate_version"]))
    path = configured or default_model_path()
    return LiveModel(path, checksum(path), LearnedModel.load(path).version)


def store_examples(store: TraceStore, since: float | None = None) -> list[LabelledExample]:
    """The store's shadow pairs (with their requests' ratings joined in, see
    `thinkswitch.shadow.pair_labels`) and the other ratings (feedback records) as labelled
    examples; a rating whose pair it fully labelled is not counted twice."""
    pairs = labelled_pairs(store, since=since)
    examples = [from_pair(pair) for pair in pairs]
    carried = {pair.request_id for pair in pairs if pair.correctness_known}
    for feedback in store.records(since=since, kind="feedback"):
        if feedback.ref in carried and (feedback.feedback or {}).get("step") is None:
            continue
        request = store.get(feedback.ref) if feedback.ref else None
        rated = from_rating(feedback, request) if request is not None else None
        if rated is not None:
            examples.append(rated)
    return examples


def promote(store: TraceStore, candidate_path: Path, policy_dir: Path, configured: Path | None,
            options: GuardOptions = DEFAULT_GUARD, force: bool = False,
            examples: Sequence[LabelledExample] | None = None,
            now: Callable[[], float] = time.time) -> tuple[Verdict, TraceRecord | None]:
    """Judge `candidate_path` against the store's live model on its shadow pairs; if the guard
    passes (or `force`), install it and record the promotion. Returns the verdict and the
    promotion record (None when refused)."""
    candidate = load_candidate(candidate_path)
    current = live_model(store, configured)
    live = LearnedModel.load(current.path)
    if candidate.features.header() != live.features.header():
        raise DataError(f"refused candidate {candidate_path}: its features "
                        f"{candidate.features.header()} differ from the live policy's")
    verdict = guard(live, candidate, store_examples(store) if examples is None else examples,
                    options)
    if not verdict.promote and not force:
        return verdict, None
    digest = checksum(candidate_path)
    policy_dir.mkdir(parents=True, exist_ok=True)
    installed = policy_dir / f"{digest[:16]}.npz"
    if not installed.exists():
        partial = installed.with_suffix(".partial")
        shutil.copyfile(candidate_path, partial)
        partial.replace(installed)  # atomic: a reader sees the whole file or none
    body: dict[str, Any] = {
        "path": str(installed), "candidate_sha256": digest,
        "candidate_version": candidate.version, "live_sha256": current.sha256,
        "live_version": current.version, "forced": force and not verdict.promote,
        "guard": verdict.summary(), "at": now()}
    record = store.append(TraceRecord(
        kind="promotion", decision={"policy": PROMOTION, "mode": None,
                                    "to": f"learned@{candidate.version}"},
        answer=body))
    return verdict, record


def live_policy(store: TraceStore, configured: Path | None, knob: float | None) -> LivePolicy:
    """The store's live learned policy, ready to be reloaded in place."""
    model = live_model(store, configured)
    policy = LivePolicy(LearnedPolicy(LearnedModel.load(model.path), knob), model.sha256)
    if checksum(model.path) != model.sha256:
        raise DataError(f"policy file {model.path} does not match its recorded checksum")
    return policy


def reload_live(policy: TriagePolicy, store: TraceStore | None, configured: Path | None,
                knob: float | None) -> str:
    """Make `policy` (a server's `LivePolicy`) take the store's latest promoted model; what
    happened, in one line. Refused (UsageError) for a policy that cannot be reloaded."""
    from thinkswitch.kernel.errors import UsageError

    if not isinstance(policy, LivePolicy) or store is None:
        raise UsageError("only the learned policy with a trace store can be reloaded")
    model = live_model(store, configured)
    changed = policy.reload(model, knob)
    verb = "now" if changed else "already"
    return f"{verb} serving learned@{model.version} (sha256 {model.sha256[:16]})"


def from_rating(feedback: TraceRecord, request: TraceRecord) -> LabelledExample | None:
    """A person's verdict as a label (see trace.feedback.thinking_label): thinking was needed
    (off wrong, on right) or was not (both right); None when it says nothing about it."""
    label = thinking_label(feedback)
    users = [m.get("content") for m in request.messages if m.get("role") == "user"]
    if label is None or not users or not isinstance(users[-1], str) or request.redacted:
        return None
    mode = request.decision.get("mode")
    return LabelledExample(
        id=request.id, question=users[-1], side="on" if mode == "on" else "off",
        correct_off=0.0 if label else 1.0, correct_on=1.0, agree=None, propensity=1.0,
        at=feedback.created_at, tokens_off=0.0, tokens_on=0.0,
        policy=str(request.decision.get("policy") or ""), source="rating")
