"""Do the two sides of a shadow pair say the same thing?

The judges below are tried in order; the first that applies to the question and the two answers
decides:

1. `code` — when the request carries a bench item with tests: both answers are run against the
   tests in the sandbox; they agree when both pass or both fail (and each side's correctness is
   then known, from the tests).
2. `choice` — a multiple-choice question (options "(A) ...", "A. ...", "A) ..." on their own
   lines, or both answers a bare option letter): the option letters must be the same.
3. `math` — both answers end in a number or a formula without words (`thinkswitch.bench.
   extract`; "24 October 1922" is text, not math): two plain numbers by value, anything else
   by math-verify (`MathChecker.compare`, which runs it off the main thread under a timeout, as
   DESIGN.md asks; the shadow runner calls the judges in a niced child process, see
   `thinkswitch.shadow.judging`).
4. `text` — otherwise the texts, normalised (case, punctuation, articles and an "Answer:"
   prefix dropped). Short answers (at most `SHORT_WORDS` words) agree when the words of one
   are all in the other ("Aivazovsky" and "Ivan Aivazovsky"); longer ones only when equal,
   which is strict: long free text rarely matches and then counts as a disagreement.

An optional judge call (`Judge`) to the same upstream may replace step 4 for long answers; its
tokens are shadow tokens.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from thinkswitch.bench.extract import extract_answer
from thinkswitch.bench.items import Checker, Item
from thinkswitch.bench.mathcheck import MathChecker
from thinkswitch.kernel.pairs import Agreement

SHORT_WORDS = 8

# Line patterns skip indentation with `[^\S\n]*`, not `\s*`: a `\s*` that crosses line ends
# rescans every following blank line from each line start (quadratic on a run of newlines).
_OPTION_LINE = re.compile(r"^[^\S\n]*\(?([A-Ja-j])[).:]\s+\S", re.MULTILINE)
_LETTER_ANSWER = (
    re.compile(r"(?:answer|option|choice)\s*(?:(?:is|:)\s*)?\(?\**([A-J])\b\)?", re.IGNORECASE),
    re.compile(r"^[^\S\n]*\(?\**([A-J])\**\)?(?:[.):]|[^\S\n]*$)", re.MULTILINE),
    re.compile(r"\(([A-J])\)"),
)
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_PREFIX = re.compile(r"^\s*(?:final\s+answer|answer)\s*[:：]\s*", re.IGNORECASE)
_MATHY = re.compile(r"\d|\\frac|\\sqrt|\\pi")
_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+")
_WORDS = re.compile(r"[A-Za-z]{2,}")
_PLAIN_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d+)?|\.\d+)")
#: Seconds one math-verify comparison may take (the first one imports it: about a second).
MATH_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Verdicts:
    """A judgement and, when the judge could tell, whether each side was right."""

    agreement: Agreement
    live_correct: bool | None = None
    shadow_correct: bool | None = None
    settled: bool = True  # False where a judge call could do better (long text, unreadable)


#: A judge: (question, live answer, shadow answer, bench item or None) -> verdicts, or None
#: when it does not apply.
JudgeStep = Callable[[str, str, str, Item | None, Checker | None], Verdicts | None]


def option_letter(answer: str) -> str | None:
    """The option an answer picks, upper case, or None."""
    for pattern in _LETTER_ANSWER:
        found = pattern.search(answer)
        if found:
            return found.group(1).upper()
    return None


def normalised(text: str) -> str:
    """Lower case, no "Answer:" prefix, no punctuation or articles, single spaces."""
    text = _PREFIX.sub("", text.strip()).casefold()
    text = re.sub(r"[^\w\s]|_", " ", text)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _by_tests(question: str, live: str, shadow: str, item: Item | None,
              checker: Checker | None) -> Verdicts | None:
    if item is None or checker is None:
        return None
    first, second = checker.check(item, live), checker.check(item, shadow)
    note = f"{first.detail or first.correct} / {second.detail or second.correct}"
    method = "code" if item.kind == "code" else "math"
    return Verdicts(Agreement(agree=first.correct == second.correct, method=method,
                              note=note[:200]), first.correct, second.correct)


def _by_option(question: str, live: str, shadow: str, item: Item | None,
               checker: Checker | None) -> Verdicts | None:
    options = {match.upper() for match in _OPTION_LINE.findall(question)}
    bare = all(re.fullmatch(r"\W*[A-J]\W*", text.strip()) for text in (live, shadow))
    if len(options) < 2 and not bare:
        return None
    first, second = option_letter(live), option_letter(shadow)
    if first is None or second is None:
        return Verdicts(Agreement(agree=None, method="choice",
                                  note="no option letter in one answer"), settled=False)
    return Verdicts(Agreement(agree=first == second, method="choice", note=f"{first} / {second}"))


def _by_value(question: str, live: str, shadow: str, item: Item | None,
              checker: Checker | None) -> Verdicts | None:
    first, second = extract_answer(live), extract_answer(shadow)
    if first is None or second is None or not (_is_value(first) and _is_value(second)):
        return None
    if not (_MATHY.search(normalised(live)[-40:]) and _MATHY.search(normalised(shadow)[-40:])):
        return None  # a number somewhere in a worded answer is not the answer
    numbers = _number(first), _number(second)
    if None not in numbers:  # two plain numbers: their values, without math-verify
        return Verdicts(Agreement(agree=numbers[0] == numbers[1], method="math",
                                  note=f"{first} / {second}: numbers"))
    verdict = MathChecker(MATH_TIMEOUT_S).compare(first, second)
    timed_out = verdict.detail == "timeout"
    return Verdicts(Agreement(agree=None if timed_out else verdict.correct, method="math",
                              note=f"{first} / {second}: {verdict.detail}"[:200]))


def _number(text: str) -> Decimal | None:
    cleaned = text.strip().replace("−", "-").replace(",", "")
    if not _PLAIN_NUMBER.fullmatch(cleaned):
        return None
    try:
        return Decimal(cleaned)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        return None


def _is_value(answer: str) -> bool:
    """A number or a formula, not words with a number in them ("24 October 1922" is text:
    math-verify would read it as a product of symbols, slowly and wrongly)."""
    return (_MATHY.search(answer) is not None
            and _WORDS.search(_LATEX_COMMAND.sub(" ", answer)) is None)


def _by_text(question: str, live: str, shadow: str, item: Item | None,
             checker: Checker | None) -> Verdicts | None:
    first, second = normalised(live), normalised(shadow)
    if not first or not second:
        return Verdicts(Agreement(agree=None, method="text", note="an empty answer"),
                        settled=False)
    words_first, words_second = first.split(), second.split()
    if max(len(words_first), len(words_second)) <= SHORT_WORDS:
        same = set(words_first) <= set(words_second) or set(words_second) <= set(words_first)
        return Verdicts(Agreement(agree=same, method="text", note="short answers"))
    return Verdicts(Agreement(agree=first == second, method="text", note="long answers"),
                    settled=first == second)


#: The judges in the order they are tried (see the module docstring).
JUDGES: tuple[JudgeStep, ...] = (_by_tests, _by_option, _by_value, _by_text)


def warm() -> None:
    """Import math-verify and build its parser now (about a second), not in the first judge
    call: a server does it before it serves, so no request shares the CPU with it."""
    MathChecker().compare("1/2", "0.5")


def judge(question: str, live: str, shadow: str, item: Item | None = None,
          checker: Checker | None = None, steps: Sequence[JudgeStep] = JUDGES) -> Verdicts:
    """The first verdict of `steps` that applies (the text judge always does)."""
    for step in steps:
        verdict = step(question, live, shadow, item, checker)
        if verdict is not None:
            return verdict
    return Verdicts(Agreement(agree=None, method="none", note="no judge applied"))
