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
_HASHES = re.compile(r"^\s*####\s*(.+?)\s*$", re.MULTILINE)
_NUMBER = re.compile(
    r"(?:(?<![\w)])[-−])?"  # a sign only when it is not a binary minus ("3-5")
    r"(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|(?<![\w.])\.\d+)"  # 1,234 / 1234.5 / .5
    r"(?:/\d+)?"  # an optional fraction denominator: 3/4
)
_ENCLOSERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"), ("**", "**"))


def extract_answer(text: str) -> str | None:
    """The final answer in `text`, by the rules in the module docstring, or None."""
    for finder in (last_boxed, marked_answer, hash_answer, last_number):
        found = finder(text)
        if found:
            return found
    return None


def last_boxed(text: str) -> str | None:
    """Contents of the last top-level `\\boxed{...}` / `\\fbox{...}` that is closed."""
    found: str | None = None
    pos = 0
    while (match := _BOX_START.search(text, pos)) is not None:
        start = match.end()
        while start < len(text) and text[start] == " ":
            start += 1
        if start < len(text) and text[start] == "{":
            end = _closing_brace(text, start)
            if end is None:
                pos = start + 1
                continue
            found = text[start + 1 : end].strip()
            pos = end + 1
        else:  # `\boxed 5`: one token up to whitespace or `$`
            token = re.match(r"[^\s$]+", text[start:])
            if token is not None:
                found = token.group(0)
            pos = start + 1
    return found


def _closing_brace(text: str, open_at: int) -> int | None:
    """Index of the brace closing the one at `open_at`; escaped braces `\\{ \\}` do not count."""
    depth = 0
    for index in range(open_at, len(text)):
        char = text[index]
        if char == "{" and (index == 0 or text[index - 1] != "\\"):
            depth += 1
        elif char == "}" and (index == 0 or text[index - 1] != "\\"):
            depth -= 1
            if depth == 0:
                return index
    return None


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
