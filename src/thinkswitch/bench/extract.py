"""Find the final answer in a model's answer text.

Models end their answers in many ways; the first of these that is present wins:

1. the last top-level `\\boxed{...}` (or `\\fbox{...}`), braces balanced, so
   `\\boxed{\\frac{1}{2}}` gives `\\frac{1}{2}`; an unclosed box (a truncated answer) is skipped;
2. the last "Final answer:" / "final answer is" / "The answer is" / "Answer:" (any case): the rest
   of that line (or the next non-empty line when the marker ends its line), without markdown
   bold, enclosing `$`/`\\(`...`\\)`, a leading currency `$` and a trailing period;
3. the last GSM8K-style `#### X` line;
4. the last number in the text (`1,234` thousands separators, negatives, decimals, fractions
   such as `3/4`), commas removed and a Unicode minus turned into `-`.

Nothing found gives None. The order puts explicit markers before guesses: a model that writes
"Final answer: 18" after working through other numbers must be graded on 18.
"""

from __future__ import annotations

import re

_BOX_START = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_MARKER = re.compile(
    r"final\s+answer\b\s*(?:is\s*)?[:：]?|the\s+answer\s+is\s*[:：]?|answer\s*[:：]",
    re.IGNORECASE,
)
# `[^\S\n]*` and a greedy `(.+)` stripped afterwards: `^\s*` rescans blank lines from each line
# start and `(.+?)\s*$` rescans a space run from each of its characters (both quadratic).
_HASHES = re.compile(r"^[^\S\n]*####\s*(.+)$", re.MULTILINE)
_NUMBER = re.compile(
    r"(?:(?<![\w)])[-−])?"  # a sign only when it is not a binary minus ("3-5")
    r"(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|(?<![\w.])\.\d+)"  # 1,234 / 1234.5 / .5
    r"(?:/\d+)?"  # an optional fraction denominator: 3/4
)
_TOKEN = re.compile(r"[^\s$]+")
_ENCLOSERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"), ("**", "**"))


def extract_answer(text: str) -> str | None:
    """The final answer in `text`, by the rules in the module docstring, or None."""
    for finder in (last_boxed, marked_answer, hash_answer, last_number):
        found = finder(text)
        if found:
            return found
    return None


def last_boxed(text: str) -> str | None:
    """Contents of the last top-level `\\boxed{...}` / `\\fbox{...}` that is closed.

    Linear in the text: the braces are matched once for the whole text (not rescanned to the
    end from every unclosed box), and the found span is sliced only once, at the end."""
    found: tuple[int, int] | None = None
    closing: dict[int, int] | None = None
    run_end = 0  # where the last token's run of non-space ends: a later token inside it too
    pos = 0
    while (match := _BOX_START.search(text, pos)) is not None:
        start = match.end()
        while start < len(text) and text[start] == " ":
            start += 1
        if start < len(text) and text[start] == "{":
            if closing is None:
                closing = _closing_braces(text)
            end = closing.get(start)
            if end is None:
                pos = start + 1
                continue
            found = (start + 1, end)
            pos = end + 1
        else:  # `\boxed 5`: one token up to whitespace or `$`
            if start >= run_end:
                token = _TOKEN.match(text, start)
                run_end = start if token is None else token.end()
            if start < run_end:
                found = (start, run_end)
            pos = start + 1
    return None if found is None else text[found[0] : found[1]].strip()


def _closing_braces(text: str) -> dict[int, int]:
    """Index of each brace -> index of the brace closing it; escaped braces `\\{ \\}` do not
    count, and an unclosed brace is absent."""
    closing: dict[int, int] = {}
    opened: list[int] = []
    for index, char in enumerate(text):
        if char not in "{}" or (index > 0 and text[index - 1] == "\\"):
            continue
        if char == "{":
            opened.append(index)
        elif opened:
            closing[opened.pop()] = index
    return closing


def marked_answer(text: str, *, strip_period: bool = True) -> str | None:
    """The text after the last "Final answer:"-like marker, cleaned, or None.

    `strip_period=False` keeps a final period, for answers that are sentences.
    """
    matches = list(_MARKER.finditer(text))
    if not matches:
        return None
    rest = text[matches[-1].end() :]
    lines = rest.split("\n")
    candidates = [lines[0], *[line for line in lines[1:] if line.strip()][:1]]
    for line in candidates:
        cleaned = clean_answer(line, strip_period=strip_period)
        if cleaned:
            return cleaned
    return None


def hash_answer(text: str) -> str | None:
    """The rest of the last `#### X` line, cleaned, or None."""
    matches = _HASHES.findall(text)
    if not matches:
        return None
    return clean_answer(matches[-1]) or None


def last_number(text: str) -> str | None:
    """The last number in `text` (commas removed, Unicode minus as `-`), or None."""
    numbers: list[str] = _NUMBER.findall(text)
    if not numbers:
        return None
    return numbers[-1].replace(",", "").replace("−", "-")


def clean_answer(raw: str, *, strip_period: bool = True) -> str:
    """Trim what surrounds an answer on its line: spaces, markdown bold, `$`, a final period."""
    text = raw.strip()
    while True:
        before = text
        for left, right in _ENCLOSERS:
            enclosed = text.startswith(left) and text.endswith(right)
            if enclosed and len(text) > len(left) + len(right):
                text = text[len(left) : -len(right)].strip()
        text = text.strip("*").strip()
        if text.startswith("\\$"):
            text = text[2:].strip()
        text = text.strip("$").strip()
        if strip_period:
            text = text.removesuffix(".").strip()
        if text == before:
            return text


def gold_from_gsm8k(answer_field: str) -> str:
    """The gold number of a GSM8K `answer` field: what follows `####`, commas removed."""
    _, sep, tail = answer_field.rpartition("####")
    if not sep:
        raise ValueError("no '####' in the GSM8K answer field")
    gold = tail.strip().replace(",", "")
    if not gold:
        raise ValueError("nothing after '####' in the GSM8K answer field")
    return gold
