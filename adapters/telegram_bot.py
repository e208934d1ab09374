"""The Telegram adapter: python-telegram-bot in, the core's replies out, reminders delivered.

Translate in (`to_incoming`), call `Advisor.handle`, render out (`render_html`,
`keyboard`), deliver reminders (`deliver`), and map Telegram errors to core outcomes.
In groups the bot speaks only when addressed: a command (also `/cmd@BotName`), an
@mention, or a reply to one of its messages; works with privacy mode on or off.
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
import weakref
from collections.abc import Callable
from urllib.parse import urlsplit

# Opt in to python-telegram-bot's coming timedelta `retry_after` (silences its deprecation warning).
os.environ.setdefault("PTB_TIMEDELTA", "true")

from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.advisor import Advisor
from bot.events import ChatRef, Incoming, Reply
from bot.markup import escape, parse, split
from bot.reminders.scheduler import Delivery

log = logging.getLogger(__name__)

PLATFORM = "telegram"
MAX_MESSAGE = 4096
CONCURRENT_UPDATES = 64
CONNECTIONS = 8
GROUP_COMMANDS = ("ask", "topics", "quiz", "deadlines", "remind", "help", "autoanswer")


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


def _on_keyboard(message: Message, action: str) -> bool:
    """Whether `action` is the callback data of a button on `message` (Telegram does not check it)."""
    markup = message.reply_markup
    if markup is None:
        return False
    return any(button.callback_data == action for row in markup.inline_keyboard for button in row)


class TelegramAdapter:
    """Runs the bot on Telegram (long polling) and delivers reminders there."""

    def __init__(self, advisor: Advisor, token: str, api_url: str | None = None, rate_limit: bool = True,
                 webhook_url: str | None = None, webhook_listen: tuple[str, int] = ("0.0.0.0", 8443),
                 webhook_secret: str | None = None):
        self.advisor = advisor
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
        self.app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, self._on_migrate))
        self.app.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT, self._on_message))
        self.app.add_error_handler(self._on_error)
        self.handled: list[Callable[[], None]] = []  # observers: called after each update is handled

    @property
    def username(self) -> str | None:
        try:
            return self.app.bot.username
        except RuntimeError:
            return None

    async def start(self) -> None:
        """Connect, register the command menus, and start long polling (or the webhook server)."""
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
        log.info("telegram adapter started as @%s (%s)", self.username, mode)

    async def stop(self) -> None:
        """Stop taking updates, finish in-flight handlers, and close the connection."""
        if self.app.updater and self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()

    async def _register_commands(self) -> None:
        commands = self.advisor.commands.values()
        private = [BotCommand(c.name, c.description[:256]) for c in commands if not c.admin_only]
        group = [BotCommand(c.name, c.description[:256]) for c in commands if c.name in GROUP_COMMANDS]
        try:
            await self.app.bot.set_my_commands(private, scope=BotCommandScopeAllPrivateChats())
            await self.app.bot.set_my_commands(group, scope=BotCommandScopeAllGroupChats())
        except TelegramError as exc:  # a menu is nice to have; never fatal
            log.warning("could not register the command menu: %s", exc)

    # translate in

    async def to_incoming(self, message: Message) -> Incoming | None:
        """The core's view of a text message, or None when it is not for this bot."""
        text = message.text or ""
        user = message.from_user
        if user is None or user.is_bot:
            return None
        private = message.chat.type == ChatType.PRIVATE
        me = (self.username or "").lower()
        addressed = private
        command = False
        for entity in message.entities:
            piece = text[entity.offset: entity.offset + entity.length]
            if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
                target = piece.partition("@")[2].lower()
                if target and target != me:
                    return None  # a command for another bot
                command = addressed = True
            elif entity.type == MessageEntity.MENTION and piece[1:].lower() == me:
                addressed = True
                text = (text[: entity.offset] + text[entity.offset + entity.length:]).strip()
            elif entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == self.app.bot.id:
                addressed = True
        reply_to = message.reply_to_message
        if reply_to and reply_to.from_user and reply_to.from_user.id == self.app.bot.id:
            addressed = True
        # asked fresh from Telegram whenever the answer depends on it: a demoted admin loses the power at once
        is_admin = private or (command and self.advisor.needs_admin(text=text)
                               and await self._is_admin(message.chat.id, user.id))
        return Incoming(platform=PLATFORM, chat_id=str(message.chat.id), user_id=str(user.id),
                        user_name=user.first_name or "", is_private=private, text=text,
                        addressed=addressed, is_admin=is_admin)

    async def _is_admin(self, chat_id: int, user_id: int) -> bool:
        """Whether the user is an admin of the chat now (never cached: asked only when it matters)."""
        try:
            member = await self.app.bot.get_chat_member(chat_id, user_id)
        except TelegramError as exc:
            log.warning("could not check admin status: %s", exc)
            return False
        return member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)

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
        query = update.callback_query
        try:
            if query is None or query.from_user is None:
                return
            message = query.message if isinstance(query.message, Message) else None
            chat = message.chat if message else None
            private = chat is None or chat.type == ChatType.PRIVATE
            chat_id = chat.id if chat else query.from_user.id
            async with self._lock(chat_id):
                action = query.data or ""
                if message is not None and not _on_keyboard(message, action):
                    # a client may send any callback data: only a button that is on the pressed message counts
                    await query.answer(text="That button doesn't work.")
                    return
                event = Incoming(platform=PLATFORM, chat_id=str(chat_id), user_id=str(query.from_user.id),
                                 user_name=query.from_user.first_name or "", is_private=private,
                                 action=action, addressed=True,
                                 is_admin=private or (self.advisor.needs_admin(action=action)
                                                      and await self._is_admin(chat_id, query.from_user.id)))
                replies = await self.advisor.handle(event)
                # every press is acknowledged (or the client keeps spinning); a short notice rides along
                notice = next((r for r in replies if r.notice), None)
                await query.answer(text=notice.text[:200] if notice else None)
                await self._send_all(event, [r for r in replies if not r.notice], origin=message, pressed=True)
        finally:
            self._notify_handled()

    async def _on_migrate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        try:
            if message and message.migrate_to_chat_id:
                moved = self.advisor.move_chat(PLATFORM, str(message.chat.id), str(message.migrate_to_chat_id))
                log.info("group %s became supergroup %s; moved %d reminder(s)", message.chat.id,
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
        asked_to_start = False
        for reply in replies:
            if reply.delete:
                if origin is not None:
                    try:
                        await origin.delete()
                    except TelegramError as exc:
                        log.info("could not delete message: %s", exc)
                continue
            if reply.private and not event.is_private:
                if not await self._send(int(event.user_id), reply) and not asked_to_start:
                    await self._ask_to_start(event, reply)
                    asked_to_start = True
                continue
            if pressed and reply.replace and origin is not None and await self._edit(origin, reply):
                continue
            await self._send(int(event.chat_id), reply)

    async def _post(self, chat_id: int, reply: Reply) -> None:
        """Send a reply split to fit, buttons on the last part; Telegram errors are raised."""
        chunks = split(reply.text, MAX_MESSAGE, render_html) or [""]
        markup = keyboard(reply, self.username)
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            await self.app.bot.send_message(chat_id, render_html(chunk) or "…", parse_mode=ParseMode.HTML,
                                            reply_markup=markup if last else None,
                                            link_preview_options=LinkPreviewOptions(is_disabled=True))

    async def _send(self, chat_id: int, reply: Reply) -> bool:
        """Send a reply; False if the user has not opened a private chat with the bot."""
        try:
            await self._post(chat_id, reply)
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

    async def _ask_to_start(self, event: Incoming, reply: Reply) -> None:
        """The user never opened a private chat with the bot: tell them, in the group, how."""
        payload = reply.start_payload or "start"
        note = Reply(f"{escape(event.user_name) or 'Hi'}, I can only answer that privately. Tap below to open a private "
                     "chat with me (press Start), then ask again.", start_payload=payload)
        await self._send(int(event.chat_id), note)

    # reminders

    async def deliver(self, target: ChatRef, reply: Reply) -> Delivery:
        """The scheduler's way to post a reminder; Telegram errors become core outcomes."""
        try:
            await self._post(int(target.chat_id), reply)
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
