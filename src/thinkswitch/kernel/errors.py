"""Every error thinkswitch raises on purpose, in one tree.

    ThinkswitchError                 base; `exit_code` is what the CLI exits with
    ├── UsageError                   the caller asked for something invalid (exit 2, HTTP 400)
    │   ├── UnknownNameError         a name not in a registry (engine, dialect, parser, mode)
    │   ├── BudgetError              a budget that is negative, too small or beyond the context
    │   ├── UnsupportedParameterError a parameter the engine cannot honour (never ignored)
    │   └── UpstreamRejectedError    the model server refused the request as invalid (its 4xx)
    └── RuntimeFailure               valid request, but it could not be served (exit 1, HTTP 5xx)
        ├── ModelNotFoundError       a model file or package that is not there
        ├── EngineUnavailableError   a server that cannot be reached or answers with an error
        ├── ReplayMissError          the replay engine has no recording for the question
        └── DataError                a dataset or outcome table missing or malformed (file, line)

Messages are one line and name the problem; the CLI prints them as they are.
"""

from __future__ import annotations

from collections.abc import Iterable


class ThinkswitchError(Exception):
    """Base of every deliberate thinkswitch error."""

    exit_code: int = 1


class UsageError(ThinkswitchError):
    """The request itself is invalid."""

    exit_code = 2


class UnknownNameError(UsageError):
    """A name that is not registered; the message lists the valid ones."""

    def __init__(self, kind: str, name: str, valid: Iterable[str]) -> None:
        self.kind = kind
        self.name = name
        self.valid = sorted(valid)
        super().__init__(f"unknown {kind} {name!r}; valid: {', '.join(self.valid)}")


class BudgetError(UsageError):
    """A thinking budget that cannot be honoured."""


class UnsupportedParameterError(UsageError):
    """A request parameter the engine cannot honour; `param` names it."""

    def __init__(self, param: str, engine: str) -> None:
        self.param = param
        super().__init__(f"parameter {param!r} is not supported by engine {engine!r}")


class UpstreamRejectedError(UsageError):
    """An upstream model server answered 4xx (not 429): the request is at fault, so the
    client gets a 400 with the server's reason, not a 502, and it is not retried."""


class RuntimeFailure(ThinkswitchError):
    """A valid request that could not be served."""

    exit_code = 1


class ModelNotFoundError(RuntimeFailure):
    """A model file or model package that does not exist."""


class EngineUnavailableError(RuntimeFailure):
    """An engine that cannot be reached or that answered with an error."""


class ReplayMissError(RuntimeFailure):
    """The replay engine has no recorded answer for this question and mode."""


class DataError(RuntimeFailure):
    """A dataset or outcome file that is missing or malformed; the message names file and line."""
