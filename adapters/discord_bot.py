"""The Discord adapter: discord.py slash commands, mentions and buttons in; the core's replies out.

Slash commands mirror the core's commands (published on demand: `img-advisor discord
sync`); in channels the bot also answers when mentioned or replied to, as a reply to
the question. Buttons are one `DynamicItem` whose `custom_id` carries the core's action,
so buttons on messages from before a restart still work. Private replies are ephemeral
(slash commands, buttons) or DMs (mentions), with a clear fallback when DMs are closed.
Mentions in output are disabled (`AllowedMentions.none`). An interaction whose answer
takes longer than `DEFER_AFTER` is deferred and answered as a follow-up. Without the
privileged Message Content intent the bot runs in mention-only mode.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any

import aiohttp
import discord
import yarl
from discord import app_commands

from bot.advisor import Advisor
from bot.events import Button, ChatRef, Incoming, Reply
from bot.markup import parse, split
from bot.reminders.scheduler import Delivery
from bot.reminders.timezones import suggest

log = logging.getLogger(__name__)

PLATFORM = "discord"
MAX_MESSAGE = 2000
MAX_BUTTONS = 25
READY_TIMEOUT = 60.0
DEFER_AFTER = 2.0
"""Seconds before an interaction is deferred: Discord drops an answer that comes after 3 s."""
NOT_ON_DISCORD = {"start"}
"""Core commands without a slash command: Discord has no /start (its app directory does that)."""
_MENTION = re.compile(r"<@!?(\d+)>")
# command -> (option name, description, required)
OPTIONS: dict[str, tuple[str, str, bool]] = {
    "ask": ("question", "Your question, in your own words", True),
    "quiz": ("name", "Which quiz (leave empty to pick)", False),
    "remind": ("when_and_what", "e.g. tomorrow 9am book OET, or every Monday 9am study", True),
    "timezone": ("zone", "A city, a zone such as Asia/Kolkata, or UTC+5:30", False),
    "autoanswer": ("state", "Turn it on or off (leave empty to see the current state)", False),
    "settings": ("change", "e.g. quiet 22:00-07:00, quiet off (or leave empty for buttons)", False),
}
ADMIN_COMMANDS = {"autoanswer", "settings", "reload"}
CHOICES: dict[str, list[app_commands.Choice[str]]] = {
    "autoanswer": [app_commands.Choice(name="on", value="on"), app_commands.Choice(name="off", value="off")],
}
MESSAGE_CONTENT_HELP = ("enable Message Content Intent in the Discord Developer Portal (your application, Bot, "
                        "Privileged Gateway Intents) and restart")


def render_markdown(markup: str) -> str:
    """The core's markup as Discord markdown, with every piece of text escaped."""
    out = []
    for seg in parse(markup):
        text = discord.utils.escape_markdown(seg.text)
        if seg.kind == "bold":
            out.append(f"**{text}**")
        elif seg.kind == "link":
            out.append(f"[{text}](<{seg.url}>)")
        else:
            out.append(text)
    return "".join(out)


class ActionButton(discord.ui.DynamicItem[discord.ui.Button], template=r"a/(?P<action>.+)"):
    """Any button the bot sends; pressing it hands the action to the core, even after a restart."""

    def __init__(self, label: str, action: str):
        super().__init__(discord.ui.Button(label=label[:80] or "·", custom_id=f"a/{action}",
                                           style=discord.ButtonStyle.secondary))
        self.action = action

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button,
                             match: re.Match[str], /) -> ActionButton:
        return cls(item.label or "", match["action"])

    async def callback(self, interaction: discord.Interaction) -> None:
        client = interaction.client
        assert isinstance(client, _Client)
        await client.adapter.on_action(interaction, self.action)


def view_for(buttons: list[Button]) -> discord.ui.View | None:
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    seen = set()
    for button in buttons[:MAX_BUTTONS]:
        if button.action in seen:
            continue
        seen.add(button.action)
        view.add_item(ActionButton(button.label, button.action))
    return view


class _Client(discord.Client):
    def __init__(self, adapter: DiscordAdapter, **options: Any):
        super().__init__(**options)
        self.adapter = adapter
        self.tree = app_commands.CommandTree(self)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(ActionButton)  # commands are published by `img-advisor discord sync`, not here

    async def on_message(self, message: discord.Message) -> None:
        await self.adapter.on_message(message)


