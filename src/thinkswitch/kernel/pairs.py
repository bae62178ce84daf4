"""Shadow pairs: for a random share of auto requests, the other side run after the answer.

A `ShadowPair` is what the trace store keeps of one such request: the side the user got
(`live`) and the side run in the shadow (`shadow`), each with its tokens, seconds and — where
it is known — whether it was right; the judgement of whether the two answers agree; and the
propensity, the chance this request had of being shadowed, which makes estimates over the pairs
unbiased for all auto traffic (see `thinkswitch.outcomes.estimate`).

Pairs are trace records of kind `shadow`, in the hash chain, linked to the request's record by
`request_id`. A redacted store keeps a pair's label (modes, correctness, agreement, tokens,
score) and no text: `redacted` swaps the question and both answers for salted fingerprints.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Side = Literal["off", "on"]
#: How the agreement of a pair was judged (see `thinkswitch.shadow.agreement`).
JudgeMethod = Literal["math", "choice", "text", "code", "judge", "none"]
#: Where a side's correctness came from: a bench checker, a replay outcome table, a person.
CorrectnessSource = Literal["bench", "replay", "rating"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SideOutcome(_Frozen):
    """One side of a pair: how it was run, what it cost, and whether it was right."""

    mode: Side
    budget: int | None = Field(None, ge=1, description="thinking cap; None when mode is off")
    answer: str | None = Field(None, description="the answer text; None in a redacted store")
    answer_sha256: str | None = Field(
        None, description="salted fingerprint of the answer, set when the text is redacted")
    prompt_tokens: int = Field(0, ge=0)
    thinking_tokens: int = Field(0, ge=0)
    answer_tokens: int = Field(0, ge=0)
    seconds: float = Field(0.0, ge=0.0, description="wall time of the whole side")
    finish_reason: str | None = None
    correct: bool | None = Field(None, description="whether the answer was right, if known")

    @property
    def generated_tokens(self) -> int:
        return self.thinking_tokens + self.answer_tokens


class Agreement(_Frozen):
    """Do the two answers say the same? `agree` is None when they could not be judged."""

    agree: bool | None
    method: JudgeMethod
    note: str = Field("", description="why, in a few words (the extracted answers, a test)")


class ShadowPair(_Frozen):
    """One shadowed auto request: the user's side, the other side, and their judgement."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    created_at: float = Field(default_factory=time.time)
    request_id: str = Field(description="id of the request's own trace record")
    caller: str = ""
    engine: str = ""
    model: str = ""
    policy: str = Field(description="the live decision's policy with its version, "
                        "e.g. learned@v2")
    score: float | None = Field(None, description="the live decision's score, if any")
    propensity: float = Field(gt=0.0, le=1.0, description="the chance this request had of "
                              "being shadowed (the shadow rate when it was drawn)")
    question: str | None = Field(None, description="the text triage read; None when redacted")
    question_sha256: str | None = Field(None, description="its salted fingerprint, if redacted")
    live: SideOutcome
    shadow: SideOutcome
    agreement: Agreement
    correctness_source: CorrectnessSource | None = None
    judge_tokens: int = Field(0, ge=0, description="tokens an optional judge call spent "
                              "(counted as shadow tokens)")
    redacted: bool = False

    def side(self, mode: Side) -> SideOutcome:
        """The side that ran with thinking `mode`."""
        return self.live if self.live.mode == mode else self.shadow

    @property
    def correctness_known(self) -> bool:
        return self.live.correct is not None and self.shadow.correct is not None

    @property
    def shadow_tokens(self) -> int:
        """Everything the shadow work generated: the other side and any judge call."""
        return self.shadow.generated_tokens + self.judge_tokens

    @property
    def thinking_paid(self) -> bool | None:
        """The training label where correctness is known: thinking turned wrong into right."""
        if not self.correctness_known:
            return None
        return bool(self.side("on").correct) and not self.side("off").correct

    def redacted_with(self, salt: str) -> ShadowPair:
        """The pair without its texts: fingerprints in their place, the label kept."""
        if self.redacted:
            return self
        return self.model_copy(update={
            "question": None, "question_sha256": _fingerprint(self.question, salt),
            "live": _hide(self.live, salt), "shadow": _hide(self.shadow, salt),
            "agreement": self.agreement.model_copy(update={"note": ""}), "redacted": True})

    def record_fields(self) -> dict[str, Any]:
        """What the pair's trace record holds besides the pair itself: the live decision's
        mode and policy (so the store's columns filter pairs like requests) and the shadow
        side's usage and timings (what the shadow work cost, apart from the caller's)."""
        return {
            "id": self.id, "created_at": self.created_at, "caller": self.caller,
            "engine": self.engine, "model": self.model, "kind": "shadow", "ref": self.request_id,
            "decision": {"requested": "auto", "mode": self.live.mode, "policy": self.policy,
                         "score": self.score, "budget": self.live.budget},
            "usage": {"prompt_tokens": self.shadow.prompt_tokens,
                      "thinking_tokens": self.shadow.thinking_tokens,
                      "answer_tokens": self.shadow.answer_tokens + self.judge_tokens},
            "timings": {"total_s": self.shadow.seconds},
            "finish_reason": self.shadow.finish_reason,
            "redacted": self.redacted,
        }


def _fingerprint(text: str | None, salt: str) -> str | None:
    if text is None:
        return None
    return hashlib.sha256((salt + text).encode("utf-8")).hexdigest()


def _hide(side: SideOutcome, salt: str) -> SideOutcome:
    return side.model_copy(update={"answer": None,
                                   "answer_sha256": _fingerprint(side.answer, salt)})
