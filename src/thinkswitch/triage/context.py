"""What triage reads: the last user turn, in the context of the conversation.

A follow-up such as "and with 7 boxes?" or "why?" says little by itself; whether it needs
thinking depends on the question it follows. A short last turn that opens like a follow-up,
leans on a pronoun, or is a bare question of a few words is read together with the user turn
before it ("Say hello." is a new request, "5 fields?" is not).
Pleasantries ("thanks!") are not follow-ups. Earlier assistant turns (and their reasoning) are
not read: they are the model's, not the caller's, and would make triage echo its own past.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from thinkswitch.kernel.messages import ChatMessage

FOLLOW_UP_MAX_WORDS = 12
BARE_MAX_WORDS = 4
OPENERS = re.compile(
    r"^\s*(and|but|so|then|now|also|what about|how about|what if|and if|why|how come|"
    r"same|again|instead|ok(ay)?,? (and|but|now|so)|are you sure|really|explain)\b",
    re.IGNORECASE)
PRONOUNS = re.compile(r"\b(it|those|these|them|they|that one|this one|the same|the previous|"
                      r"the last one|above)\b", re.IGNORECASE)
PLEASANTRIES = re.compile(r"^\s*(thanks|thank you|thx|ok(ay)?|great|cool|nice|perfect|got it|"
                          r"bye|hi|hello|hey)\b[\s!.]*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class TriageText:
    """The text a policy scores, a note for the decision's reason ('' when plain), and the
    last user turn alone (where an explicit instruction such as "think carefully" counts)."""

    text: str
    note: str = ""
    last: str = ""


def is_follow_up(text: str) -> bool:
    words = text.split()
    if not words or len(words) > FOLLOW_UP_MAX_WORDS or PLEASANTRIES.match(text):
        return False
    bare_question = len(words) <= BARE_MAX_WORDS and text.rstrip().endswith("?")
    return bare_question or bool(OPENERS.match(text)) or bool(PRONOUNS.search(text))


def triage_text(messages: tuple[ChatMessage, ...] | list[ChatMessage]) -> TriageText:
    """The last user turn, with the user turn before it when the last one is a follow-up."""
    users = [message.content for message in messages if message.role == "user"]
    if not users:
        return TriageText("")
    last = users[-1]
    if len(users) >= 2 and is_follow_up(last):
        return TriageText(f"{users[-2]}\n{last}",
                          "; a follow-up, read with the user turn before it", last)
    return TriageText(last, last=last)
