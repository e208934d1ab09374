"""The Telegram adapter: python-telegram-bot in, the core's replies out, reminders delivered.

Translate in (`to_incoming`), call `Advisor.handle`, render out (`render_html`,
`keyboard`), deliver reminders (`deliver`), and map Telegram errors to core outcomes.
In groups the bot speaks only when addressed: a command (also `/cmd@BotName`), an
@mention, or a reply to one of its messages; works with privacy mode on or off.
Answers in groups are replies to the question, in the asker's forum topic; photo
captions are read as text; anonymous admins (who post as the group) are admins.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import logging
import os
import time
import weakref
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

# Opt in to python-telegram-bot's coming timedelta `retry_after` (silences its deprecation warning).
os.environ.setdefault("PTB_TIMEDELTA", "true")

from telegram import (
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    CallbackQuery,
    ChatMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.advisor import Advisor
from bot.events import ChatRef, Incoming, Reply, split_thread
from bot.markup import parse, split
from bot.reminders.scheduler import Delivery

log = logging.getLogger(__name__)

PLATFORM = "telegram"
MAX_MESSAGE = 4096
ADMIN_CACHE_SECONDS = 300
CONCURRENT_UPDATES = 64
CONNECTIONS = 8
GROUP_COMMANDS = ("ask", "topics", "quiz", "deadlines", "remind", "help")
"""The group menu; group admins also see the admin commands (/settings, /autoanswer)."""
ACK_GRACE = 0.3
"""Seconds a button press's acknowledgement waits for the core's notice to ride along."""
STALE_OVERHEARD = dt.timedelta(minutes=10)
"""Group chatter older than this (the backlog after downtime) is not auto-answered."""


def render_html(markup: str) -> str:
    """The core's markup as Telegram HTML; every piece of text is escaped."""
    out = []
    for seg in parse(markup):
        text = html.escape(seg.text, quote=False)
        if seg.kind == "bold":
            out.append(f"<b>{text}</b>")
        elif seg.kind == "link":
            out.append(f'<a href="{html.escape(seg.url, quote=True)}">{text}</a>')
        else:
            out.append(text)
    return "".join(out)


def keyboard(reply: Reply, bot_username: str | None) -> InlineKeyboardMarkup | None:
    """Inline buttons carrying the core's actions, plus a deep-link button when asked for."""
    rows = [[InlineKeyboardButton(b.label, callback_data=b.action) for b in row] for row in reply.buttons]
    if reply.start_payload and bot_username:
        rows.append([InlineKeyboardButton("Open private chat", url=f"https://t.me/{bot_username}?start={reply.start_payload}")])
    return InlineKeyboardMarkup(rows) if rows else None


def _without(text: str, entities: Iterable[MessageEntity]) -> str:
    """`text` with the entities cut out; entity offsets count UTF-16 code units, as Telegram's do."""
    units = text.encode("utf-16-le")
    for entity in sorted(entities, key=lambda e: e.offset, reverse=True):
        units = units[: entity.offset * 2] + units[(entity.offset + entity.length) * 2:]
    return units.decode("utf-16-le")


def _topic(message: Message | None) -> int | None:
    """The forum topic a message is in (None in General and in ordinary chats), as PTB's own replies do."""
    return message.message_thread_id if message is not None and message.is_topic_message else None


def _is_member(member: ChatMember) -> bool:
    status = member.status
    return status in (ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER) or (
        status == ChatMemberStatus.RESTRICTED and bool(getattr(member, "is_member", False)))


