"""The ranges the faces accept for numbers, and strict types where lax parsing would lie.

Request bodies are untrusted: a `max_tokens` of 10**30 or a `top_p` of NaN must be a 400 naming
the field, not an overflow deep in an engine (a 500) or a value sent on to an upstream. The
bounds are the APIs' own where they have one (OpenAI: `top_p` in [0, 1], penalties in [-2, 2],
`seed` an int64) and otherwise generous but finite: no context window is near `MAX_TOKENS`.
Floats refuse NaN and infinities.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from thinkswitch.settings import MAX_TOKENS

#: OpenAI's seed is a 64-bit signed integer.
SEED_MIN, SEED_MAX = -(1 << 63), (1 << 63) - 1
#: A deadline longer than a day is not a deadline.
MAX_TIMEOUT_S = 86_400.0

TokenCount = Annotated[int, Field(ge=1, le=MAX_TOKENS)]
MinThinking = Annotated[int, Field(ge=0, le=MAX_TOKENS)]
Seed = Annotated[int, Field(ge=SEED_MIN, le=SEED_MAX)]
TopP = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False,
                              description="nucleus sampling mass, in [0, 1]")]
Penalty = Annotated[float, Field(ge=-2.0, le=2.0, allow_inf_nan=False,
                                 description="presence or frequency penalty, in [-2, 2]")]
Temperature = Annotated[float, Field(ge=0.0, le=2.0, allow_inf_nan=False)]
AnthropicTemperature = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
TimeoutSeconds = Annotated[float, Field(gt=0, le=MAX_TIMEOUT_S, allow_inf_nan=False)]

#: Sampling parameters the OpenAI face validates itself, then passes to engines that take them.
SAMPLING_FIELDS = ("top_p", "presence_penalty", "frequency_penalty")
