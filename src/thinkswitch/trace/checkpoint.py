"""Signed checkpoints: the chain's head hash and record count, signed with Ed25519.

A hash chain alone proves nothing to someone who can write the database: they can edit a
record and recompute every hash after it with plain SHA-256, or delete the newest records. A
checkpoint signs "the chain holds records `first`..`count` and record `count` has hash `head`"
at time `at` (records before `first` were removed by retention). Anything changed, removed,
inserted or re-attributed at or before `count` then shows as a mismatch against a signature
nobody without the private key can make (the model of Certificate Transparency's signed tree
heads and CloudTrail's signed digest files). Records after the newest checkpoint are chained
but not yet signed, and `verify` says so.

Checkpoints are written every `every_records` appends, every `every_s` seconds while records
wait unsigned, after a retention purge, and when the store closes.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from thinkswitch.kernel.errors import ThinkswitchError
from thinkswitch.trace.record import canonical, strict_json
from thinkswitch.trace.signing import PublicKey, SigningKey

FORMAT: Literal["thinkswitch-checkpoint/1"] = "thinkswitch-checkpoint/1"
log = logging.getLogger(__name__)


class Checkpoint(BaseModel):
    """One signed statement about the chain; `signature` covers every other field."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["thinkswitch-checkpoint/1"] = FORMAT
    first: int = Field(ge=1, description="position of the first record still kept")
    count: int = Field(ge=0, description="position of the head record (records ever chained)")
    head: str = Field(description="hash of record `count`")
    at: float = Field(description="when it was signed (Unix time)")
    key_id: str = Field(description="id of the signing key")
    signature: str = Field("", description="Ed25519 signature of the payload, base64")

    def payload(self) -> bytes:
        return canonical(self.model_dump(exclude={"signature"})).encode("utf-8")

    def line(self) -> str:
        return canonical(self.model_dump())

    @classmethod
    def signed(cls, key: SigningKey, first: int, count: int, head: str,
               at: float | None = None) -> Checkpoint:
        unsigned = cls(first=first, count=count, head=head, at=time.time() if at is None
                       else at, key_id=key.key_id)
        signature = base64.b64encode(key.sign(unsigned.payload())).decode("ascii")
        return unsigned.model_copy(update={"signature": signature})

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """From its JSON line; raises ValueError (with the reason) when it is not one."""
        value: Any = strict_json(text)
        return cls.model_validate(value)

    def valid_under(self, key: PublicKey) -> bool:
        if key.key_id != self.key_id:
            return False
        try:
            signature = base64.b64decode(self.signature, validate=True)
        except (binascii.Error, ValueError):
            return False
        return key.verifies(signature, self.payload())

    def when(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.at))


class CheckpointSchedule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    every_records: int = Field(100, ge=1, le=10_000_000,
                               description="sign after this many appends")
    every_s: float = Field(60.0, gt=0, le=86_400,
                           description="sign after this long while records wait unsigned")


class SignsCheckpoints(Protocol):
    """What a `Checkpointer` needs of its store (the store implements it)."""

    def sign_checkpoint(self, key: SigningKey) -> Checkpoint | None: ...


class Checkpointer:
    """Signs the store's head on its schedule. Owned by one store; `close` signs a last time.

    A checkpoint that cannot be written (a dropped database connection) is logged and tried
    again at the next occasion: the records themselves are already committed.
    """

    def __init__(self, store: SignsCheckpoints, key: SigningKey,
                 schedule: CheckpointSchedule) -> None:
        self.store = store
        self.key = key
        self.schedule = schedule
        self._lock = threading.Lock()
        self._pending = 0
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="trace-checkpoints", daemon=True)
        self._ticker.start()

    def appended(self) -> None:
        with self._lock:
            self._pending += 1
            due = self._pending >= self.schedule.every_records
        if due:
            self.sign_now()

    def sign_now(self) -> Checkpoint | None:
        with self._lock:
            self._pending = 0
        try:
            return self.store.sign_checkpoint(self.key)
        except ThinkswitchError as error:
            log.warning("trace checkpoint not written (will retry): %s", error)
            with self._lock:
                self._pending += 1
            return None

    def _tick(self) -> None:
        while not self._stop.wait(self.schedule.every_s):
            with self._lock:
                waiting = self._pending > 0
            if waiting:
                self.sign_now()

    def close(self) -> None:
        """Stop the timer and sign whatever is unsigned (the store's own close calls this)."""
        self._stop.set()
        if self._ticker is not threading.current_thread():
            self._ticker.join()
        self.sign_now()
