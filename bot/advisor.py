"""The one entry point of the core: `Advisor.handle(event) -> list[Reply]`.

Routing, in order: a button action; a command (`/name args`); free text. In a group
the bot speaks only when addressed (a command, a mention, a reply to the bot), or
when the chat's admins turned on auto-answer and the match is confident. A handler
that raises never takes the bot down: the user gets a short apology and the error is
logged with its traceback.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from bot.events import Button, Incoming, Outcome, Reply, button_rows
from bot.faq import FaqService
from bot.knowledge import KnowledgeBase
from bot.markup import escape
from bot.quiz import QuizService
from bot.reminders import ReminderService
from bot.scheduler import Clock, RealClock
from bot.store import Store

log = logging.getLogger(__name__)

MAX_TEXT = 2000
"""Longer messages get a polite "too long" instead of an answer."""

_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@\S+)?(?:\s+(.*))?$", re.DOTALL)

Handler = Callable[[Incoming, str], Awaitable[list[Reply]]]


@dataclass(frozen=True)
class Command:
    """A command users can type, as shown in /help and in the platforms' command menus."""

    name: str
    args: str
    description: str
    handler: Handler
    admin_only: bool = False


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[@-Z\\-_]")


def clean_text(text: str) -> str:
    """Drop terminal escapes, control, format (zero-width, bidi) and private-use characters; trim."""
    text = _ANSI.sub("", text)
    return "".join(
        ch for ch in text
        if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co")
    ).strip()


