"""thinkswitch: a light switch for LLM reasoning (off, on under a budget, or auto)."""

from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.errors import ThinkswitchError
from thinkswitch.kernel.request import Request
from thinkswitch.kernel.result import Result, Timings, Usage
from thinkswitch.switch.pipeline import Switch

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
