"""The one entry point of the core: `Advisor.handle(event) -> list[Reply]`.

Routing, in order: a button action; a command (`/name args`); free text (a typed
yes/no to /forget, a quiz answer, a reminder asked for in words, a question). In a group
the bot speaks only when addressed (a command, a mention, a reply to the bot), or
when the chat's admins turned on auto-answer and the match is confident. A handler
that raises never takes the bot down: the user gets a short apology and the error is
logged with its traceback.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

from bot.answers.faq import FaqService
from bot.answers.service import AnswerService
from bot.answers.store import AnswerStore
from bot.database import Database, is_store_fault
from bot.events import Incoming, Outcome, Reply
from bot.groups.quiet import quiet_until
from bot.groups.settings import WELCOME, SettingsService
from bot.groups.store import GroupStore
from bot.groups.throttle import Limits, Throttle
from bot.knowledge import KnowledgeBase, check_knowledge
from bot.markup import escape
from bot.privacy.service import PrivacyService
from bot.quizzes.service import QuizService
from bot.quizzes.store import QuizStore
from bot.reminders.scheduler import Clock, RealClock
from bot.reminders.service import ReminderService
from bot.reminders.store import ReminderStore
from bot.text import MAX_TEXT, ask, clean_text, text_problem
from bot.usage.store import UsageStore

log = logging.getLogger(__name__)

STORE_APOLOGY = ("Sorry, I couldn't save or look that up just now: my storage is having trouble. "
                 "Please try again in a few minutes.")

START_TEXT = (
    "I'm IMG Advisor. I answer questions about the road to a US residency "
    "for international medical graduates: US clinical experience, ECFMG certification, USMLE, "
    "visas, costs, letters, timing and the Match, always with sources.\n\n"
    "Ask me in your own words, for example \"observership fees?\" or \"can I do hands-on on a B1/B2?\", "
    "or browse the topics.\n\nThis is general information, not legal or official advice: "
    "check the official page before you pay or apply.")
"""What /start says after "Hello, <name>!"."""

_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@\S+)?(?:\s+(.*))?$", re.DOTALL)

Handler = Callable[[Incoming, str], Awaitable[list[Reply]]]

_ACTION = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")
"""Every payload the bot makes (ids are ASCII slugs, tokens URL-safe): anything else is refused unread."""
ADMIN_ACTIONS = ("set", "del")
"""Buttons whose effect depends on the presser being a chat admin (settings; removing others' answers)."""


@dataclass(frozen=True)
class Command:
    """A command users can type, as shown in /help and in the platforms' command menus."""

    name: str
    args: str
    description: str
    handler: Handler
    admin_only: bool = False
    owner_only: bool = False
    checks_admin: bool = False  # the answer depends on whether the sender is a chat admin (not only admin_only)


class Advisor:
    """The bot's brain; every adapter calls `handle` and renders what comes back."""

    def __init__(self, kb: KnowledgeBase, database: Database, clock: Clock | None = None, limits: Limits | None = None,
                 owners: frozenset[str] = frozenset(), log_text: bool = False, knowledge_dir: Path | None = None,
                 flood_limits: bool = True):
        """`flood_limits=False` for one local user (the console): the limits protect groups, not a terminal."""
        self.database = database
        # each capability owns its tables; the order here is the order of /mydata
        reminder_store, quiz_store, answer_store = ReminderStore(database), QuizStore(database), AnswerStore(database)
        self.groups, self.usage = GroupStore(database), UsageStore(database)
        self.knowledge_dir = knowledge_dir  # where /reload and SIGHUP read the knowledge base from
        self.clock = clock or RealClock()
        limits = limits or Limits()
        self.answers = AnswerService(FaqService(kb), answer_store, self.groups, self.usage, self.clock.now,
                                     limits.cooldown_minutes)
        self.throttle = Throttle(limits) if flood_limits else None
        self.settings = SettingsService(self.groups, reminder_store.timezone)
        self.owners = owners
        self.log_text = log_text
        self.reminders = ReminderService(reminder_store, self.groups, self.clock.now, kb.deadlines)
        self.quiz = QuizService(quiz_store, kb.quizzes, kb.entries, self.clock.now, reminder_store.timezone)
        self.quiz.add_reminder = self.reminders.add_personal
        self.privacy = PrivacyService(database, self.clock.now, self._forgotten)
        self.commands: dict[str, Command] = {c.name: c for c in _command_table(self)}

    @property
    def faq(self) -> FaqService:
        """The knowledge base's question answering (replaced whole on reload)."""
        return self.answers.faq

    async def handle(self, event: Incoming) -> list[Reply]:
        """Serve one event (message, command or button press) and return what to say."""
        started = time.perf_counter()
        replies = await self._handle(event)
        if log.isEnabledFor(logging.INFO):  # one line per event; no ids, no text
            kind = "button" if event.action is not None else "command" if event.text.lstrip().startswith("/") \
                else "message"
            log.info("event platform=%s chat=%s kind=%s replies=%d ms=%.1f", event.platform,
                     "private" if event.is_private else "group", kind, len(replies),
                     (time.perf_counter() - started) * 1000)
        return replies

    async def _handle(self, event: Incoming) -> list[Reply]:
        try:
            if self.log_text:
                log.info("%s %s/%s: %r", event.platform, event.chat_id, event.user_id, event.action or event.text)
            if not self._for_me(event):
                return await self._route(event)
            self.usage.seen(event.platform, event.user_id, event.chat_id, self.clock.now().timestamp(),
                            private=event.is_private)
            verdict = self.throttle.check(event) if self.throttle else "ok"
            if verdict == "drop":
                return []
            if verdict == "warn":
                return [Reply("You're sending messages faster than I can answer well. Please wait a minute, "
                              "then ask again.", private=not event.is_private, notice=event.action is not None)]
            return await self._route(event)
        except Exception as exc:
            if is_store_fault(exc):  # locked, full, read-only: logged once per spell, not per message
                self.database.status.failed(exc, f"handling a {event.platform} event")
                pressed = event.action is not None  # a button: a transient notice, only to the presser
                return [Reply(STORE_APOLOGY, private=pressed and not event.is_private, notice=pressed)]
            log.exception("handler failed for a %s event", event.platform)  # no chat or user id
            return [Reply("Sorry, something went wrong on my side. Please try again in a moment.")]

    @staticmethod
    def _for_me(event: Incoming) -> bool:
        """Whether the event asks something of the bot (not just group chatter it overhears)."""
        return event.is_private or event.addressed or event.action is not None or event.text.lstrip().startswith("/")

    async def _route(self, event: Incoming) -> list[Reply]:
        if event.action is not None:
            return await self._press(event)
        text = clean_text(event.text)
        if not event.is_private and not event.addressed and not text.startswith("/"):
            return await self._overheard(event, text)
        answer = self.privacy.typed_answer(event, text)  # the next message answers /forget's question, or not
        if text.startswith("/"):
            return await self._command(event, text)
        if answer:
            return await self.privacy.confirmed(event, answer, replace=False)
        return await self._typed(event, text)

    async def _typed(self, event: Incoming, text: str) -> list[Reply]:
        """Typed words for the bot: a quiz answer (private), a reminder in words, a question."""

        async def otherwise() -> list[Reply]:
            problem = text_problem(text)
            if problem:
                return [problem]
            return await self.reminders.in_words(event, text) or self.answers.answer(event, text)

        if event.is_private and text:  # a quiz answer, or (a question) answered while the quiz waits
            return await self.quiz.text(event, text[:MAX_TEXT], otherwise)
        return await otherwise()

    async def _overheard(self, event: Incoming, text: str) -> list[Reply]:
        """A group message not addressed to the bot: silent unless auto-answer is on and the bot is sure; in quiet
        hours only self-harm words get a reply (the crisis line, at most once an hour per person)."""
        if not text or len(text) > MAX_TEXT:
            return []
        settings = self.groups.chat_settings(event.platform, event.chat_id)
        if not settings.auto_answer:
            return []
        quiet = quiet_until(settings, self.clock.now()) is not None
        return self.answers.answer(event, text, unprompted=True, crisis_only=quiet)

    def ask(self, question: str) -> Outcome:
        """Answer one question as free text in a private chat would be (used by `ask --json`)."""
        return ask(self.faq, question)

    async def _command(self, event: Incoming, text: str) -> list[Reply]:
        match = _COMMAND.match(text)
        name = match.group(1).lower() if match else ""
        command = self.commands.get(name)
        if command is None:
            shown = escape(text.split()[0][:40])
            return [replace(self._help_reply(), text=f"I don't know the command {shown}.\n\n" + self._help_reply().text)]
        if command.admin_only and not (event.is_admin or event.is_private):
            return [Reply(f"Sorry, only chat admins can use /{command.name}.", private=True)]
        if command.owner_only and f"{event.platform}:{event.user_id}" not in self.owners:
            return [Reply(f"Only the bot's owners can use /{command.name}.", private=True)]
        args = (match.group(2) or "").strip() if match else ""
        return await command.handler(event, args)

    def needs_admin(self, text: str = "", action: str | None = None) -> bool:
        """Whether the answer to this message or button depends on the sender being a chat admin.

        Adapters check admin status fresh from the platform for these (a demoted admin
        loses the power at once) and need not ask for anything else.
        """
        if action is not None:
            return action.partition(":")[0] in ADMIN_ACTIONS
        match = _COMMAND.match(clean_text(text))
        command = self.commands.get(match.group(1).lower()) if match else None
        return command is not None and (command.admin_only or command.checks_admin)

    async def _press(self, event: Incoming) -> list[Reply]:
        """A button: `kind:value`, handed to the part of the bot that made it.

        A payload is a claim, not a credential: each handler decides from the presser's
        identity and stored state. Anything that is not a payload this bot makes gets a
        short refusal (a notice, only to the presser, in a group).
        """
        if not _ACTION.fullmatch(event.action or ""):
            return self._refuse_button(event)
        kind, _, value = (event.action or "").partition(":")
        parts = value.split(":")
        handlers: dict[str, Callable[[], Awaitable[list[Reply] | None]]] = {
            "faq": lambda: self._entry(value),
            "faqp": lambda: self.answers.press_private_copy(event, value),
            "fb": lambda: self.answers.press_feedback(event, parts),
            "del": lambda: self.answers.press_delete(event, value),
            "set": lambda: self.settings.press(event, parts),
            "topic": lambda: self._topic(value),
            "topics": lambda: self._menu(self._topics(event, "")),
            "rem": lambda: self.reminders.press(event, parts),
            "dl": lambda: self.reminders.press_deadline(event, parts),
            "quiz": lambda: self.quiz.press(event, parts),
            "forget": lambda: self.privacy.forget(event, "") if value == "ask" else self.privacy.confirmed(event, value),
        }
        handler = handlers.get(kind)
        replies = await handler() if handler and (value or kind == "topics") else None
        if replies is not None:
            return replies
        return self._refuse_button(event)

    def _refuse_button(self, event: Incoming) -> list[Reply]:
        if not event.is_private:
            return [Reply("That button doesn't work (any more).", private=True, notice=True)]
        return [Reply("That button no longer works (the bot was updated). Here is where to start again:",
                      self.faq.topics_reply().buttons)]

    async def _entry(self, entry_id: str) -> list[Reply] | None:
        return [self.faq.entry_reply(entry_id)] if entry_id in self.faq.kb.entries else None

    async def _topic(self, value: str) -> list[Reply] | None:
        topic_id, _, page = value.partition(":")  # `topic:<id>` or `topic:<id>:<page>`
        if page and not (page.isascii() and page.isdigit() and len(page) <= 3):
            return None
        reply = self.faq.topic_reply(topic_id, int(page) if page else 1)
        return [replace(reply, replace=True)] if reply else None

    @staticmethod
    async def _menu(replies: Awaitable[list[Reply]]) -> list[Reply]:
        """Browsing the topic menu edits it in place instead of posting a new message per press."""
        return [replace(r, replace=True) for r in await replies]

    # command handlers

    async def _start(self, event: Incoming, args: str) -> list[Reply]:
        if args:
            started = await self.quiz.start_payload(event, args.strip())
            if started is not None:
                return started
        name = f", {event.user_name}" if event.user_name else ""
        return [Reply(f"Hello{escape(name)}! {START_TEXT}", self.faq.topics_reply().buttons)]

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
        return self.answers.answer(event, args)

    def move_chat(self, platform: str, old_chat_id: str, new_chat_id: str) -> int:
        """A chat changed id (Telegram group -> supergroup): its reminders, settings and cooldowns follow.

        Returns how many reminders moved.
        """
        self.groups.move_chat(platform, old_chat_id, new_chat_id)
        return self.reminders.store.move_chat(platform, old_chat_id, new_chat_id)

    def group_welcome(self) -> Reply:
        """What the bot says when it is added to a group (see `bot.groups.settings.WELCOME`)."""
        return Reply(WELCOME)

    def reload(self, directory: Path) -> str:
        """Load the knowledge base again; a broken one is refused and the old one keeps running."""
        kb, problems = check_knowledge(directory)
        errors = [p for p in problems if p.severity == "error"]
        if kb is None:
            shown = "\n".join(str(p) for p in errors[:10])
            log.error("knowledge reload refused; still running the old knowledge base:\n%s", shown)
            return f"Reload refused: {len(errors)} error(s); the old knowledge base is still running.\n{shown}"
        self.answers.faq = FaqService(kb)
        self.quiz.quizzes = kb.quizzes
        self.quiz.entries = kb.entries
        self.reminders.deadlines = kb.deadlines
        log.info("knowledge base reloaded: %d entries, %d quizzes", len(kb.entries), len(kb.quizzes))
        return f"Reloaded: {len(kb.entries)} entries, {len(kb.quizzes)} quizzes, {len(kb.deadlines)} deadlines."

    async def _reload(self, event: Incoming, args: str) -> list[Reply]:
        if self.knowledge_dir is None:
            return [Reply("This bot was started without a knowledge directory to reload from.", private=True)]
        return [Reply(escape(self.reload(self.knowledge_dir)), private=True)]

    def _forgotten(self, platform: str, user_id: str) -> None:
        """After /forget: what memory holds goes too, and the scheduler re-checks."""
        self.answers.forget(platform, user_id)
        self.reminders.notify_changed()


def _command_table(advisor: Advisor) -> tuple[Command, ...]:
    """Every command, in the order of /help and the platforms' command menus."""
    return (
        Command("start", "", "Start here: what I can do", advisor._start),
        Command("help", "", "How to use the bot", advisor._help),
        Command("topics", "", "Browse the questions I can answer", advisor._topics),
        Command("ask", "QUESTION", "Ask a question (also works as plain text)", advisor._ask),
        Command("quiz", "[NAME]", "Eligibility quizzes that end in a personal plan", advisor.quiz.command),
        Command("results", "", "Your last quiz results", advisor.quiz.results),
        Command("remind", "WHEN WHAT", "Set a reminder, e.g. /remind tomorrow 9am book OET",
                advisor.reminders.remind, checks_admin=True),
        Command("reminders", "", "Your reminders, with cancel buttons", advisor.reminders.list_reminders),
        Command("timezone", "ZONE", "Set your time zone: a city, a zone or UTC+5:30", advisor.reminders.timezone),
        Command("deadlines", "", "Upcoming Match dates, with reminders", advisor.reminders.deadlines_list),
        Command("mydata", "", "See everything I store about you", advisor.privacy.mydata),
        Command("forget", "", "Delete everything I store about you", advisor.privacy.forget),
        Command("settings", "", "Admins: how the bot behaves in this group", advisor.settings.command,
                admin_only=True),
        Command("autoanswer", "on|off", "Admins: answer confident matches without a mention",
                advisor.settings.autoanswer, admin_only=True),
        Command("reload", "", "Owners: reload the knowledge base", advisor._reload, owner_only=True),
    )