class TelegramAdapter:
    """Runs the bot on Telegram (long polling) and delivers reminders there."""

    def __init__(self, advisor: Advisor, token: str, api_url: str | None = None, rate_limit: bool = True,
                 webhook_url: str | None = None, webhook_listen: tuple[str, int] = ("0.0.0.0", 8443),
                 webhook_secret: str | None = None):
        self.advisor = advisor
        self.api_url = api_url
        self.webhook_url = webhook_url
        self.webhook_listen = webhook_listen
        self.webhook_secret = webhook_secret
        builder = Application.builder().token(token)
        if api_url:
            base = api_url.rstrip("/")
            builder = builder.base_url(f"{base}/bot").base_file_url(f"{base}/file/bot")
        if rate_limit:
            builder = builder.rate_limiter(AIORateLimiter(max_retries=3))
        # many chats at once; `_in_order` keeps each chat's updates in arrival order
        # (the default HTTP pool has one connection, which would serialise every reply)
        self.app = (builder.concurrent_updates(CONCURRENT_UPDATES)
                    .connection_pool_size(CONNECTIONS).pool_timeout(10.0).build())
        self._chat_locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        self.app.add_handler(CallbackQueryHandler(self._on_callback))
        self.app.add_handler(ChatMemberHandler(self._on_membership, ChatMemberHandler.MY_CHAT_MEMBER))
        self.app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, self._on_migrate))
        self.app.add_handler(MessageHandler(filters.UpdateType.MESSAGE & (filters.TEXT | filters.CAPTION),
                                            self._on_message))
        self.app.add_error_handler(self._on_error)
        self._admins: dict[tuple[int, int], tuple[bool, float]] = {}
        self.admin_cache_seconds = ADMIN_CACHE_SECONDS
        self.ack_grace = ACK_GRACE
        self.handled: list[Callable[[], None]] = []  # observers: called after each update is handled
        self._stopped = asyncio.Event()

    @property
    def username(self) -> str | None:
        try:
            return self.app.bot.username
        except RuntimeError:
            return None

    async def start(self) -> None:
        """Connect, register the command menus, and start long polling (or the webhook server).

        The update backlog from while the bot was down is kept (see README): questions are
        answered late, presses are carried out even if too old to acknowledge.
        """
        self._stopped.clear()
        try:
            await self.app.initialize()
            await self._register_commands()
            assert self.app.updater is not None
            if self.webhook_url:
                host, port = self.webhook_listen
                # Telegram sends the secret in a header on every request; python-telegram-bot refuses others (403)
                await self.app.updater.start_webhook(
                    listen=host, port=port, url_path=urlsplit(self.webhook_url).path.lstrip("/"),
                    webhook_url=self.webhook_url, secret_token=self.webhook_secret, allowed_updates=Update.ALL_TYPES)
                mode = f"webhook on {host}:{port}"
            else:
                await self.app.updater.start_polling(poll_interval=0.0, timeout=10, allowed_updates=Update.ALL_TYPES,
                                                     error_callback=self._on_polling_error)
                mode = "long polling"
            await self.app.start()
        except BaseException:
            await self._release()
            raise
        log.info("telegram adapter started as @%s (%s)", self.username, mode)

    async def stop(self) -> None:
        """Stop taking updates, finish in-flight handlers, and close the connection."""
        self._stopped.set()
        await self._release()

    async def _release(self) -> None:
        """Undo whatever part of `start` ran (after a failed start, too)."""
        if self.app.updater and self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()  # nothing to do if initialize() never finished
        await self.app.bot.shutdown()  # the HTTP clients of a bot whose token was refused

    async def wait_closed(self) -> None:
        """Polling retries network errors itself; this returns only when the adapter is stopped."""
        await self._stopped.wait()

    def explain(self, error: BaseException) -> str | None:
        """A start-up failure in one line naming the setting to fix; never the token (PTB puts it in messages)."""
        if isinstance(error, InvalidToken):
            return ("TELEGRAM_BOT_TOKEN was rejected by Telegram: copy the token again from @BotFather "
                    "(/mybots, API Token) and restart")
        if isinstance(error, Conflict):
            return ("another process is already receiving updates for TELEGRAM_BOT_TOKEN (409 Conflict): "
                    "stop the other instance, or remove its webhook")
        if isinstance(error, NetworkError) and not isinstance(error, BadRequest):
            where = "TELEGRAM_API_URL" if self.api_url else "the network"
            return f"cannot reach the Telegram Bot API ({type(error).__name__}); check {where}"
        if isinstance(error, OSError) and self.webhook_url:
            host, port = self.webhook_listen
            return f"cannot listen on {host}:{port} ({error.strerror or error}); check TELEGRAM_WEBHOOK_LISTEN"
        return None

    async def _register_commands(self) -> None:
        """Command menus per scope: private chats, groups, group admins, and each owner's private chat."""
        commands = list(self.advisor.commands.values())
        everyone = [c for c in commands if not c.admin_only and not c.owner_only]
        menu = lambda chosen: [BotCommand(c.name, c.description[:256]) for c in chosen]  # noqa: E731
        group = [c for c in everyone if c.name in GROUP_COMMANDS]
        scopes: list[tuple[list[BotCommand], BotCommandScope]] = [
            (menu(everyone), BotCommandScopeAllPrivateChats()),
            (menu(group), BotCommandScopeAllGroupChats()),
            (menu(group + [c for c in commands if c.admin_only]), BotCommandScopeAllChatAdministrators()),
        ]
        for owner in sorted(self.advisor.owners):
            platform, _, user_id = owner.partition(":")
            if platform == PLATFORM and user_id.lstrip("-").isdigit():  # /reload only in owners' own menus
                scopes.append((menu(everyone + [c for c in commands if c.owner_only]),
                               BotCommandScopeChat(int(user_id))))
        for commands_shown, scope in scopes:
            try:
                await self.app.bot.set_my_commands(commands_shown, scope=scope)
            except TelegramError as exc:  # a menu is nice to have; never fatal
                log.warning("could not register the %s command menu: %s", scope.type, exc)

    # translate in

    async def to_incoming(self, message: Message) -> Incoming | None:
        """The core's view of a text message (or a photo's caption), or None when it is not for this bot."""
        text = message.text or message.caption or ""
        entities = message.parse_entities() if message.text else message.parse_caption_entities()
        chat = message.chat
        private = chat.type == ChatType.PRIVATE
        # an anonymous admin posts as the group itself (from_user is @GroupAnonymousBot)
        anonymous_admin = not private and message.sender_chat is not None and message.sender_chat.id == chat.id
        user = message.from_user
        if not anonymous_admin and (user is None or user.is_bot):
            return None
        me = (self.username or "").lower()
        addressed = private
        command = False
        mentions = []
        for entity, piece in entities.items():
            if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
                target = piece.partition("@")[2].lower()
                if target and target != me:
                    return None  # a command for another bot
                command = addressed = True
            elif entity.type == MessageEntity.MENTION and piece[1:].lower() == me:
                addressed = True
                mentions.append(entity)
            elif entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == self.app.bot.id:
                addressed = True
        text = _without(text, mentions).strip()
        reply_to = message.reply_to_message
        if reply_to and reply_to.from_user and reply_to.from_user.id == self.app.bot.id:
            addressed = True
        if not addressed and message.date < dt.datetime.now(dt.timezone.utc) - STALE_OVERHEARD:
            return None  # chatter from the backlog after downtime: too late to chime in
        thread = _topic(message)
        if anonymous_admin:
            return Incoming(platform=PLATFORM, chat_id=str(chat.id), user_id=str(chat.id), user_name=chat.title or "",
                            is_private=False, text=text, addressed=addressed, is_admin=True,
                            thread_id=str(thread) if thread else None)
        assert user is not None
        is_admin = private or (command and await self._is_admin(chat.id, user.id))
        return Incoming(platform=PLATFORM, chat_id=str(chat.id), user_id=str(user.id),
                        user_name=user.first_name or "", is_private=private, text=text,
                        addressed=addressed, is_admin=is_admin, thread_id=str(thread) if thread else None)

    async def _is_admin(self, chat_id: int, user_id: int) -> bool:
        cached = self._admins.get((chat_id, user_id))
        if cached and time.monotonic() - cached[1] < self.admin_cache_seconds:
            return cached[0]
        try:
            member = await self.app.bot.get_chat_member(chat_id, user_id)
            admin = member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)
        except TelegramError as exc:
            log.warning("could not check admin status: %s", exc)
            admin = False
        self._admins[(chat_id, user_id)] = (admin, time.monotonic())
        return admin

    # handlers

    def _lock(self, chat_id: int) -> asyncio.Lock:
        lock = self._chat_locks.get(chat_id)
        if lock is None:
            lock = asyncio.Lock()
            self._chat_locks[chat_id] = lock
        return lock

    async def _on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        try:
            message = update.message
            if message is None:
                return
            async with self._lock(message.chat.id):
                event = await self.to_incoming(message)
                if event is None:
                    return
                replies = await self.advisor.handle(event)
                await self._send_all(event, replies, origin=message)
        finally:
            self._notify_handled()

    async def _on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A button press: acknowledged at once, outside the chat lock; then carried out in chat order."""
        query = update.callback_query
        notice: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        acknowledged: asyncio.Task | None = None
        try:
            if query is None or query.from_user is None:
                return
            acknowledged = asyncio.create_task(self._acknowledge(query, notice))
            message = query.message if isinstance(query.message, Message) else None
            chat = message.chat if message else None
            private = chat is None or chat.type == ChatType.PRIVATE
            chat_id = chat.id if chat else query.from_user.id
            thread = _topic(message)
            async with self._lock(chat_id):
                event = Incoming(platform=PLATFORM, chat_id=str(chat_id), user_id=str(query.from_user.id),
                                 user_name=query.from_user.first_name or "", is_private=private,
                                 action=query.data or "", addressed=True,
                                 is_admin=private or await self._is_admin(chat_id, query.from_user.id),
                                 thread_id=str(thread) if thread else None)
                replies = await self.advisor.handle(event)
                shown = next((r for r in replies if r.notice), None)
                if not notice.done():
                    notice.set_result(shown.text if shown else None)
                elif shown is not None:
                    log.debug("a button notice came after the press was acknowledged; not shown")
                await self._send_all(event, [r for r in replies if not r.notice], origin=message, pressed=True)
        finally:
            if not notice.done():
                notice.set_result(None)
            if acknowledged is not None:
                await acknowledged
            self._notify_handled()

    async def _acknowledge(self, query: CallbackQuery, notice: asyncio.Future[str | None]) -> None:
        """Answer the callback query (the client stops spinning); a short notice rides along if ready in time.

        It never waits for the chat lock, and a refused answer ("query is too old" after
        downtime) is logged, never raised: the press is still carried out.
        """
        try:
            text = await asyncio.wait_for(asyncio.shield(notice), self.ack_grace)
        except asyncio.TimeoutError:
            text = None
        try:
            await query.answer(text=text[:200] if text else None)
        except TelegramError as exc:
            log.info("could not acknowledge a button press (%s); carrying it out anyway", exc)

    async def _on_membership(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The bot was added to a group: say in a few lines what it does and where admins set it up."""
        change = update.my_chat_member
        try:
            if change is None or change.chat.type not in (ChatType.GROUP, ChatType.SUPERGROUP):
                return
            if not _is_member(change.old_chat_member) and _is_member(change.new_chat_member):
                await self._post(change.chat.id, self.advisor.group_welcome())
        except TelegramError as exc:
            log.info("could not post the welcome message: %s", exc)
        finally:
            self._notify_handled()

    async def _on_migrate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        try:
            if message and message.migrate_to_chat_id:
                moved = self.advisor.move_chat(PLATFORM, str(message.chat.id), str(message.migrate_to_chat_id))
                log.info("group %s became supergroup %s; moved its settings and %d reminder(s)", message.chat.id,
                         message.migrate_to_chat_id, moved)
        finally:
            self._notify_handled()

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram update failed: %s", context.error, exc_info=context.error)

    def _on_polling_error(self, error: TelegramError) -> None:
        log.warning("telegram polling error (will retry): %s", error)

    def _notify_handled(self) -> None:
        for observer in self.handled:
            observer()

    # render out

    async def _send_all(self, event: Incoming, replies: list[Reply], origin: Message | None,
                        pressed: bool = False) -> None:
        """Deliver the core's replies: in the asker's topic, the first one a reply to the question (in groups)."""
        asked_to_start = False
        thread = _topic(origin)
        quote = origin.message_id if origin is not None and not pressed and not event.is_private else None
        anonymous = event.user_id == event.chat_id and not event.is_private  # posts as the group: no private chat
        for reply in replies:
            if reply.delete:
                if origin is not None:
                    try:
                        await origin.delete()
                    except TelegramError as exc:
                        log.info("could not delete message: %s", exc)
                continue
            if reply.private and not event.is_private and not anonymous:
                if not await self._send(int(event.user_id), reply) and not asked_to_start:
                    await self._ask_to_start(event, reply, thread)
                    asked_to_start = True
                continue
            if pressed and reply.replace and origin is not None and await self._edit(origin, reply):
                continue
            await self._send(int(event.chat_id), reply, thread, quote)
            quote = None

    async def _post(self, chat_id: int, reply: Reply, thread: int | None = None, quote: int | None = None) -> None:
        """Send a reply split to fit, buttons on the last part; Telegram errors are raised.

        `thread` is the forum topic to post in; `quote` the message the first part replies to.
        """
        chunks = split(reply.text, MAX_MESSAGE, render_html) or [""]
        markup = keyboard(reply, self.username)
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            replying = ReplyParameters(quote, allow_sending_without_reply=True) if quote and index == 0 else None
            await self.app.bot.send_message(chat_id, render_html(chunk) or "…", parse_mode=ParseMode.HTML,
                                            reply_markup=markup if last else None,
                                            link_preview_options=LinkPreviewOptions(is_disabled=True),
                                            message_thread_id=thread, reply_parameters=replying)

    async def _send(self, chat_id: int, reply: Reply, thread: int | None = None, quote: int | None = None) -> bool:
        """Send a reply; False if the user has not opened a private chat with the bot."""
        try:
            await self._post(chat_id, reply, thread, quote)
        except Forbidden:
            return False
        return True

    async def _edit(self, message: Message, reply: Reply) -> bool:
        chunks = split(reply.text, MAX_MESSAGE, render_html)
        if len(chunks) != 1:
            return False
        try:
            await message.edit_text(render_html(chunks[0]), parse_mode=ParseMode.HTML,
                                    reply_markup=keyboard(reply, self.username),
                                    link_preview_options=LinkPreviewOptions(is_disabled=True))
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return True
            return False
        return True

    async def _ask_to_start(self, event: Incoming, reply: Reply, thread: int | None) -> None:
        """The user never opened a private chat with the bot: tell them, in the group, how."""
        payload = reply.start_payload or "start"
        note = Reply(f"{event.user_name or 'Hi'}, I can only answer that privately. Tap below to open a private "
                     "chat with me (press Start), then ask again.", start_payload=payload)
        await self._send(int(event.chat_id), note, thread)

    # reminders

    async def deliver(self, target: ChatRef, reply: Reply) -> Delivery:
        """The scheduler's way to post a reminder (in its forum topic); Telegram errors become core outcomes."""
        chat, thread = split_thread(target.chat_id)
        try:
            try:
                await self._post(int(chat), reply, int(thread) if thread else None)
            except BadRequest as exc:
                if not (thread and "thread not found" in exc.message.lower()):
                    raise
                await self._post(int(chat), reply)  # the topic was deleted: post in the chat's General
        except ChatMigrated as exc:
            return Delivery.moved(str(exc.new_chat_id))
        except Forbidden as exc:
            return Delivery.gone(f"Forbidden: {exc.message}")
        except BadRequest as exc:
            if "chat not found" in exc.message.lower():
                return Delivery.gone(exc.message)
            return Delivery.retry(exc.message)
        except (RetryAfter, NetworkError) as exc:
            return Delivery.retry(str(exc))
        except asyncio.CancelledError:
            raise
        return Delivery.ok()
