"""Cost from a per-model price table: USD per million input, output and thinking tokens.

Local engines cost nothing unless configured. A price file is JSON:
`{"qwen3-8b": {"input": 0.05, "output": 0.25, "thinking": 0.25}, ...}`; keys match the model
name case-insensitively, and a key `*` is the fallback.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from thinkswitch.kernel.errors import DataError
from thinkswitch.kernel.result import Usage
from thinkswitch.trace.record import Cost


class Price(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    input: float = 0.0
    output: float = 0.0
    thinking: float | None = None  # None: thinking tokens cost what output tokens cost


class PriceTable:
    def __init__(self, prices: Mapping[str, Price] | None = None) -> None:
        self._prices = {key.lower(): price for key, price in (prices or {}).items()}

    @classmethod
    def load(cls, path: Path | None) -> PriceTable:
        if path is None:
            return cls()
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls({name: Price.model_validate(value) for name, value in raw.items()})
        except (OSError, ValueError, AttributeError, ValidationError) as error:
            first = str(error).splitlines()[0]
            raise DataError(f"cannot read price table {path}: {first}") from None

    def cost(self, model: str, usage: Usage) -> Cost:
        price = self._prices.get(model.lower()) or self._prices.get("*") or Price()
        thinking = price.output if price.thinking is None else price.thinking
        return Cost(
            input=usage.prompt_tokens * price.input / 1e6,
            output=usage.answer_tokens * price.output / 1e6,
            thinking=usage.thinking_tokens * thinking / 1e6,
        )
