"""thinkswitch: a light switch for LLM reasoning (off, on under a budget, or auto)."""

from thinkswitch.errors import ThinkswitchError
from thinkswitch.result import Decision, Result, Timings, Usage
from thinkswitch.switch import Request, Switch

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