@dataclass
class _Answering:
    """Where an interaction's answer stands once it was deferred (see `DiscordAdapter._respond`)."""

    resolved: bool = False  # the deferred "thinking…" (or the pressed message) got its first answer
    placeholder: bool = False  # the deferred response was filled with a stand-in, to be deleted


class DiscordAdapter:
    """Runs the bot on Discord and delivers reminders there."""

    def __init__(self, advisor: Advisor, token: str, api_url: str | None = None, gateway_url: str | None = None,
                 guild_ready_timeout: float = 2.0, message_content: bool = True, **client_options: Any):
        self.advisor = advisor
        self.token = token
        self.api_url = api_url
        self.gateway_url = gateway_url
        self.guild_ready_timeout = guild_ready_timeout
        self.client_options = client_options
        self.defer_after = DEFER_AFTER
        discord.VoiceClient.warn_nacl = False  # the bot has no voice features: skip the start-up warnings
        discord.VoiceClient.warn_dave = False
        # Message Content is privileged: mentions, DMs and slash commands work without it, only
        # auto-answer needs it. It is asked for; if the gateway refuses (4014), the bot goes on mention-only.
        self.message_content = message_content
        self.client = self._make_client()
        self._task: asyncio.Task | None = None
        self.handled: list[Any] = []  # observers, called after each event is handled

    def _make_client(self) -> _Client:
        intents = discord.Intents.default()
        intents.message_content = self.message_content
        client = _Client(self, intents=intents, allowed_mentions=discord.AllowedMentions.none(),
                         guild_ready_timeout=self.guild_ready_timeout, **self.client_options)
        for command in self.advisor.commands.values():
            if command.name not in NOT_ON_DISCORD:
                client.tree.add_command(self._slash(command.name, command.description))
        return client

    @property
    def mention_only(self) -> bool:
        """True when Discord refused the Message Content intent: only mentions, DMs and commands are seen."""
        return not self.message_content

    # lifecycle

    def _point_at_servers(self) -> None:
        if self.api_url:
            discord.http.Route.BASE = self.api_url.rstrip("/")
        if self.gateway_url:
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)

    async def start(self) -> None:
        """Log in, connect to the gateway and wait until ready; errors are raised after cleaning up."""
        try:
            await self._connect()
        except discord.PrivilegedIntentsRequired:
            if not self.message_content:
                raise
            log.warning("Discord refused the Message Content intent (gateway close 4014): running in mention-only "
                        "mode; mentions, DMs and slash commands work, auto-answer does not. To enable it, %s.",
                        MESSAGE_CONTENT_HELP)
            self.message_content = False
            await self._connect()

    async def _connect(self) -> None:
        self._point_at_servers()
        if self.client.is_closed() or self.client.intents.message_content != self.message_content:
            self.client = self._make_client()  # a closed client cannot log in again
        self._task = asyncio.create_task(self.client.start(self.token), name="discord-client")
        ready = asyncio.create_task(self.client.wait_until_ready())
        try:
            done, _ = await asyncio.wait({self._task, ready}, timeout=READY_TIMEOUT,
                                         return_when=asyncio.FIRST_COMPLETED)
            if self._task in done:
                self._task.result()  # raises the login or gateway error
                raise ConnectionError("discord client stopped during start-up")
            if ready not in done:
                raise TimeoutError(f"the Discord gateway did not become ready within {READY_TIMEOUT:g} s")
        except BaseException:
            ready.cancel()
            await self.stop()  # close the HTTP session: no "Unclosed client session" noise
            raise
        log.info("discord adapter started as %s%s", self.client.user, " (mention-only)" if self.mention_only else "")

    async def stop(self) -> None:
        """Close the gateway and HTTP session (safe after a failed start)."""
        await self.client.close()
        if self._task is not None:  # its error, if any, was already reported by whoever started it
            (ended,) = await asyncio.gather(self._task, return_exceptions=True)
            if isinstance(ended, BaseException):
                log.debug("discord client ended with %s", type(ended).__name__)

    async def wait_closed(self) -> None:
        """Return (or raise the reason) when the gateway connection ended for good."""
        if self._task is not None:
            await asyncio.shield(self._task)

    def explain(self, error: BaseException) -> str | None:
        """A start-up failure in one line naming the setting to fix, never the token."""
        if isinstance(error, discord.LoginFailure) or (
                isinstance(error, discord.ConnectionClosed) and error.code == 4004):
            return ("DISCORD_BOT_TOKEN was rejected by Discord: reset and copy the token again in the Developer "
                    "Portal (your application, Bot, Reset Token) and restart")
        if isinstance(error, discord.PrivilegedIntentsRequired):
            return f"the Discord gateway refused a privileged intent: {MESSAGE_CONTENT_HELP}"
        if isinstance(error, (aiohttp.ClientError, OSError, asyncio.TimeoutError, discord.GatewayNotFound,
                              discord.DiscordServerError, discord.ConnectionClosed)):
            where = "DISCORD_API_URL and DISCORD_GATEWAY_URL" if self.api_url or self.gateway_url else "the network"
            return f"cannot reach Discord ({type(error).__name__}); check {where}"
        if isinstance(error, discord.HTTPException):
            return f"Discord refused the login ({error.status}); check DISCORD_BOT_TOKEN"
        return None

    # slash commands

    def _slash(self, name: str, description: str) -> app_commands.Command:
        option = OPTIONS.get(name)
        if option is None:
            async def callback(interaction: discord.Interaction) -> None:
                await self.on_command(interaction, name, "")
        elif option[2]:
            async def callback(interaction: discord.Interaction, text: str) -> None:  # type: ignore[misc]
                await self.on_command(interaction, name, text)
        else:
            async def callback(interaction: discord.Interaction, text: str | None = None) -> None:  # type: ignore[misc]
                await self.on_command(interaction, name, text or "")
        if option is not None:
            callback = app_commands.rename(text=option[0])(app_commands.describe(text=option[1])(callback))
        if name in CHOICES:
            callback = app_commands.choices(text=CHOICES[name])(callback)
        command = app_commands.Command(name=name, description=description[:100], callback=callback)
        if name in ADMIN_COMMANDS:
            command.default_permissions = discord.Permissions(manage_guild=True)
        if name == "timezone":
            command.autocomplete("text")(self._zones)
        if name == "quiz":
            command.autocomplete("text")(self._quizzes)
        return command

    async def _zones(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=z, value=z) for z in suggest(current, 25)]

    async def _quizzes(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        quizzes = self.advisor.quiz.quizzes.values()
        return [app_commands.Choice(name=q.title[:100], value=q.id) for q in quizzes
                if current.lower() in (q.id + q.title).lower()][:25]

    async def sync_commands(self, guild_id: int | None = None, clear: bool = False) -> list[str]:
        """Publish the slash commands (`img-advisor discord sync`); returns the names now published.

        Globally by default. To one guild (instant, for trying it out) the set replaces the
        global one, which is cleared, so the guild never shows each command twice. `clear`
        removes the set (global, or the guild's) instead of publishing it.
        """
        self._point_at_servers()
        tree = self.client.tree
        await self.client.login(self.token)
        try:
            guild = discord.Object(id=guild_id) if guild_id else None
            if guild is not None and not clear:
                tree.copy_global_to(guild=guild)
            if clear:
                tree.clear_commands(guild=guild)
            published = await tree.sync(guild=guild)
            if guild is not None and not clear:
                tree.clear_commands(guild=None)
                await tree.sync()  # the guild copy replaces the global set: no duplicates there
            return [c.name for c in published]
        finally:
            await self.client.close()

    # translate in

    def _from_interaction(self, interaction: discord.Interaction, text: str = "", action: str | None = None) -> Incoming:
        in_guild = interaction.guild_id is not None
        perms = interaction.permissions
        return Incoming(platform=PLATFORM, chat_id=str(interaction.channel_id or interaction.user.id),
                        user_id=str(interaction.user.id), user_name=interaction.user.display_name,
                        is_private=not in_guild, text=text, action=action, addressed=True,
                        is_admin=not in_guild or perms.administrator or perms.manage_guild)

    def from_message(self, message: discord.Message) -> Incoming | None:
        """The core's view of a message, or None when it is not for the bot."""
        if message.author.bot or self.client.user is None:
            return None
        in_guild = message.guild is not None
        me = self.client.user.id
        text = message.content
        addressed = not in_guild
        if any(m.id == me for m in message.mentions) or f"<@{me}>" in text or f"<@!{me}>" in text:
            addressed = True
        reference = message.reference.resolved if message.reference else None
        if isinstance(reference, discord.Message) and reference.author.id == me:
            addressed = True
        text = _MENTION.sub(lambda m: "" if int(m.group(1)) == me else m.group(0), text).strip()
        if in_guild and not addressed and text.startswith("/"):
            return None  # a text command meant for another bot; ours are slash commands
        perms = getattr(message.author, "guild_permissions", None)
        is_admin = not in_guild or bool(perms and (perms.administrator or perms.manage_guild))
        return Incoming(platform=PLATFORM, chat_id=str(message.channel.id), user_id=str(message.author.id),
                        user_name=message.author.display_name, is_private=not in_guild, text=text,
                        addressed=addressed, is_admin=is_admin)

    # handlers

    async def on_command(self, interaction: discord.Interaction, name: str, value: str) -> None:
        try:
            event = self._from_interaction(interaction, text=f"/{name} {value}".strip())
            replies = await self._answer_in_time(interaction, event, pressed=False)
            if name == "autoanswer" and value == "on" and self.mention_only and event.is_admin and \
                    not event.is_private:
                replies.append(Reply("Note: Discord has not granted me the Message Content intent, so I only see "
                                     "messages that mention me; auto-answer starts working once the bot's "
                                     "operator enables that intent."))
            await self._respond(interaction, event, replies)
        finally:
            self._notify_handled()

    async def on_action(self, interaction: discord.Interaction, action: str) -> None:
        try:
            event = self._from_interaction(interaction, action=action)
            replies = await self._answer_in_time(interaction, event, pressed=True)
            await self._respond(interaction, event, replies, pressed=True)
        finally:
            self._notify_handled()

    async def _answer_in_time(self, interaction: discord.Interaction, event: Incoming, pressed: bool) -> list[Reply]:
        """The core's replies; if they take longer than `defer_after`, the interaction is deferred first.

        A slash command in a server defers ephemerally (only the user sees "thinking…",
        since the answer may be private); a press defers as an update of its message.
        """
        work = asyncio.ensure_future(self.advisor.handle(event))
        try:
            return list(await asyncio.wait_for(asyncio.shield(work), self.defer_after))
        except asyncio.TimeoutError:
            if pressed:
                await interaction.response.defer()
            else:
                await interaction.response.defer(ephemeral=not event.is_private, thinking=True)
            return list(await work)

    async def on_message(self, message: discord.Message) -> None:
        try:
            event = self.from_message(message)
            if event is None:
                return
            replies = await self.advisor.handle(event)
            answer_to = message if not event.is_private else None
            for reply in replies:
                if reply.private and not event.is_private:
                    if not await self._send_dm(message.author, reply):
                        await self._send(message.channel, Reply(
                            f"{message.author.display_name}, I couldn't send you a private message: your DMs are "
                            "closed. Allow direct messages from server members (Privacy Settings), or use the "
                            "slash command, which answers privately."))
                    continue
                await self._send(message.channel, reply, answer_to)
                answer_to = None  # the first answer is a reply to the question; the rest follow it
        except discord.HTTPException as exc:
            log.warning("discord send failed: %s", exc)
        finally:
            self._notify_handled()

    def _notify_handled(self) -> None:
        for observer in self.handled:
            observer()

    # render out

    async def _respond(self, interaction: discord.Interaction, event: Incoming, replies: list[Reply],
                       pressed: bool = False) -> None:
        in_guild = not event.is_private
        has_private = any(r.private for r in replies)
        answering = _Answering()
        if any(r.delete for r in replies) and interaction.message is not None:
            if not interaction.response.is_done():
                await interaction.response.defer()
            await interaction.message.delete()
            answering.resolved = True
            replies = [r for r in replies if not r.delete]
        for reply in replies:
            if reply.start_payload and in_guild and has_private:
                continue  # the private part is shown right here, only to the user
            ephemeral = reply.private and in_guild
            chunks = split(reply.text, MAX_MESSAGE, render_markdown) or [""]
            for index, chunk in enumerate(chunks):
                last = index == len(chunks) - 1
                view = view_for([b for row in reply.buttons for b in row]) if last else None
                edit = pressed and reply.replace and len(chunks) == 1
                await self._emit(interaction, answering, render_markdown(chunk) or "…", view, ephemeral, edit)
        if answering.placeholder:
            await interaction.delete_original_response()

    async def _emit(self, interaction: discord.Interaction, answering: _Answering, content: str,
                    view: discord.ui.View | None, ephemeral: bool, edit: bool) -> None:
        """Send one message of an interaction's answer, whether it was answered, deferred or not yet."""
        response = interaction.response
        mentions = discord.AllowedMentions.none()
        if not response.is_done():
            if edit:
                await response.edit_message(content=content, view=view)
            elif view is not None:
                await response.send_message(content, view=view, ephemeral=ephemeral, allowed_mentions=mentions)
            else:
                await response.send_message(content, ephemeral=ephemeral, allowed_mentions=mentions)
            return
        if not answering.resolved and response.type == discord.InteractionResponseType.deferred_channel_message:
            answering.resolved = True
            deferred_ephemeral = interaction.guild_id is not None  # see `_answer_in_time`
            if ephemeral == deferred_ephemeral or interaction.guild_id is None:
                await interaction.edit_original_response(content=content, view=view, allowed_mentions=mentions)
                return
            # the first follow-up would inherit the deferred visibility: fill it with a stand-in, deleted after
            await interaction.edit_original_response(content="…")
            answering.placeholder = True
        elif not answering.resolved and edit and \
                response.type == discord.InteractionResponseType.deferred_message_update:
            answering.resolved = True
            await interaction.edit_original_response(content=content, view=view)
            return
        answering.resolved = True
        if view is not None:
            await interaction.followup.send(content, view=view, ephemeral=ephemeral, allowed_mentions=mentions)
        else:
            await interaction.followup.send(content, ephemeral=ephemeral, allowed_mentions=mentions)

    async def _send(self, channel: discord.abc.Messageable, reply: Reply,
                    answer_to: discord.Message | None = None) -> None:
        """Post a reply split to fit, buttons on the last part; the first part answers `answer_to` (no ping)."""
        chunks = split(reply.text, MAX_MESSAGE, render_markdown) or [""]
        for index, chunk in enumerate(chunks):
            view = view_for([b for row in reply.buttons for b in row]) if index == len(chunks) - 1 else None
            kwargs: dict[str, Any] = {"allowed_mentions": discord.AllowedMentions.none()}
            if view is not None:
                kwargs["view"] = view
            if answer_to is not None and index == 0:
                kwargs["reference"] = answer_to.to_reference(fail_if_not_exists=False)
            await channel.send(render_markdown(chunk) or "…", **kwargs)

    async def _send_dm(self, user: discord.abc.User, reply: Reply) -> bool:
        try:
            await self._send(user, reply)
        except discord.Forbidden:
            return False
        return True

    # reminders

    async def deliver(self, target: ChatRef, reply: Reply) -> Delivery:
        """The scheduler's way to post a reminder; Discord errors become core outcomes."""
        try:
            if target.dm:
                user = self.client.get_user(int(target.chat_id)) or await self.client.fetch_user(int(target.chat_id))
                if not await self._send_dm(user, reply):
                    await self._dm_fallback(target)
                    return Delivery.gone("DMs closed")
                return Delivery.ok()
            channel = self.client.get_channel(int(target.chat_id)) or await self.client.fetch_channel(int(target.chat_id))
            await self._send(channel, reply)  # type: ignore[arg-type]
        except discord.NotFound as exc:
            return Delivery.gone(f"not found: {exc.text}")
        except discord.Forbidden as exc:
            return Delivery.gone(f"forbidden: {exc.text}")
        except (discord.DiscordServerError, discord.HTTPException, OSError) as exc:
            return Delivery.retry(str(exc))
        return Delivery.ok()

    async def _dm_fallback(self, target: ChatRef) -> None:
        """Tell the user, in the channel the reminder was set from, that their DMs are closed."""
        if not target.fallback_chat_id:
            return
        try:
            channel = (self.client.get_channel(int(target.fallback_chat_id))
                       or await self.client.fetch_channel(int(target.fallback_chat_id)))
            await channel.send(  # type: ignore[union-attr]
                f"<@{target.chat_id}>, I couldn't send you a reminder because your DMs are closed. Allow direct "
                "messages from server members (Privacy Settings) to receive reminders.",
                allowed_mentions=discord.AllowedMentions(users=[discord.Object(id=int(target.chat_id))]))
        except discord.HTTPException as exc:
            log.info("DM fallback notice failed: %s", exc)
