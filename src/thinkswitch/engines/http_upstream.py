"""`HttpUpstreamEngine`: what the engines for the native reasoning APIs (Anthropic Messages,
OpenAI Responses) share around their wire formats.

Each POSTs one streamed request to `{base_url}{path}` through one `httpx.Client` (its headers,
the connect and read timeouts), reads the stream's named server-sent events, maps an error
status or a broken connection to the switch's errors (`upstream_common`), keeps the answer's
opaque reasoning for the next turn (`ReasoningMemo`) and ends with the usage and the finish.
A subclass says only what differs: its path and headers, the request body, how one event is
read into its reading state, and how that state becomes the usage and the finish.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import closing
from typing import Any, ClassVar, Generic, Self, TypeVar

import httpx

from thinkswitch.engines.base import Engine
from thinkswitch.engines.keepalive import sent_again_once
from thinkswitch.engines.upstream_common import (
    ReasoningMemo,
    iter_events,
    reach_error,
    status_error,
    turn_key,
)
from thinkswitch.kernel.errors import EngineUnavailableError, UsageError
from thinkswitch.kernel.events import EngineEvent, Finish, UsageReport
from thinkswitch.kernel.plan import GenerationRequest
from thinkswitch.kernel.result import FinishReason
from thinkswitch.settings import Settings
from thinkswitch.thinking.dialects import Dialect

ReadingT = TypeVar("ReadingT")


class HttpUpstreamEngine(Engine, Generic[ReadingT]):
    """A model behind one streamed HTTP endpoint; `ReadingT` is what one answer has produced
    so far (see the module docstring)."""

    #: The endpoint below the base URL (`/messages`, `/responses`).
    path: ClassVar[str]

    def __init__(self, *, base_url: str, model: str | None, api_key: str | None = None,
                 connect_timeout_s: float = 5.0, read_timeout_s: float = 120.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        if not model:
            raise UsageError(f"the {self.name} engine needs a model name (--model)")
        self._model = model
        self.url = f"{base_url.rstrip('/')}{self.path}"
        self._client = httpx.Client(headers=self.headers(api_key), transport=transport,
                                    timeout=httpx.Timeout(read_timeout_s,
                                                          connect=connect_timeout_s))
        self.memo = ReasoningMemo()

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(base_url=settings.base_url, model=settings.model, api_key=settings.api_key,
                   connect_timeout_s=settings.connect_timeout_s,
                   read_timeout_s=settings.read_timeout_s)

    @property
    def model(self) -> str:
        return self._model

    def supports(self, dialect: Dialect) -> bool:
        return dialect.name == self.default_dialect

    def close(self) -> None:
        self._client.close()

    @staticmethod
    @abstractmethod
    def headers(api_key: str | None) -> dict[str, str]:
        """The headers of every request (the API's version, the key)."""

    @abstractmethod
    def body(self, request: GenerationRequest, dialect: Dialect) -> dict[str, Any]:
        """The JSON body of the streamed request."""

    @abstractmethod
    def start_reading(self) -> ReadingT:
        """The empty state of one answer."""

    @abstractmethod
    def read(self, event: dict[str, Any], reading: ReadingT) -> Iterator[EngineEvent]:
        """The deltas of one stream event, noting the rest in `reading`."""

    @abstractmethod
    def finish(self, reading: ReadingT) -> Iterator[EngineEvent]:
        """The usage and the finish once the stream ended (an error if it ended too soon)."""

    def execute(self, request: GenerationRequest, dialect: Dialect) -> Iterator[EngineEvent]:
        reading = self.start_reading()
        started = False
        try:
            body = self.body(request, dialect)
            with closing(sent_again_once(lambda: self._client.send(  # the keep-alive race
                    self._client.build_request("POST", self.url, json=body), stream=True))
                         ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise status_error(self.url, response)
                for event in iter_events(response.iter_lines(), self.url):
                    for out in self.read(event, reading):
                        started = True
                        yield out
        except httpx.HTTPError as error:
            raise reach_error(self.url, error, started) from error
        yield from self.finish(reading)

    def failed_mid_stream(self, detail: str) -> EngineUnavailableError:
        """An `error` event of the stream (the answer is cut; part of it was sent)."""
        return EngineUnavailableError(f"{self.url} failed mid-stream: {detail}")

    def ended_before(self, what: str) -> EngineUnavailableError:
        """A stream that stopped before its last event."""
        return EngineUnavailableError(f"{self.url} ended its stream before {what}")

    def finished(self, answer: str, calls: Iterable[str], reasoning: list[dict[str, Any]],
                 usage: UsageReport, reason: FinishReason) -> Iterator[EngineEvent]:
        """Keep the answer's opaque `reasoning` for when its turn (`answer`, tool `calls`)
        comes back, then the usage and the finish."""
        self.memo.keep(turn_key(answer, calls), reasoning)
        yield usage
        yield Finish(reason)
