"""Recognise a reminder asked for in words, without /remind.

    remind me tomorrow at 9 to pay the ECFMG fee      → "tomorrow at 9 to pay the ECFMG fee"
    can you remind me to call the embassy on friday    → "to call the embassy on friday"
    set a reminder for tmrw 10 am: call embassy        → "tmrw 10 am: call embassy"

Only the request is recognised here; the time is read by `bot.reminders.when`, exactly
as for /remind (it finds a time at the start or at the end). "Remind me what ECFMG
is" asks a question, not for a reminder, and is left to the answers.
"""

from __future__ import annotations

import re

_REQUEST = re.compile(
    r"^(?:(?:hey|hi|hello|ok|okay|so|and|oh)\b[\s,!.]*)?"
    r"(?:(?:please|pls|plz|kindly)[\s,]+)?"
    r"(?:(?:can|could|would|will)\s+(?:you|u)\s+(?:please\s+|pls\s+|plz\s+)?)?"
    r"(?:i\s+(?:want|need|would\s+like|'d\s+like|d\s+like)\s+(?:you\s+to\s+)?)?"
    r"(?:(?:please|pls|plz)\s+)?"
    r"(?:(?:remind\s+me|(?:set|add|create|make|put)\s+(?:me\s+)?(?:up\s+)?(?:a\s+|an\s+)?reminder)"
    r"(?P<rest>(?:[^\w'].*)?)|(?:new\s+)?reminder\s*[:\-–—](?P<listed>.*))$",
    re.IGNORECASE | re.DOTALL,
)
_FOR = re.compile(r"^(?:\s*(?:for|on|:|,|-|–|—)\s*)+", re.IGNORECASE)
_QUESTION = re.compile(
    r"^(?:what|how|which|who|whom|whose|where|why|whether|if|when\s+(?:is|are|was|were|do|does|did|will|should|can|"
    r"the|my|i|to)|of\s+(?:what|the\s+(?:fee|fees|rules|requirements|deadline)))\b", re.IGNORECASE)


def reminder_request(text: str) -> str | None:
    """What to hand to /remind when `text` asks for a reminder in words; None when it doesn't."""
    match = _REQUEST.match(text.strip())
    if match is None:
        return None
    rest = _FOR.sub("", (match.group("rest") or match.group("listed") or "").strip().rstrip("?!. ")).strip()
    if _QUESTION.match(rest):
        return None
    return rest
