"""Server options a `THINKSWITCH_*` variable may set: below the config file's `[server]` and
the command line, above the defaults (the precedence `config.load` states). Each is validated
by the config file's own field, so a variable takes exactly what the file takes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from thinkswitch.config.load import ServerOptions, describe_errors
from thinkswitch.config.schema import ServerSection
from thinkswitch.kernel.errors import UsageError

#: `ServerOptions` field -> the variable that sets it.
SERVER_VARIABLES: Mapping[str, str] = {"write_timeout_s": "THINKSWITCH_WRITE_TIMEOUT_S",
                                       "workers": "THINKSWITCH_WORKERS"}


def with_environment(options: ServerOptions, environ: Mapping[str, str],
                     file: ServerSection | None = None) -> ServerOptions:
    """`options` with the values of the variables set in `environ`, except where the config
    file's section (`file`) gives the option itself."""
    values: dict[str, Any] = {}
    for name, variable in SERVER_VARIABLES.items():
        text = environ.get(variable)
        if text is None or (file is not None and getattr(file, name) is not None):
            continue
        try:
            parsed = ServerSection.model_validate({name: text.strip()})
        except ValidationError as error:
            problem = describe_errors(error)[0].removeprefix(f"{name}: ")
            raise UsageError(f"{variable}: {problem}") from None
        values[name] = getattr(parsed, name)
    return replace(options, **values)
