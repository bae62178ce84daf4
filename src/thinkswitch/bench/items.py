"""What a suite is made of: items to ask, and a checker that grades an answer to one.

Live suites (math, code, generated reasoning) are asked through the switch; replay suites
carry recorded outcomes instead (see `thinkswitch.outcomes.paired`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from thinkswitch.outcomes.spec import SuiteSpec

ItemKind = Literal["math", "code", "gym"]


@dataclass(frozen=True)
class Item:
    """One question of a suite. `prompt` is exactly what is sent as the user turn."""

    id: str
    prompt: str
    gold: str
    kind: ItemKind
    meta: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    correct: bool
    extracted: str | None
    detail: str = ""


class Checker(ABC):
    """Grades a model's answer text against an item's gold answer or tests."""

    @abstractmethod
    def check(self, item: Item, answer: str) -> Verdict:
        """Grade `answer` (the model's answer text, thinking excluded)."""


@dataclass(frozen=True)
class Suite:
    """A named list of items and the checker for them."""

    name: str
    items: tuple[Item, ...]
    checker: Checker


#: Every suite loader has this signature: (spec, data directory, limit, seed) -> Suite.
SuiteLoader = Callable[[SuiteSpec, Path, int | None, int], Suite]
