"""How a route runs the switch: the app hands each face two calls, so that every face counts
its requests in the metrics and stops generation when its client goes away the same way.

- `Whole`: the `Result` in one piece, or None when the client left first (then the route
  answers `CLIENT_GONE`, nginx's 499, which only the access log sees);
- `Started`: the switch's events, decided (and validated) before the 200 goes out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

from starlette.requests import Request

from thinkswitch.kernel.events import SwitchEvent
from thinkswitch.kernel.request import Request as SwitchRequest
from thinkswitch.kernel.result import Result

#: The status logged for a request whose client left before its answer (nginx's 499).
CLIENT_GONE = 499

Whole = Callable[[SwitchRequest, Request], Awaitable[Result | None]]
Started = Callable[[SwitchRequest, Request], Awaitable[Iterator[SwitchEvent]]]
