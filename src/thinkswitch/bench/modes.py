"""`--modes off,on:256,on:1024,auto`: what each run of a suite asks the switch to do."""

from __future__ import annotations

from dataclasses import dataclass

from thinkswitch.kernel.decision import RequestedMode
from thinkswitch.kernel.errors import UsageError
from thinkswitch.settings import MAX_TOKENS


@dataclass(frozen=True, slots=True)
class ModeSpec:
    label: str
    think: RequestedMode
    budget: int | None = None


def parse_modes(text: str) -> tuple[ModeSpec, ...]:
    """Parse a comma-separated mode list; `on:N` and `auto:N` carry a budget."""
    modes: list[ModeSpec] = []
    for raw in filter(None, (part.strip() for part in text.split(","))):
        name, _, budget_text = raw.partition(":")
        if name not in ("off", "on", "auto"):
            raise UsageError(f"unknown mode {raw!r}; valid: off, on, on:BUDGET, auto, auto:BUDGET")
        budget: int | None = None
        if budget_text:
            if (name == "off" or not budget_text.isdigit()
                    or not 1 <= int(budget_text) <= MAX_TOKENS):
                raise UsageError(f"bad budget in mode {raw!r}; expected an integer from 1 to "
                                 f"{MAX_TOKENS}")
            budget = int(budget_text)
        modes.append(ModeSpec(raw, name, budget))  # type: ignore[arg-type]
    if not modes:
        raise UsageError("no modes given; e.g. --modes off,on:256,auto")
    if len({m.label for m in modes}) != len(modes):
        raise UsageError(f"a mode is listed twice in {text!r}")
    return tuple(modes)
