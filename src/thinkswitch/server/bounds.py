"""The ranges the faces accept for numbers, and strict types where lax parsing would lie.

Request bodies are untrusted: a `max_tokens` of 10**30 or a `top_p` of NaN must be a 400 naming
the field, not an overflow deep in an engine (a 500) or a value sent on to an upstream. The
bounds are the APIs' own where they have one (OpenAI: `top_p` in [0, 1], penalties in [-2, 2],
`seed` an int64) and otherwise generous but finite: no context window is near `MAX_TOKENS`.
Floats refuse NaN and infinities.

Types are as strict as the APIs': pydantic's lax mode would read `max_tokens: true` as 1 and
`temperature: "0.5"` as 0.5, where OpenAI and Anthropic answer 400. A number field takes a
JSON number only (`JsonNumber`: never a boolean or a string); what real clients send stays
valid — an int for a float (`temperature: 1`), and an integral float for an int (`max_tokens:
256.0`, what `json.dumps` writes for a computed count). A flag takes a JSON boolean only
(`JsonBool`: not `"yes"`, not 1).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StrictBool
from pydantic_core import PydanticCustomError

from thinkswitch.settings import MAX_TOKENS

#: OpenAI's seed is a 64-bit signed integer.
SEED_MIN, SEED_MAX = -(1 << 63), (1 << 63) - 1
#: A deadline longer than a day is not a deadline.
MAX_TIMEOUT_S = 86_400.0



def _json_number(value: Any) -> Any:
    """A JSON number passes on to the field's own (lax) validation; a boolean or a string,
    which that would read as a number, is refused."""
    if isinstance(value, bool | str | bytes):
        raise PydanticCustomError("number_type", "Input should be a number, not a "
                                  "{kind}", {"kind": "boolean" if isinstance(value, bool)
                                             else "string"})
    return value


JsonNumber = BeforeValidator(_json_number)
#: A flag as the APIs take it: `true` or `false`.
JsonBool = StrictBool

TokenCount = Annotated[int, JsonNumber, Field(ge=1, le=MAX_TOKENS)]
MinThinking = Annotated[int, JsonNumber, Field(ge=0, le=MAX_TOKENS)]
Seed = Annotated[int, JsonNumber, Field(ge=SEED_MIN, le=SEED_MAX)]
TopP = Annotated[float, JsonNumber, Field(ge=0.0, le=1.0, allow_inf_nan=False,
                              description="nucleus sampling mass, in [0, 1]")]
Penalty = Annotated[float, JsonNumber, Field(ge=-2.0, le=2.0, allow_inf_nan=False,
                                 description="presence or frequency penalty, in [-2, 2]")]
Temperature = Annotated[float, JsonNumber, Field(ge=0.0, le=2.0, allow_inf_nan=False)]
AnthropicTemperature = Annotated[float, JsonNumber, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
TimeoutSeconds = Annotated[float, JsonNumber, Field(gt=0, le=MAX_TIMEOUT_S, allow_inf_nan=False)]

#: Sampling parameters the OpenAI face validates itself, then passes to engines that take them.
SAMPLING_FIELDS = ("top_p", "presence_penalty", "frequency_penalty")
