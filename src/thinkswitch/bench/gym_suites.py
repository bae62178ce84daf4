"""Generated reasoning suites from `reasoning-gym`: easy or hard items made on demand.

`gym:<dataset>?difficulty=N&key=value...` builds `reasoning_gym.create_dataset(<dataset>,
size=limit, seed=seed, **config)`; the same name, options, seed and limit always give the same
items. Each answer is graded by the dataset's own `score_answer`.

`difficulty=N` (1 = easiest) uses the dataset's reasoning-gym curriculum: every curriculum
attribute is set to level N-1 (clamped to its hardest level) and only that level is used, not a
mix of it and the easier ones (the curriculum's "upper bound" mode). For example:

| dataset          | difficulty=1        | difficulty=3            | hardest (from N)          |
| ---------------- | ------------------- | ----------------------- | ------------------------- |
| basic_arithmetic | 2 terms of 1 digit  | 4 terms of 3 digits     | 6 terms of 4 digits (5)   |
| chain_sum        | 2 terms of 1 digit  | 4 terms of 3 digits     | 12 terms, 10 digits (11)  |
| leg_counting     | 1 animal, 2-4 of it | 3 animals, 8-16 of each | 36 animals, 512-1024 (36) |

A dataset without a curriculum but with its own `difficulty` setting (gsm_symbolic) gets the
number as is; any other dataset refuses `difficulty`. Without `difficulty` the dataset's default
configuration is used (usually a mix of levels). Every other option is passed to the dataset's
configuration as is (after `difficulty`, so it wins): numbers become int or float, true/false
become booleans, and a value with commas becomes a list (`operators=+,-`).

Grading: the answer is extracted with `thinkswitch.bench.extract` when the gold answer is a plain
number (then commas are dropped and a whole decimal such as 4.0 is written 4, as the scorers
expect); otherwise it is the text after the last "Final answer:" marker (that line, or everything
after it when the gold spans several lines), else the last non-empty line. An answer is correct
when the dataset scores it >= 1.0: most scorers give partial credit (for example an answer that
merely contains the gold one), which counts as wrong here; the score is in the verdict's detail.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from thinkswitch.bench.extract import clean_answer, extract_answer, last_number, marked_answer
from thinkswitch.bench.items import Checker, Item, Suite, Verdict
from thinkswitch.kernel.errors import UsageError
from thinkswitch.outcomes.spec import SuiteSpec

DEFAULT_LIMIT = 50
#: What is appended to every generated question; extraction looks for the "Final answer:" line.
GYM_INSTRUCTION = (
    "Reason step by step, then give the final answer on the last line "
    'in the form "Final answer: <answer>".'
)
_RESERVED = ("seed", "size")
_SUGGESTIONS = 8


class GymChecker(Checker):
    """Grades answers with the generating dataset's own scorer (see the module docstring)."""

    def __init__(self, dataset: Any, entries: Mapping[str, Mapping[str, Any]]) -> None:
        self._dataset = dataset
        self._entries = dict(entries)

    def check(self, item: Item, answer: str) -> Verdict:
        entry = self._entries.get(item.id)
        if entry is None:
            return Verdict(False, None, f"item {item.id!r} is not from this suite")
        extracted = extract_gym_answer(answer, item.gold)
        if extracted is None:
            return Verdict(False, None, "no answer found")
        try:
            score = float(self._dataset.score_answer(answer=extracted, entry=dict(entry)))
        except Exception as exc:  # a third-party scorer that fails on odd input grades it wrong
            return Verdict(False, extracted, f"scorer failed: {type(exc).__name__}: {exc}")
        return Verdict(score >= 1.0, extracted, f"score {score:g}")


def extract_gym_answer(answer: str, gold: str) -> str | None:
    """The part of `answer` to hand to the scorer, shaped like `gold`."""
    if _decimal(gold) is not None:
        found = extract_answer(answer)
        if found is None:
            return None
        if _decimal(found) is None:  # "1,234 legs" or "x = 5": the number in it, if any
            found = last_number(found) or found
        number = _decimal(found)
        if number is None:
            return found
        if number == number.to_integral_value() and "." not in gold:
            return str(int(number))
        return found.replace(",", "").replace("−", "-").removeprefix("+")
    if "\n" in gold.strip():
        tail = _after_last_marker(answer)
        if tail:
            return tail
    found = marked_answer(answer, strip_period=False)
    if found:
        return found
    lines = [line for line in answer.splitlines() if line.strip()]
    return clean_answer(lines[-1], strip_period=False) if lines else None


def _after_last_marker(answer: str) -> str | None:
    lower = answer.lower()
    at = lower.rfind("final answer")
    if at < 0:
        return None
    rest = answer[at + len("final answer") :].lstrip(" :：*")
    return rest.strip("\n").rstrip() or None


