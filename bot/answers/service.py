"""Answer questions in context: cooldowns, the group's reply style, feedback, removal, misses.

Every answer carries "Helpful? 👍 / 👎" (one vote per person per entry, counted under a
keyed hash, never a user id); in groups, the person who asked (or an admin) can remove
the answer. Questions the bot could not answer, and answers voted 👎, are kept under
the asker's keyed hash (never a user or chat id), if the chat allows it, for
`img-advisor report misses`; `/forget` deletes them.

Button payloads are claims, not credentials: the 🗑 button carries an unguessable
token whose record (which chat, who asked) is kept server-side, and the presser's own
identity decides; the 👍/👎 token only finds the question text kept in memory
(bounded, expiring) and is never trusted for anything else.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace

from bot.answers.faq import FaqService
from bot.answers.normalize import normalize
from bot.answers.store import TOKEN_LENGTH, AnswerStore
from bot.events import Button, Incoming, Outcome, Reply
from bot.groups.store import ChatSettings, GroupStore
from bot.markup import bold
from bot.usage.store import UsageStore

Now = Callable[[], dt.datetime]
MAX_REMEMBERED = 10_000
"""Questions kept in memory for the 👎 that may follow (the oldest go first)."""
REMEMBER_FOR = dt.timedelta(days=1)
"""How long a question is kept in memory for a 👎 on its answer."""
CRISIS_LINE_EVERY = dt.timedelta(hours=1)
"""Overheard self-harm words get the crisis line at most this often per person and chat (a group is not spammed)."""
_TOKEN = re.compile(rf"[A-Za-z0-9_-]{{{TOKEN_LENGTH}}}")


@dataclass(frozen=True)
class _Asked:
    question: str
    entry_id: str
    platform: str
    chat_id: str
    user_id: str
    at: float
PRIVATE_CHATTER = ("🙂 Any time! Whenever you have a question about US clinical experience, ECFMG, USMLE, visas or "
                   "the Match, just type it here. /topics shows what I know.")
"""Chatter in a private chat ("bye", "lol"): knowledge/smalltalk.yaml's chatter reply is for groups ("mention me")."""


