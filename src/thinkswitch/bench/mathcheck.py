"""Grade a math answer: is the model's final answer the same value as the gold one?

The answer is found with `thinkswitch.bench.extract`, then compared in this order:

1. the same text (case, spaces, `\\text{}` wrappers and a final period ignored): correct;
2. both plain numbers (`72` and `72.0`, `1,234` and `1234`) with the same value: correct. This
   shortcut only ever says "correct"; anything else goes on to step 3 or 4;
3. a *text* gold (a name, a colour, "Yes", a clock time "3:30 p.m.", an ordinal "6th", or an item
   whose `meta["match"]` is `"text"`) is compared as text only, punctuation and spaces ignored:
   math-verify would read "3:30 p.m." and "3:45 p.m." both as the number 3, and
   `\\text{Evelyn}` as a product of letters equal to any anagram;
4. otherwise `math-verify` (gold first, each side wrapped in `$...$` so plain numbers and LaTeX
   both parse; a number followed by words, "18 dollars", is reduced to the number first).

Numbers, deliberately as math-verify does it: when one side is a decimal, both are rounded to 6
places before comparing. So 0.333 is NOT 1/3 (a truncated decimal is another number), while
0.333333 is accepted as 1/3 (six correct places). Integers and fractions compare exactly,
`25%` equals both `25` and `0.25`, `x = 5` equals `5`, and an ordered tuple `(1,2)` is not
`(2,1)` (nor is the open interval `(1,2)` the closed `[1,2]`); unordered lists `1, 2` are sets.

math-verify guards itself with `signal.alarm`, which only works on the main thread, so its own
timeouts are switched off (`parsing_timeout=None`, `timeout_seconds=None`) and the comparison
runs in a daemon thread that is given `timeout` seconds; a timeout is graded incorrect with the
detail "timeout". A timed-out comparison cannot be killed: its thread keeps running in the
background until sympy gives up, which is rare enough to accept.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from concurrent.futures import Future
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from thinkswitch.bench.extract import extract_answer
from thinkswitch.bench.items import Checker, Item, Verdict

T = TypeVar("T")

DEFAULT_TIMEOUT = 5.0

_TEXT_COMMAND = re.compile(r"\\(?:text|textbf|textit|mbox|mathrm)\s*\{([^{}]*)\}")
_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+")
_PLAIN_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+]?\.\d+")
_NUMBER_WITH_UNITS = re.compile(
    r"([-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)\s+[A-Za-z][A-Za-z\s.'-]*"
)
_WORD = re.compile(r"[A-Za-z]{2,}")
_CLOCK = re.compile(r"\d:\d\d\s*[ap]\.?\s?m\b", re.IGNORECASE)
_ORDINAL = re.compile(r"\d(?:st|nd|rd|th)\b", re.IGNORECASE)


class MathChecker(Checker):
    """Grades math answers by their final value; see the module docstring for the rules."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout

    def check(self, item: Item, answer: str) -> Verdict:
        extracted = extract_answer(answer)
        if extracted is None:
            return Verdict(False, None, "no answer found")
        return self.compare(item.gold, extracted, text_only=item.meta.get("match") == "text")

    def compare(self, gold: str, extracted: str, *, text_only: bool = False) -> Verdict:
        """Grade an already extracted answer against `gold`."""
        if _normal_text(gold) == _normal_text(extracted):
            return Verdict(True, extracted, "same text")
        gold_number, pred_number = _plain_number(gold), _plain_number(extracted)
        if gold_number is not None and gold_number == pred_number:
            return Verdict(True, extracted, "same number")
        if text_only or is_text_answer(gold):
            same = _loose_text(gold) == _loose_text(extracted)
            return Verdict(same, extracted, "text " + ("matches" if same else "differs"))
        try:
            same = _call_with_timeout(lambda: math_equal(gold, extracted), self.timeout)
        except TimeoutError:
            return Verdict(False, extracted, "timeout")
        return Verdict(same, extracted, "math-verify: " + ("equal" if same else "not equal"))


def math_equal(gold: str, pred: str) -> bool:
    """math-verify's judgement, gold first, with its signal-based timeouts switched off.

    math-verify is imported here, on first use: it takes half a second to import.
    """
    from math_verify import parse, verify  # type: ignore[import-untyped]

    def parse_either(text: str) -> list[object]:
        parsed: list[object] = parse(f"${text}$", parsing_timeout=None)
        return parsed or parse(text, parsing_timeout=None)

    units = _NUMBER_WITH_UNITS.fullmatch(pred.strip())
    if units is not None:
        pred = units.group(1)
    gold_parsed = parse_either(gold)
    pred_parsed = parse_either(pred.replace("−", "-"))
    if not gold_parsed or not pred_parsed:
        return False
    return bool(verify(gold_parsed, pred_parsed, timeout_seconds=None))


def is_text_answer(gold: str) -> bool:
    """True for golds that are words or clock times rather than mathematical values."""
    if _CLOCK.search(gold) or _ORDINAL.search(gold):
        return True
    if any(char.isdigit() for char in gold):
        return False
    bare = _LATEX_COMMAND.sub(" ", _TEXT_COMMAND.sub(r" \1 ", gold))
    return _WORD.search(bare) is not None


def _normal_text(text: str) -> str:
    text = _TEXT_COMMAND.sub(r"\1", text).replace("−", "-").replace("\\$", "").replace("$", "")
    return " ".join(text.split()).removesuffix(".").strip().casefold()


def _loose_text(text: str) -> str:
    """Only letters, digits and colons, lower case: "Cesar's toothbrush." == "cesars toothbrush"."""
    return re.sub(r"[^\w:]|_", "", _normal_text(text))


def _plain_number(text: str) -> Decimal | None:
    cleaned = text.strip().replace("−", "-")
    if not _PLAIN_NUMBER.fullmatch(cleaned):
        return None
    try:
        return Decimal(cleaned.replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the pattern only admits valid decimals
        return None


def _call_with_timeout(fn: Callable[[], T], seconds: float) -> T:
    """Run `fn` in a daemon thread; raise TimeoutError when it takes longer than `seconds`."""
    future: Future[T] = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fn())
        except Exception as exc:
            future.set_exception(exc)

    threading.Thread(target=run, name="mathcheck", daemon=True).start()
    return future.result(timeout=seconds)
