"""thinkswitch: a light switch for LLM reasoning (off, on under a budget, or auto).

The names below load on first use (PEP 562), so `import thinkswitch.cli.app` — every command
line — does not pay for pydantic and the switch before it knows what it will run.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from thinkswitch.kernel.decision import Decision
    from thinkswitch.kernel.errors import ThinkswitchError
    from thinkswitch.kernel.request import Request
    from thinkswitch.kernel.result import Result, Timings, Usage
    from thinkswitch.switch.pipeline import Switch

#: Each public name and the module it lives in.
_EXPORTS = {
    "Decision": "thinkswitch.kernel.decision",
    "Request": "thinkswitch.kernel.request",
    "Result": "thinkswitch.kernel.result",
    "Switch": "thinkswitch.switch.pipeline",
    "ThinkswitchError": "thinkswitch.kernel.errors",
    "Timings": "thinkswitch.kernel.result",
    "Usage": "thinkswitch.kernel.result",
}

__all__ = [
    "Decision",
    "Request",
    "Result",
    "Switch",
    "ThinkswitchError",
    "Timings",
    "Usage",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """A public name, imported from its module on first use."""
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'thinkswitch' has no attribute {name!r}") from None
    return getattr(import_module(module), name)