class AnswerService:
    def __init__(self, faq: FaqService, store: AnswerStore, groups: GroupStore, usage: UsageStore, now: Now,
                 cooldown_minutes: int = 10):
        self.faq = faq
        self.store = store
        self.groups = groups
        self.usage = usage
        self.now = now
        self.cooldown = dt.timedelta(minutes=cooldown_minutes)
        self._asked: OrderedDict[str, _Asked] = OrderedDict()  # feedback token -> question (memory only)
        self._crisis_sent: OrderedDict[tuple[str, str, str], dt.datetime] = OrderedDict()  # memory only

    def answer(self, event: Incoming, question: str, unprompted: bool = False, crisis_only: bool = False) -> list[Reply]:
        """The replies to a question asked in `event`'s chat (`unprompted`: auto-answer; `crisis_only`: during
        quiet hours, where only self-harm words get a reply, the crisis line)."""
        if crisis_only:  # nothing is looked up in quiet hours: only the self-harm words are checked
            return self._crisis_line(event, self.faq.crisis_line(normalize(question)), self.now())
        group = not event.is_private
        settings = self.groups.chat_settings(event.platform, event.chat_id) if group else ChatSettings()
        outcome = self.faq.answer(question, answer_at=settings.threshold if unprompted else None)
        now = self.now()
        if unprompted and outcome.entry is None:
            return self._crisis_line(event, outcome, now)
        if not group and outcome.kind == "smalltalk" and outcome.replies[0].text == self.faq.kb.smalltalk.chatter.reply:
            return [Reply(PRIVATE_CHATTER)]
        if outcome.entry is None:
            if outcome.kind in ("unsure", "none") and settings.record_misses:
                self.store.record_miss(event.platform, question, outcome.kind, outcome.suggestions[0]
                                       if outcome.suggestions else None, outcome.score, now.timestamp(),
                                       user_id=event.user_id)
            return outcome.replies
        self.usage.count(event.platform, "questions answered", now.timestamp())
        if len(outcome.entries) > 1:
            return self._several(event, outcome, question)
        if group:
            last = self.groups.last_answered(event.platform, event.chat_id, outcome.entry)
            if last is not None and now.timestamp() - last < self.cooldown.total_seconds():
                # asked directly: point to the earlier answer; overheard: say nothing
                return [] if unprompted else [self._already_answered(outcome.entry, now.timestamp() - last)]
            self.groups.mark_answered(event.platform, event.chat_id, outcome.entry, now.timestamp())
        base = self.faq.short_reply(outcome.entry) if group and settings.reply_style == "short" else outcome.replies[0]
        return [self._decorate(base, outcome, event, question), *outcome.replies[len(outcome.entries):]]

    def _crisis_line(self, event: Incoming, outcome: Outcome | None, now: dt.datetime) -> list[Reply]:
        """An overheard message: silent, unless it has self-harm words and the crisis line was not just sent.

        Who got the line is kept in memory only, and only for CRISIS_LINE_EVERY (the oldest go first)."""
        if outcome is None or outcome.kind != "crisis":
            return []
        while self._crisis_sent and (len(self._crisis_sent) >= MAX_REMEMBERED
                                     or now - next(iter(self._crisis_sent.values())) >= CRISIS_LINE_EVERY):
            self._crisis_sent.popitem(last=False)
        key = (event.platform, event.chat_id, event.user_id)
        if key in self._crisis_sent:
            return []
        self._crisis_sent[key] = now
        return outcome.replies

    def _several(self, event: Incoming, outcome: Outcome, question: str) -> list[Reply]:
        """Several questions in one message: in private each answer in turn; in a group one short menu."""
        if event.is_private:
            answers = [self._decorate(reply, replace(outcome, entry=entry_id), event, question)
                       for reply, entry_id in zip(outcome.replies, outcome.entries)]
            return answers + outcome.replies[len(outcome.entries):]
        titles = [self.faq.kb.entries[e].title for e in outcome.entries]
        buttons = tuple((Button(title, f"faq:{entry_id}"),) for title, entry_id in zip(titles, outcome.entries))
        return [Reply(f"You asked {len(titles)} things. Tap each one for its answer:", buttons)]

    def _decorate(self, reply: Reply, outcome: Outcome, event: Incoming, question: str) -> Reply:
        assert outcome.entry is not None
        now = self.now().timestamp()
        token = secrets.token_urlsafe(6)
        self._remember(token, _Asked(question[:500], outcome.entry, event.platform, event.chat_id, event.user_id, now))
        row = [Button("👍 Helpful", f"fb:{outcome.entry}:{token}:1"), Button("👎 Not helpful", f"fb:{outcome.entry}:{token}:0")]
        if not event.is_private:
            removal = self.store.remember_asker(event.platform, event.chat_id, event.user_id, now)
            if removal is not None:  # None: the store could not record it, so no button that would not work
                row.append(Button("🗑 Remove", f"del:{removal}"))
        return Reply(reply.text, reply.buttons + (tuple(row),), reply.private)

    def _remember(self, token: str, asked: _Asked) -> None:
        """Keep a question for a 👎 on its answer: bounded, and each kept at most REMEMBER_FOR."""
        self._asked[token] = asked
        oldest = asked.at - REMEMBER_FOR.total_seconds()
        while self._asked and (len(self._asked) > MAX_REMEMBERED or next(iter(self._asked.values())).at < oldest):
            self._asked.popitem(last=False)

    def forget(self, platform: str, user_id: str) -> None:
        """Drop the questions a user asked from memory (/forget)."""
        for token in [t for t, a in self._asked.items() if (a.platform, a.user_id) == (platform, user_id)]:
            del self._asked[token]
        for key in [k for k in self._crisis_sent if (k[0], k[2]) == (platform, user_id)]:
            del self._crisis_sent[key]

    def _already_answered(self, entry_id: str, seconds: float) -> Reply:
        minutes = max(1, int(seconds // 60))
        title = self.faq.kb.entries[entry_id].title
        return Reply(f"I answered {bold(title)} in this chat {minutes} minute{'s' if minutes > 1 else ''} ago: "
                     "scroll up, or tap for a private copy.", ((Button("Send me a private copy", f"faqp:{entry_id}"),),))

    # buttons

    async def press_feedback(self, event: Incoming, parts: list[str]) -> list[Reply] | None:
        """`fb:<entry>:<token>:<1|0>`: one vote per person per entry."""
        if len(parts) != 3 or parts[0] not in self.faq.kb.entries or parts[2] not in ("0", "1"):
            return None
        entry_id, token, helpful = parts[0], parts[1], parts[2] == "1"
        now = self.now().timestamp()
        self.store.vote(event.platform, event.user_id, entry_id, helpful, now)
        consent = event.is_private or self.groups.chat_settings(event.platform, event.chat_id).record_misses
        if not helpful and consent:
            asked = self._asked.get(token)
            if asked is None or (asked.entry_id, asked.platform, asked.chat_id) != (entry_id, event.platform,
                                                                                  event.chat_id) \
                    or now - asked.at > REMEMBER_FOR.total_seconds():
                asked = None  # unknown, expired, or a token from another answer or chat: not trusted
            question = asked.question if asked else f"(an answer of “{self.faq.kb.entries[entry_id].title}”)"
            self.store.record_miss(event.platform, question, "downvote", entry_id, None, now, user_id=event.user_id)
        text = "Thanks, glad it helped!" if helpful else "Thanks for telling me; this helps improve the answers."
        return [Reply(text, private=True, notice=True)]

    async def press_private_copy(self, event: Incoming, entry_id: str) -> list[Reply] | None:
        if entry_id not in self.faq.kb.entries:
            return None
        reply = self.faq.entry_reply(entry_id)
        return [Reply(reply.text, reply.buttons, private=True)]

    async def press_delete(self, event: Incoming, token: str) -> list[Reply]:
        """`del:<token>`: the record says who asked in which chat; the presser's identity decides."""
        verdict = "unknown"
        if _TOKEN.fullmatch(token) and not event.is_private:
            verdict = self.store.take_removal(event.platform, event.chat_id, token, event.user_id, event.is_admin,
                                              self.now().timestamp())
        if verdict == "removed":
            return [Reply("", delete=True)]
        if verdict == "not yours":
            return [Reply("Only the person who asked (or an admin) can remove this answer.", private=True,
                          notice=True)]
        return [Reply("This button can't remove anything (any more).", private=True, notice=True)]
