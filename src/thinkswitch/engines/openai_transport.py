"""The wire under the `openai` engine: streamed calls to the replicas of one model server.

Each call goes to the least busy usable replica (`pool.py`: circuit breaker, health checks).
A failure that is the replica's fault (unreachable, timed out, 5xx/429, a broken stream) is told
to the pool and to the request's `Route`, so the engine can retry elsewhere; a 4xx other than
429 is the request's own fault and is told without our URLs. Connect and inter-chunk read
timeouts are httpx's; first-token and total deadlines are held by `deadlines.StreamGuard`.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Mapping

import httpx

from thinkswitch.engines.deadlines import StreamGuard
from thinkswitch.engines.keepalive import sent_again_once
from thinkswitch.engines.pool import ReplicaPool, Route, Watchdog, split_urls
from thinkswitch.engines.sse import ChunkReader, StreamChunk, error_message, one_line
from thinkswitch.kernel.errors import EngineUnavailableError, UpstreamRejectedError
from thinkswitch.kernel.events import EngineEvent


def reach_error(url: str, error: Exception) -> EngineUnavailableError:
    reason = str(error) or type(error).__name__
    if isinstance(error, httpx.TimeoutException) and "timed out" not in reason.lower():
        reason = f"timed out ({reason})"
    return EngineUnavailableError(f"cannot reach {url}: {one_line(reason)}")


def _detail(response: httpx.Response) -> str:
    """What an upstream's error response says, in one line."""
    try:
        message = error_message(response.json())
    except ValueError:
        message = None
    return message or one_line(response.text) or response.reason_phrase


def _rejected(response: httpx.Response) -> UpstreamRejectedError:
    """A 4xx (not 429) from the upstream: the request's fault, told without our URLs."""
    return UpstreamRejectedError(
        f"the model server refused the request (HTTP {response.status_code}): "
        f"{_detail(response)}")


def status_error(url: str, response: httpx.Response) -> EngineUnavailableError:
    return EngineUnavailableError(
        f"{url} answered HTTP {response.status_code}: {_detail(response)}")