class Advisor:
    """The bot's brain; every adapter calls `handle` and renders what comes back."""

    def __init__(self, kb: KnowledgeBase, store: Store, clock: Clock | None = None):
        self.faq = FaqService(kb)
        self.store = store
        self.clock = clock or RealClock()
        self.reminders = ReminderService(store, self.clock.now, kb.deadlines)
        self.quiz = QuizService(store, kb.quizzes, kb.entries, self.clock.now)
        self.quiz.add_reminder = self.reminders.add_personal
        self.commands: dict[str, Command] = {}
        for command in (
            Command("start", "", "Start here: what I can do", self._start),
            Command("help", "", "How to use the bot", self._help),
            Command("topics", "", "Browse the questions I can answer", self._topics),
            Command("ask", "QUESTION", "Ask a question (also works as plain text)", self._ask),
            Command("quiz", "[NAME]", "Eligibility quizzes that end in a personal plan", self.quiz.command),
            Command("results", "", "Your last quiz results", self.quiz.results),
            Command("remind", "WHEN WHAT", "Set a reminder, e.g. /remind tomorrow 9am book OET",
                    self.reminders.remind),
            Command("reminders", "", "Your reminders, with cancel buttons", self.reminders.list_reminders),
            Command("timezone", "ZONE", "Set your time zone: a city, a zone or UTC+5:30", self.reminders.timezone),
            Command("deadlines", "", "Upcoming Match dates, with reminders", self.reminders.deadlines_list),
            Command("forget", "", "Delete everything I store about you", self._forget),
            Command("autoanswer", "on|off", "Admins: answer confident matches without a mention",
                    self._autoanswer, admin_only=True),
        ):
            self.commands[command.name] = command

    async def handle(self, event: Incoming) -> list[Reply]:
        """Serve one event (message, command or button press) and return what to say."""
        try:
            return await self._route(event)
        except Exception:
            log.exception("handler failed for %s event in chat %s", event.platform, event.chat_id)
            return [Reply("Sorry, something went wrong on my side. Please try again in a moment.")]

    async def _route(self, event: Incoming) -> list[Reply]:
        if event.action is not None:
            return await self._press(event)
        text = clean_text(event.text)
        if text.startswith("/"):
            return await self._command(event, text)
        if not event.is_private and not event.addressed:
            return await self._overheard(event, text)
        if event.is_private and text and self.quiz.active(event):
            return await self.quiz.text(event, text[:MAX_TEXT])
        if not text:
            return [Reply("Send me a question about the road to a US residency, or type /help.")]
        if len(text) > MAX_TEXT:
            return [Reply(f"That message is too long for me ({len(text):,} characters). "
                          f"Please ask one question in under {MAX_TEXT:,} characters.")]
        return self.faq.answer(text).replies

    async def _overheard(self, event: Incoming, text: str) -> list[Reply]:
        """A group message not addressed to the bot: silent unless auto-answer is on and sure."""
        if not text or len(text) > MAX_TEXT or not self.store.auto_answer(event.platform, event.chat_id):
            return []
        outcome = self.faq.answer(text)
        return outcome.replies if outcome.entry else []

    def ask(self, question: str) -> Outcome:
        """Answer one question as free text in a private chat would be (used by `ask --json`)."""
        text = clean_text(question)
        if not text:
            return Outcome([Reply("Send me a question about the road to a US residency, or type /help.")])
        if len(text) > MAX_TEXT:
            return Outcome([Reply(f"That message is too long for me ({len(text):,} characters).")])
        return self.faq.answer(text)

    async def _command(self, event: Incoming, text: str) -> list[Reply]:
        match = _COMMAND.match(text)
        name = match.group(1).lower() if match else ""
        command = self.commands.get(name)
        if command is None:
            shown = escape(text.split()[0][:40])
            return [replace(self._help_reply(), text=f"I don't know the command {shown}.\n\n" + self._help_reply().text)]
        if command.admin_only and not (event.is_admin or event.is_private):
            return [Reply(f"Only chat admins can use /{command.name}.")]
        args = (match.group(2) or "").strip() if match else ""
        return await command.handler(event, args)

    async def _press(self, event: Incoming) -> list[Reply]:
        kind, _, value = (event.action or "").partition(":")
        if kind == "faq" and value in self.faq.kb.entries:
            return [self.faq.entry_reply(value)]
        if kind == "topic":
            reply = self.faq.topic_reply(value)
            if reply:
                return [reply]
        if kind == "topics":
            return [self.faq.topics_reply()]
        if kind == "rem":
            replies = await self.reminders.press(event, value.split(":"))
            if replies is not None:
                return replies
        if kind == "quiz":
            replies = await self.quiz.press(event, value.split(":"))
            if replies is not None:
                return replies
        if kind == "forget":
            return self._forget_confirmed(event, value == "yes")
        if kind == "dl":
            replies = await self.reminders.press_deadline(event, value.split(":"))
            if replies is not None:
                return replies
        return [Reply("That button no longer works (the bot was updated). Here is where to start again:",
                      self.faq.topics_reply().buttons)]

    # command handlers

    async def _start(self, event: Incoming, args: str) -> list[Reply]:
        if args:
            started = await self.quiz.start_payload(event, args.strip())
            if started is not None:
                return started
        name = f", {event.user_name}" if event.user_name else ""
        return [Reply(
            f"Hello{escape(name)}! I'm IMG Advisor. I answer questions about the road to a US residency "
            "for international medical graduates: US clinical experience, ECFMG certification, USMLE, "
            "visas, costs, letters, timing and the Match, always with sources.\n\n"
            "Ask me in your own words, for example \"observership fees?\" or \"can I do hands-on on a B1/B2?\", "
            "or browse the topics.\n\nThis is general information, not legal or official advice: "
            "check the official page before you pay or apply.",
            self.faq.topics_reply().buttons,
        )]

    def _help_reply(self) -> Reply:
        lines = ["**What I can do**", ""]
        for command in self.commands.values():
            args = f" {command.args}" if command.args else ""
            lines.append(f"/{command.name}{args} — {command.description}")
        lines += ["", "In a private chat, just type your question. In a group, mention me or reply to me."]
        return Reply("\n".join(lines))

    async def _help(self, event: Incoming, args: str) -> list[Reply]:
        return [self._help_reply()]

    async def _topics(self, event: Incoming, args: str) -> list[Reply]:
        return [self.faq.topics_reply()]

    async def _ask(self, event: Incoming, args: str) -> list[Reply]:
        if not args:
            return [Reply("Type your question after /ask, for example: /ask how much does an observership cost?")]
        if len(args) > MAX_TEXT:
            return [Reply(f"That question is too long for me. Please keep it under {MAX_TEXT:,} characters.")]
        return self.faq.answer(args).replies

    async def _forget(self, event: Incoming, args: str) -> list[Reply]:
        data = self.store.user_data(event.platform, event.user_id)
        summary = (f"{data['reminders']} reminder(s), {data['quiz_results']} quiz result(s), "
                   f"{data['quiz_in_progress']} quiz in progress, time zone: {data['timezone'] or 'not set'}")
        buttons = button_rows([Button("Yes, delete everything", "forget:yes"), Button("No, keep it", "forget:no")])
        return [Reply(f"This deletes everything I store about you, in every chat: {escape(summary)}. "
                      "It can't be undone. Are you sure?", buttons, private=True)]

    def _forget_confirmed(self, event: Incoming, yes: bool) -> list[Reply]:
        if not yes:
            return [Reply("Nothing was deleted.", private=True, replace=True)]
        self.store.delete_user(event.platform, event.user_id)
        self.reminders.notify_changed()
        return [Reply("Done: everything I stored about you is deleted.", private=True, replace=True)]

    async def _autoanswer(self, event: Incoming, args: str) -> list[Reply]:
        if event.is_private:
            return [Reply("Auto-answer is for groups: in a private chat I always answer.")]
        choice = args.strip().lower()
        if choice not in ("on", "off"):
            state = "on" if self.store.auto_answer(event.platform, event.chat_id) else "off"
            return [Reply(f"Auto-answer is {state}. Use /autoanswer on or /autoanswer off.")]
        self.store.set_auto_answer(event.platform, event.chat_id, choice == "on")
        if choice == "on":
            return [Reply("Auto-answer is on: I'll answer questions I'm confident about without a mention.")]
        return [Reply("Auto-answer is off: I'll answer only when addressed.")]

