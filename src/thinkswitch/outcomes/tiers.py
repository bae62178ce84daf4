"""Outcome tables with several budgets: each question answered at every recorded tier.

SimpleQA records Gemini 2.5 Flash at no_think / budget256 / 512 / 1024 / 2048, Claude Sonnet 4 at
no_think / budget1024 / 2048 / 4096 and Qwen3 at no_think / exd0 / exd2 / exd4 (natural
thinking, then 2 and 4 forced extensions). A `TierTable` holds, per question, the correctness and
tokens of every tier, ordered cheapest first: the direct tier (no_think, baseline, low_effort),
then budgets ascending, then extensions ascending, then effort levels (minimal, low, medium,
high), then any other mode. `?tiers=a,b,c` picks and orders them by hand. The sources are those
with long rows (`simpleqa/<model>` and `file:PATH?model=M`); a question missing from any tier
is left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from thinkswitch.kernel.errors import DataError, UsageError
from thinkswitch.outcomes.paired import ReplaySpec, file_model, load_paired, simpleqa_path
from thinkswitch.outcomes.spec import SuiteSpec
from thinkswitch.outcomes.user_table import read_user_table

_DIRECT = ("no_think", "baseline", "off", "low_effort")
#: Reasoning-effort levels (`low_effort` or `low`), least first.
_EFFORTS = ("minimal", "low", "medium", "high")
_NUMBERED = re.compile(r"^(budget|exd)(\d+)$")


@dataclass(frozen=True)
class TierTable:
    name: str
    tiers: tuple[str, ...]
    ids: tuple[str, ...]
    questions: tuple[str, ...]
    right: np.ndarray  # questions x tiers, correctness in [0, 1]
    tokens: np.ndarray  # questions x tiers, generated tokens


def is_direct(tier: str) -> bool:
    """Whether a tier answers without thinking."""
    return tier in _DIRECT


def tier_budget(tier: str) -> int | None:
    """The thinking cap a tier stands for: N for budgetN, None otherwise (the caller's)."""
    found = _NUMBERED.match(tier)
    return int(found.group(2)) if found and found.group(1) == "budget" else None


def tier_order(modes: set[str]) -> tuple[str, ...]:
    """Cheapest first (see the module docstring)."""
    def key(mode: str) -> tuple[int, int, str]:
        if mode in _DIRECT:
            return (0, _DIRECT.index(mode), mode)
        found = _NUMBERED.match(mode)
        if found:
            return (1 if found.group(1) == "budget" else 2, int(found.group(2)), mode)
        effort = mode.removesuffix("_effort")
        if effort in _EFFORTS:
            return (3, _EFFORTS.index(effort), mode)
        return (4, 0, mode)
    return tuple(sorted(modes, key=key))


def _modes(data_dir: Path, text: str) -> set[str]:
    """Every mode the table's model has, from its long rows."""
    parsed = SuiteSpec.parse(text.removeprefix("replay:"))
    source, _, sub = parsed.base.partition("/")
    spec = ReplaySpec(source, sub, parsed.arg, parsed.options)
    if source == "simpleqa":
        rows, model = read_user_table(simpleqa_path(data_dir), {}).rows, sub or "Qwen3-8B"
    elif source == "file" and parsed.arg:
        table, model = file_model(spec)
        rows = table.rows
    else:
        raise UsageError(f"budget tiers need a table with several budgets per question "
                         f"(replay:simpleqa/<model> or replay:file:PATH), not {text!r}")
    return {row.mode for row in rows if row.model.lower() == model.lower()}


def load_tiers(data_dir: Path, text: str) -> TierTable:
    """`replay:simpleqa/<model>[?tiers=a,b,c]` (or a file table) as a tier table."""
    spec, _, query = text.partition("?")
    options = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
    chosen = options.pop("tiers", "")
    rest = "&".join(f"{k}={v}" for k, v in options.items())
    base = f"{spec}?{rest}" if rest else spec
    tiers = tuple(t for t in chosen.split(",") if t) if chosen else tier_order(
        _modes(data_dir, base))
    if len(tiers) < 2:
        raise DataError(f"{text}: budget tiers need at least two recorded modes, found "
                        f"{', '.join(tiers) or 'none'}")
    glue = "&" if rest else "?"
    tables = [load_paired(data_dir, f"{base}{glue}off={tiers[0]}&on={tier}")
              for tier in tiers[1:]]
    by_id = [{item.id: item for item in table.items} for table in tables]
    ids = sorted(set.intersection(*(set(b) for b in by_id)))
    if not ids:
        raise DataError(f"{text}: no question is recorded at every tier")
    first = by_id[0]
    right = np.array([[first[q].off.correct] + [b[q].on.correct for b in by_id] for q in ids])
    tokens = np.array([[first[q].off.tokens] + [b[q].on.tokens for b in by_id] for q in ids])
    name = tables[0].name.split("?")[0]
    return TierTable(name, tiers, tuple(ids), tuple(first[q].question for q in ids), right,
                     tokens)
