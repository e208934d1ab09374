"""Typed text before it reaches a handler: cleaning, the limits on length, and one question answered.

Kept apart from `bot.advisor` (which builds every capability and its store) so that
`img-advisor ask` answers a question with the knowledge base alone: no database, no
reminders, no event loop.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

from bot.events import Outcome, Reply

if TYPE_CHECKING:
    from bot.answers.faq import FaqService

MAX_TEXT = 2000
"""Longer messages get a polite "too long" instead of an answer."""

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[@-Z\\-_]")


def clean_text(text: str) -> str:
    """Drop terminal escapes, control, format (zero-width, bidi) and private-use characters; trim."""
    if text.isprintable():  # no escape, control, format, surrogate or private-use character: nothing to drop
        return text.strip()
    text = _ANSI.sub("", text)
    return "".join(
        ch for ch in text
        if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co")
    ).strip()


def text_problem(text: str) -> Reply | None:
    """What to say instead of an answer when the text is empty or too long."""
    if not text:
        return Reply("Send me a question about the road to a US residency, or type /help.")
    if len(text) > MAX_TEXT:
        return Reply(f"That message is too long for me ({len(text):,} characters). "
                     f"Please ask one question in under {MAX_TEXT:,} characters.")
    return None


def ask(faq: FaqService, question: str) -> Outcome:
    """Answer one question as free text in a private chat would be (`Advisor.ask`, `img-advisor ask`)."""
    text = clean_text(question)
    problem = text_problem(text)
    return Outcome([problem], kind="invalid") if problem else faq.answer(text)
