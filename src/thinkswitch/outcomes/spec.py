"""A suite's or an outcome table's name, `base[:arg][?key=value&...]`: bench's live suites and
the replay tables of `thinkswitch.outcomes.paired` share the form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from thinkswitch.kernel.errors import UsageError


@dataclass(frozen=True)
class SuiteSpec:
    """A parsed suite name `base[:arg][?key=value&...]`: `gym:basic_arithmetic?difficulty=3`."""

    base: str
    arg: str | None
    options: Mapping[str, str]

    @classmethod
    def parse(cls, text: str) -> SuiteSpec:
        head, _, query = text.strip().partition("?")
        base, _, arg = head.partition(":")
        options: dict[str, str] = {}
        for pair in filter(None, query.split("&")):
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise UsageError(f"bad suite option {pair!r} in {text!r}; expected key=value")
            options[key] = value
        return cls(base=base, arg=arg or None, options=options)