class ChatTransport:
    """An HTTP client over a replica pool: `stream` one chat call, list models, probe health."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None,
        connect_timeout_s: float,
        read_timeout_s: float,
        first_token_timeout_s: float,
        total_timeout_s: float,
        breaker_failures: int,
        breaker_cooldown_s: float,
        health_interval_s: float,
        transport: httpx.BaseTransport | None,
    ) -> None:
        self.pool = ReplicaPool(
            split_urls(base_url),
            breaker_failures=breaker_failures,
            breaker_cooldown_s=breaker_cooldown_s,
            health_interval_s=health_interval_s,
            probe=self._probe,
        )
        self._watchdog = Watchdog()
        self._deadlines = (read_timeout_s, first_token_timeout_s, total_timeout_s)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(read_timeout_s, connect=connect_timeout_s),
            transport=transport,
        )
        # for each replica, once it is first called: its chat URL, parsed, and the transport
        # the client picks for it (a mocked one, or the pool of connections, through an
        # environment proxy where one applies); chat calls go to it directly (`_send`). None:
        # this httpx has no `_transport_for_url` (a private method), calls go through `send`
        self._chat: dict[str, tuple[httpx.URL, httpx.BaseTransport | None]] = {}

    def close(self) -> None:
        self.pool.close()
        self._watchdog.close()
        self._client.close()

    def _probe(self, base_url: str) -> bool:
        """Health check of one replica: it lists its models."""
        response = self._client.get(f"{base_url}/models", timeout=self._client.timeout.connect)
        return response.status_code < 400

    def first_model(self) -> str:
        """The first model listed by the first replica that answers."""
        for base in self.pool.urls:
            url = f"{base}/models"
            try:
                response = self._client.get(url)
                break
            except (httpx.HTTPError, httpx.InvalidURL) as error:
                if base == self.pool.urls[-1]:
                    raise reach_error(url, error) from error
        if response.status_code >= 400:
            raise status_error(url, response)
        try:
            data = response.json().get("data")
            return str(data[0]["id"])
        except (ValueError, AttributeError, LookupError, TypeError):
            raise EngineUnavailableError(f"{url} lists no model; set the model name") from None

    def stream(
        self, body: Mapping[str, object], route: Route
    ) -> Generator[StreamChunk, None, None]:
        """The chunks of one call to a replica the pool picks; closing this generator closes
        the response. A failure that is the replica's fault is told to the pool and `route`."""
        lease = self.pool.acquire(route.tried)
        url = f"{lease.url}/chat/completions"
        read_s, first_s, total_s = self._deadlines
        guard = StreamGuard(
            self._watchdog, url, read_s=read_s, first_token_s=first_s, total_s=total_s
        )
        fault: str | None = None
        judged = True
        try:
            response = self._send(lease.url, body, guard.timeout(self._client.timeout))
            try:
                guard.attach(response)
                if response.status_code >= 400:
                    response.read()
                    # a 4xx other than 429 is the request's fault, not the replica's
                    refused = response.status_code < 500 and response.status_code != 429
                    raise _rejected(response) if refused else status_error(url, response)
                reads = response.iter_bytes()
                reader = ChunkReader(url)
                for data in reads:
                    # the chunks of one read arrived together: the deadlines are checked once
                    chunks = reader.feed(data)
                    guard.chunk(any(chunk.reasoning or chunk.content or chunk.tool_calls
                                    for chunk in chunks))
                    yield from chunks
                    if reader.done:
                        break
                yield from reader.end()
                for _ in reads:  # past [DONE] to the body's end: the connection is reused
                    pass
            finally:
                response.close()
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as error:
            failure = guard.expired() or reach_error(url, error)
            fault = str(failure)
            raise failure from error
        except EngineUnavailableError as error:
            fault = str(error)
            raise
        except GeneratorExit:  # the caller stopped reading: says nothing about the replica
            judged = False
            raise
        finally:
            guard.close()
            self.pool.release(lease, fault, judged=judged)
            if fault is not None:
                route.fault(lease.url)

    def _send(self, base: str, body: Mapping[str, object],
              timeout: httpx.Timeout) -> httpx.Response:
        """POST `body` to the chat URL of replica `base`; the response is back once its
        headers are in, its body still to read. What `httpx.Client.stream` does, less what a
        chat call never uses (auth flows, redirects, cookies, event hooks): half of the
        client's CPU per call. The request is the client's own (`build_request`: its
        headers, the JSON body), sent on the transport the client would pick for `base`.
        That pick is httpx's private `_transport_for_url`: should an httpx release drop it,
        calls go through the public `Client.send` (slower, same answers), and
        tests/test_openai_transport_send.py fails so the upgrade is seen."""
        chat = self._chat.get(base)
        if chat is None:
            url = httpx.URL(f"{base}/chat/completions")
            pick = getattr(self._client, "_transport_for_url", None)
            chat = self._chat[base] = url, None if pick is None else pick(url)
        url, transport = chat
        # the keep-alive race (engines/keepalive.py): sent once more
        return sent_again_once(lambda: self._send_once(url, transport, body, timeout))

    def _send_once(self, url: httpx.URL, transport: httpx.BaseTransport | None,
                   body: Mapping[str, object], timeout: httpx.Timeout) -> httpx.Response:
        request = self._client.build_request("POST", url, json=body, timeout=timeout)
        if transport is None:
            return self._client.send(request, stream=True)
        response = transport.handle_request(request)
        response.request = request
        return response


def retried_once(
    pool: ReplicaPool, attempt: Callable[[Route], Generator[EngineEvent, None, None]]
) -> Iterator[EngineEvent]:
    """`attempt`'s events, retried once on another replica when the upstream failed through
    its replica's fault before anything was yielded; after an event was yielded it is not
    (the caller already has part of an answer) and the error says so."""
    route = Route()
    for number in (1, 2):
        yielded = False
        events = attempt(route)
        try:
            for event in events:  # the first event; the rest pass through `yield from`
                yielded = True
                yield event
                yield from events
            return
        except EngineUnavailableError as error:
            if yielded:
                raise EngineUnavailableError(
                    f"upstream failed mid-stream, after part of the answer was sent "
                    f"(not retried): {error}"
                ) from error
            if number == 2 or not route.faulted or not pool.usable(route.tried):
                raise
            route.faulted = False
        finally:
            events.close()
