"""Answer questions from the knowledge base: confident answer, "did you mean", or honest "not sure".

Before the knowledge base is searched, phrases from knowledge/smalltalk.yaml are
recognised: greetings and thanks get a short friendly reply, group chatter a short
one, and out-of-scope subjects (other countries' exams, clinical questions, off-topic
chat) a polite decline. Nothing here knows about any platform.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

from bot.answers.matching import Candidate, Matcher
from bot.answers.normalize import normalize
from bot.events import Button, Outcome, Reply, button_rows
from bot.knowledge import KnowledgeBase, Link, SmallTalkKind
from bot.markup import bold, escape, link

ANSWER_AT = 0.42
"""A top score at or above this is answered directly (chosen with `img-advisor eval`)."""
SUGGEST_AT = 0.30
"""Entries scoring at or above this (but no answer) are offered as "did you mean"."""
MARGIN = 0.02
"""A top score this close to the runner-up is ambiguous: offer both instead of guessing."""
SURE_AT = 0.70
"""A question of several words scoring this high is answered even when a runner-up is close."""
ONE_WORD_MARGIN = 0.15
"""A one-word question ("visa?", "fees") fits many entries: answer only a clear winner."""
MAX_SUGGESTIONS = 3
MAX_RELATED = 3


class _PhraseSet:
    """Finds any of a list of phrases as whole words inside normalised text."""

    def __init__(self, kind: SmallTalkKind):
        self.reply = kind.reply
        phrases = sorted({normalize(p) for p in kind.phrases if normalize(p)}, key=len, reverse=True)
        # a trailing number still matches: "plab2", "mccqe1"
        self._pattern = re.compile(r"\b(?:" + "|".join(re.escape(p) for p in phrases) + r")\d*\b")

    def found_in(self, normalized: str) -> bool:
        return bool(self._pattern.search(normalized))


class FaqService:
    """Turns questions into replies using one loaded knowledge base."""

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        self.matcher = Matcher(list(kb.entries.values()), kb.synonyms)
        self.greeting = _PhraseSet(kb.smalltalk.greeting)
        self.thanks = _PhraseSet(kb.smalltalk.thanks)
        self.chatter = _PhraseSet(kb.smalltalk.chatter)
        self.out_of_scope = _PhraseSet(kb.smalltalk.out_of_scope)
        self._entry_replies: dict[str, Reply] = {}
        buttons = [Button(t.title, f"topic:{t.id}") for t in kb.topics.values() if kb.entries_in(t.id)]
        self._topic_buttons = button_rows(buttons, per_row=2)

    def answer(self, question: str, answer_at: float | None = None) -> Outcome:
        """Decide what to say to `question`, with the entry, score and suggestions behind it.

        `answer_at` raises the confidence needed to answer (a group's auto-answer setting).
        """
        normalized = normalize(question)
        stems = self.matcher.stems(normalized, normalized=True)
        ranked = self.matcher.rank(question, limit=MAX_SUGGESTIONS + 1, q_stems=stems)
        words = len(stems)
        top = ranked[0] if ranked else None
        score = top.score if top else None
        if self.out_of_scope.found_in(normalized):
            return Outcome([Reply(self.out_of_scope.reply, self._topic_buttons)], None, score, kind="out_of_scope")
        if top and is_confident(ranked, words, answer_at=max(answer_at or ANSWER_AT, ANSWER_AT)):
            return Outcome([self.entry_reply(top.entry_id)], top.entry_id, top.score)
        for talk in (self.thanks, self.greeting, self.chatter):
            if talk.found_in(normalized):
                return Outcome([Reply(talk.reply)], None, score, kind="smalltalk")
        suggestions = [c for c in ranked if c.score >= SUGGEST_AT][:MAX_SUGGESTIONS]
        if suggestions:
            return Outcome([self._did_you_mean(suggestions)], None, score, [c.entry_id for c in suggestions],
                           kind="unsure")
        return Outcome([self.nothing_fits()], None, score, kind="none")

    def short_reply(self, entry_id: str) -> Reply:
        """A group-friendly answer: the title and first paragraph, with the details offered privately."""
        entry = self.kb.entries[entry_id]
        first = entry.answer.strip().split("\n\n")[0]
        return Reply(f"{bold(entry.title)}\n\n{first}",
                     button_rows([Button("Details in private", f"faqp:{entry_id}")]))

    def entry_reply(self, entry_id: str) -> Reply:
        """The full answer of one entry: title, answer, sources, review date, related buttons."""
        reply = self._entry_replies.get(entry_id)
        if reply is None:
            reply = self._entry_replies[entry_id] = self._render_entry(entry_id)
        return reply

    def _render_entry(self, entry_id: str) -> Reply:
        entry = self.kb.entries[entry_id]
        sources = " · ".join(_render_source(s) for s in entry.sources)
        text = (
            f"{bold(entry.title)}\n\n{entry.answer.strip()}\n\n"
            f"Sources: {sources}\nReviewed: {entry.reviewed.strftime('%B %Y')}"
        )
        related = [self.kb.entries[r] for r in entry.related if r in self.kb.entries][:MAX_RELATED]
        buttons = [Button(f"More: {e.title}", f"faq:{e.id}") for e in related]
        return Reply(text, button_rows(buttons))

    def _did_you_mean(self, suggestions: list[Candidate]) -> Reply:
        buttons = [Button(self.kb.entries[c.entry_id].title, f"faq:{c.entry_id}") for c in suggestions]
        return Reply("I'm not sure I understood. Did you mean one of these?", button_rows(buttons))

    def nothing_fits(self) -> Reply:
        """What to say when no entry fits: say so, and offer the topics."""
        return Reply(
            "Sorry, I don't have an answer for that. I cover the road to a US residency for "
            "international medical graduates: US clinical experience, ECFMG, USMLE, visas, costs, "
            "letters, timing and the Match. Try other words, or pick a topic:",
            self._topic_buttons,
        )

    def topics_reply(self) -> Reply:
        """The list of topics, one button each."""
        return Reply("Pick a topic:", self._topic_buttons)

    def topic_reply(self, topic_id: str) -> Reply | None:
        """The entries of one topic as buttons, or None if the topic does not exist."""
        topic = self.kb.topics.get(topic_id)
        if topic is None:
            return None
        buttons = [Button(e.title, f"faq:{e.id}") for e in self.kb.entries_in(topic_id)]
        buttons.append(Button("« All topics", "topics"))
        return Reply(f"{bold(topic.title)}\n{escape(topic.description)}", button_rows(buttons))


def is_confident(ranked: list[Candidate], words: int, answer_at: float = ANSWER_AT,
                 margin: float = MARGIN, one_word_margin: float = ONE_WORD_MARGIN) -> bool:
    """Whether the best candidate is good enough, and far enough ahead, to answer directly."""
    if not ranked or ranked[0].score < answer_at:
        return False
    gap = ranked[0].score - ranked[1].score if len(ranked) > 1 else 1.0
    if words <= 1:
        return gap >= one_word_margin
    return gap >= margin or ranked[0].score >= SURE_AT


def _render_source(source: Link | str) -> str:
    if isinstance(source, Link):
        return link(source.title, source.url)
    if source.startswith(("http://", "https://")):
        host = urlparse(source).netloc.removeprefix("www.")
        return link(host or source, source)
    return escape(source)