def _decimal(text: str) -> Decimal | None:
    cleaned = text.strip().replace(",", "").replace("−", "-")
    if not cleaned or not any(char.isdigit() for char in cleaned):
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _gym_module(name: str) -> Any:
    """A reasoning-gym module, imported on first use: importing it builds all of its ~100
    generators (over a second), and it ships no type information."""
    return importlib.import_module(name)


def _option_value(text: str) -> Any:
    if "," in text:
        return [_option_value(part) for part in text.split(",") if part]
    if text.lower() in {"true", "false"}:
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _difficulty(name: str, text: str, config_fields: set[str]) -> dict[str, Any]:
    factory = _gym_module("reasoning_gym.factory")
    coaching = _gym_module("reasoning_gym.coaching.base_curriculum")
    try:
        level = int(text)
    except ValueError:
        raise UsageError(f"difficulty must be a whole number >= 1, not {text!r}") from None
    if level < 1:
        raise UsageError(f"difficulty must be a whole number >= 1, not {text!r}")
    if not factory.has_curriculum(name):
        if "difficulty" in config_fields:
            return {"difficulty": level}
        raise UsageError(f"gym dataset {name!r} has no difficulty levels; set its options directly")
    curriculum = factory.create_curriculum(name)
    for attr_name, attr in curriculum.attributes.items():
        curriculum.set_attr_level(attr_name, min(level - 1, len(attr.levels) - 1))
    context = coaching.DefaultCurriculumContext(mode=coaching.RangeAttributeMode.UPPER_BOUND)
    config = curriculum.generate_configuration(context=context)
    chosen: dict[str, Any] = {}
    for attr in curriculum.attributes.values():
        names = [getattr(attr, key, None) for key in ("lower_field_name", "upper_field_name")]
        for field_name in [*names, getattr(attr, "field_name", None)]:
            if field_name:
                chosen[field_name] = getattr(config, field_name)
    return chosen


def _unknown_dataset(name: str, valid: list[str]) -> UsageError:
    close = difflib.get_close_matches(name, valid, n=_SUGGESTIONS)
    examples = close or valid[:_SUGGESTIONS]
    hint = "did you mean" if close else "for example"
    return UsageError(
        f"unknown gym dataset {name!r}; {hint}: {', '.join(examples)} "
        f"({len(valid)} datasets in reasoning-gym)"
    )


def gym_config(name: str, options: Mapping[str, str]) -> dict[str, Any]:
    """The dataset configuration for `options` (difficulty resolved), checked against its fields."""
    datasets = _gym_module("reasoning_gym.factory").DATASETS
    if name not in datasets:
        raise _unknown_dataset(name, sorted(datasets))
    config_fields = {field.name for field in dataclasses.fields(datasets[name][1])}
    accepted = sorted(config_fields - set(_RESERVED))
    config: dict[str, Any] = {}
    if "difficulty" in options:
        config.update(_difficulty(name, options["difficulty"], config_fields))
    for key, value in options.items():
        if key == "difficulty":
            continue
        if key not in accepted:
            valid = ", ".join(["difficulty", *accepted])
            raise UsageError(f"unknown option {key!r} for gym:{name}; accepted: {valid}")
        config[key] = _option_value(value)
    return config


def load_gym(spec: SuiteSpec, data_dir: Path, limit: int | None, seed: int) -> Suite:
    """Generate a `gym:<dataset>` suite (the `SuiteLoader` signature; `data_dir` is unused)."""
    reasoning_gym = _gym_module("reasoning_gym")
    if not spec.arg:
        raise UsageError("a gym suite needs a dataset name, e.g. gym:basic_arithmetic?difficulty=3")
    size = DEFAULT_LIMIT if limit is None else limit
    if size < 1:
        raise UsageError(f"limit must be 1 or more for a gym suite, not {size}")
    config = gym_config(spec.arg, spec.options)
    try:
        dataset = reasoning_gym.create_dataset(spec.arg, size=size, seed=seed, **config)
    except (AssertionError, TypeError, ValueError) as exc:
        raise UsageError(f"bad options for gym:{spec.arg} {config}: {exc}") from exc
    items: list[Item] = []
    entries: dict[str, Mapping[str, Any]] = {}
    for index in range(size):
        entry = dataset[index]
        item_id = f"{spec.arg}/{seed}/{index}"
        meta = {"dataset": spec.arg, "seed": seed, "index": index, "config": dict(config)}
        prompt = f"{str(entry['question']).strip()}\n\n{GYM_INSTRUCTION}"
        gold = "" if entry.get("answer") is None else str(entry["answer"])
        items.append(Item(item_id, prompt, gold, "gym", meta))
        entries[item_id] = entry
    query = "&".join(f"{key}={value}" for key, value in sorted(spec.options.items()))
    name = f"gym:{spec.arg}" + (f"?{query}" if query else "")
    return Suite(name, tuple(items), GymChecker(dataset, entries))
