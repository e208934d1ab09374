"""What users send is never trusted, through the real adapters against the fake platforms.

- user text (names, quiz names, reminder text) never becomes a link, markup or a mention;
- a button payload is a claim: forged, replayed or someone else's 🗑 removes nothing;
- admin status is asked when it matters: a demoted admin loses the power at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from bot.knowledge import KnowledgeBase
from tests.adapters.discord_driver import DiscordDriver
from tests.adapters.fake_discord import (
    BOT_USER,
    CHANNEL_ID,
    FakeDiscord,
    member_payload,
    message_payload,
    snowflake,
)
from tests.adapters.fake_discord import USER as DISCORD_USER
from tests.adapters.fake_telegram import BOT_USER as TELEGRAM_BOT
from tests.adapters.fake_telegram import FakeTelegram
from tests.adapters.telegram_driver import GROUP_ID, USER, TelegramDriver, plain
from tests.scenario import DEFAULT_START

HOSTILE = "[Free USMLE vouchers](https://evil.example/x) @everyone <@123> @username **bold** <b>x</b>"
MENTION = re.compile(r"(?<!\w)@[\w!&]|<[@#]")
"""Anything that would start a mention on Telegram (@username) or Discord (@everyone, <@123>, <#1>)."""


# Telegram


@pytest.fixture
async def fake_telegram() -> FakeTelegram:
    server = await FakeTelegram().start()
    yield server
    await server.stop()


@pytest.fixture
async def telegram(kb: KnowledgeBase, fake_telegram: FakeTelegram, tmp_path: Path) -> TelegramDriver:
    drv = TelegramDriver(kb, fake_telegram, tmp_path / "bot.db", DEFAULT_START)
    await drv.boot()
    yield drv
    await drv.shutdown()


GROUP = {"id": GROUP_ID, "type": "supergroup", "title": "IMG group"}


async def tg_say(drv: TelegramDriver, user: dict, text: str, mention: bool = False) -> list[dict[str, Any]]:
    """`user` writes `text` in the group; what the bot sent in answer."""
    entities = []
    if mention:
        handle = f"@{TELEGRAM_BOT['username']}"
        text = f"{handle} {text}"
        entities.append({"type": "mention", "offset": 0, "length": len(handle)})
    elif text.startswith("/"):
        entities.append({"type": "bot_command", "offset": 0, "length": len(text.split()[0])})
    drv._message_id += 1
    mark = len(drv.fake.calls)
    await drv._push_and_wait(message={"message_id": drv._message_id, "date": 0, "chat": GROUP, "from": user,
                                      "text": text, "entities": entities})
    return [p for _, p in drv.fake.calls[mark:]]


async def tg_press(drv: TelegramDriver, user: dict, message: dict, data: str) -> list[tuple[str, dict[str, Any]]]:
    """`user` presses a button carrying `data` on `message` (a client can send any data); the calls that follow."""
    drv._message_id += 1
    mark = len(drv.fake.calls)
    await drv._push_and_wait(callback_query={"id": str(drv._message_id), "from": user, "chat_instance": "ci",
                                             "data": data, "message": {**message, "date": 0}})
    return drv.fake.calls[mark:]


def keyboard_data(message: dict) -> list[str]:
    return [b.get("callback_data", "") for row in message.get("reply_markup", {}).get("inline_keyboard", [])
            for b in row]


def last_with(drv: TelegramDriver, prefix: str) -> dict:
    return next(m for m in reversed(list(drv.fake.messages.values()))
                if any(d.startswith(prefix) for d in keyboard_data(m)))


def assert_inert_html(sent: list[str]) -> None:
    for html_text in sent:
        assert "evil.example" not in "".join(re.findall(r'href="[^"]*"', html_text))  # no link made from user text
        assert "<b>bold</b>" not in html_text and "<b>x</b>" not in html_text
        assert not MENTION.search(plain(html_text)), plain(html_text)


async def test_names_quiz_names_and_reminder_text_stay_inert_on_telegram(telegram: TelegramDriver,
                                                                         fake_telegram: FakeTelegram) -> None:
    named = {"id": 888, "is_bot": False, "first_name": HOSTILE}
    fake_telegram.blocked.add(888)  # never opened a private chat: the "open a private chat" note names them
    await tg_say(telegram, named, "/quiz visa")
    await tg_say(telegram, named, "/quiz @everyone <@123> @username **bold**")
    await tg_say(telegram, named, "/quiz [Free USMLE vouchers](https://evil.example/x)")
    admin = {"id": 889, "is_bot": False, "first_name": HOSTILE}
    fake_telegram.admins.add((GROUP_ID, 889))
    await tg_say(telegram, admin, "/remind in 1 hour " + HOSTILE)
    await tg_say(telegram, admin, "/reminders")
    await telegram.advance(dt.timedelta(hours=1))
    sent = [p["text"] for p in fake_telegram.sent() + fake_telegram.sent("editMessageText")]
    shown = [plain(t).replace("\u2060", "") for t in sent]
    assert sum("Free USMLE vouchers](https://evil.example/x) @everyone" in s for s in shown) >= 4  # name, text
    assert any(s.startswith("[Free USMLE") and "open a private chat" in s for s in shown)
    assert any("Reminder: [Free USMLE" in s for s in shown)  # the delivered reminder, in the group
    assert any("quiz called “@everyone" in s for s in shown)
    assert_inert_html(sent)


async def test_a_forged_replayed_or_someone_elses_delete_removes_nothing_on_telegram(
        telegram: TelegramDriver, fake_telegram: FakeTelegram) -> None:
    attacker = {"id": 666, "is_bot": False, "first_name": "Mallory"}
    await tg_say(telegram, USER, "how much does an observership cost", mention=True)
    answer = last_with(telegram, "del:")
    token = next(d for d in keyboard_data(answer) if d.startswith("del:"))
    assert token != f"del:{USER['id']}" and len(token) == len("del:") + 12  # an unguessable token, not an id
    await tg_say(telegram, attacker, "/help")
    help_message = list(fake_telegram.messages.values())[-1]

    def deletes(calls: list[tuple[str, dict]]) -> int:
        return sum(method == "deleteMessage" for method, _ in calls)

    def notice(calls: list[tuple[str, dict]]) -> str:
        return next(p.get("text") or "" for m, p in calls if m == "answerCallbackQuery")

    forged = await tg_press(telegram, attacker, answer, f"del:{attacker['id']}")  # the old payload: an id
    assert deletes(forged) == 0 and "doesn't work" in notice(forged)
    elsewhere = await tg_press(telegram, USER, help_message, token)  # a real token on another message
    assert deletes(elsewhere) == 0 and "doesn't work" in notice(elsewhere)
    theirs = await tg_press(telegram, attacker, answer, token)  # the real button, pressed by someone else
    assert deletes(theirs) == 0 and "Only the person who asked" in notice(theirs)
    assert all(int(p["chat_id"]) != GROUP_ID for m, p in theirs if m == "sendMessage")  # no public noise
    mine = await tg_press(telegram, USER, answer, token)
    assert deletes(mine) == 1
    replayed = await tg_press(telegram, USER, answer, token)
    assert deletes(replayed) == 0 and "can't remove anything" in notice(replayed)


async def test_a_demoted_admin_loses_admin_powers_at_once_on_telegram(kb: KnowledgeBase, fake_telegram: FakeTelegram,
                                                                      tmp_path: Path) -> None:
    drv = TelegramDriver(kb, fake_telegram, tmp_path / "bot.db", DEFAULT_START)
    drv.make_adapter = lambda advisor: __import__("adapters.telegram_bot", fromlist=["x"]).TelegramAdapter(
        advisor, fake_telegram.token, fake_telegram.url, rate_limit=False)  # the adapter exactly as shipped
    await drv.boot()
    try:
        await drv.start(private=False)
        drv.set_admin(True)
        got = await drv.say("/settings")
        assert "Settings for this chat" in got.text
        assert "Auto-answer confident matches without a mention: on" in (await drv.press("Auto-answer: turn on")).text
        drv.set_admin(False)  # demoted in the chat a second later
        got = await drv.press("Confidence: high")
        assert "only this chat's admins" in got.text and "Settings for this chat" not in got.text
        assert "only chat admins can use /autoanswer" in (await drv.say("/autoanswer off")).text
        assert drv.advisor.groups.chat_settings("telegram", str(GROUP_ID)).auto_answer is True
        got = await drv.say("/remind in 1 hour members meetup")
        assert "only admins can set group reminders here" in got.text
        assert drv.store.db.execute("select dm from reminders").fetchone()[0] == 1  # delivered privately
        mark = len(fake_telegram.calls)
        await drv.say("/help")
        await drv.say("/ask is step 1 pass fail")
        assert not [m for m, _ in fake_telegram.calls[mark:] if m == "getChatMember"]  # asked only when it matters
    finally:
        await drv.shutdown()


# Discord


@pytest.fixture
async def fake_discord() -> FakeDiscord:
    server = await FakeDiscord().start()
    yield server
    await server.stop()


@pytest.fixture
async def discord_bot(kb: KnowledgeBase, fake_discord: FakeDiscord, tmp_path: Path) -> DiscordDriver:
    drv = DiscordDriver(kb, fake_discord, tmp_path / "bot.db", DEFAULT_START)
    await drv.boot()
    yield drv
    await drv.shutdown()


def discord_user(name: str, user_id: str = "900000000000000999") -> dict:
    return {**DISCORD_USER, "id": user_id, "username": "someone", "global_name": name}


async def dc_mention(drv: DiscordDriver, user: dict, text: str) -> None:
    payload = message_payload(f"<@{BOT_USER['id']}> {text}", user, CHANNEL_ID)
    payload["member"] = {k: v for k, v in member_payload(user, False).items() if k != "user"}
    payload["mentions"] = [BOT_USER]
    await drv._send_and_wait("MESSAGE_CREATE", payload)


async def dc_slash(drv: DiscordDriver, user: dict, name: str, value: str | None = None, option: str = "",
                   admin: bool = False) -> None:
    data: dict[str, Any] = {"id": snowflake(), "name": name, "type": 1}
    if value is not None:
        data["options"] = [{"name": option, "type": 3, "value": value}]
    payload = drv.fake.interaction(data, kind=2, guild=True, admin=admin)
    payload["member"]["user"] = user
    await drv._send_and_wait("INTERACTION_CREATE", payload)


async def dc_press(drv: DiscordDriver, user: dict, message: dict, custom_id: str, admin: bool = False) -> int:
    payload = drv.fake.interaction({"custom_id": custom_id, "component_type": 2}, kind=3, guild=True, admin=admin,
                                   message=message)
    payload["member"]["user"] = user
    mark = len(drv.fake.requests)
    await drv._send_and_wait("INTERACTION_CREATE", payload)
    return mark


def custom_ids(message: dict) -> list[str]:
    return [c.get("custom_id", "") for row in message.get("components") or [] for c in row.get("components", [])]


def contents(fake: FakeDiscord, since: int = 0) -> list[tuple[str, dict]]:
    """(content, body) of every message the bot sent or edited since a mark."""
    out = []
    for method, path, body in fake.requests[since:]:
        if method not in ("POST", "PATCH") or not body:
            continue
        data = body.get("data") if path.endswith("/callback") else body
        if isinstance(data, dict) and "content" in data:
            out.append((data["content"], data))
    return out


async def test_names_quiz_names_and_reminder_text_stay_inert_on_discord(discord_bot: DiscordDriver,
                                                                        fake_discord: FakeDiscord) -> None:
    await discord_bot.start(private=False)
    named = discord_user(HOSTILE)
    fake_discord.dms_closed.add(DISCORD_USER["id"])  # every DM fails: the "DMs closed" notice names them
    await dc_mention(discord_bot, named, "/forget")
    await dc_mention(discord_bot, named, "/quiz visa")
    await dc_slash(discord_bot, named, "quiz", "@everyone <@123> @username **bold**", "name")
    await dc_slash(discord_bot, named, "quiz", "[Free USMLE vouchers](https://evil.example/x)", "name")
    await dc_slash(discord_bot, named, "remind", "in 1 hour " + HOSTILE, "when_and_what", admin=True)
    await discord_bot.advance(dt.timedelta(hours=1))
    sent = contents(fake_discord)
    shown = [content.replace("\\", "").replace("\u2060", "") for content, _ in sent]
    assert any(s.startswith("[Free USMLE vouchers](https://evil.example/x) @everyone") and "DMs are closed" in s
               for s in shown)
    assert any("Reminder**: [Free USMLE" in s for s in shown)  # delivered to the channel
    assert any("quiz called “@everyone" in s for s in shown)
    for content, body in sent:
        assert not re.search(r"(?<!\\)\[[^\]]*\]\(<?https://evil", content), content  # no masked link
        assert "**bold**" not in content and not MENTION.search(content), content
        assert body.get("allowed_mentions") == {"parse": []}  # and nothing could ping anyway


async def test_a_forged_replayed_or_someone_elses_delete_removes_nothing_on_discord(
        discord_bot: DiscordDriver, fake_discord: FakeDiscord) -> None:
    await discord_bot.start(private=False)
    await discord_bot.say("how much does an observership cost", mention=True)
    answer = next(m for m in reversed(list(fake_discord.messages.values()))
                  if any(c.startswith("a/del:") for c in custom_ids(m)))
    token = next(c for c in custom_ids(answer) if c.startswith("a/del:"))
    attacker = discord_user("Mallory", "900000000000000666")

    def deleted(mark: int) -> int:
        return sum(method == "DELETE" and "/messages/" in path for method, path, _ in fake_discord.requests[mark:])

    def said(mark: int) -> str:
        return " ".join(content for content, _ in contents(fake_discord, mark))

    mark = len(fake_discord.requests)  # forged: a custom_id that is not on the message (discord.py drops it)
    payload = fake_discord.interaction({"custom_id": f"a/del:{attacker['id']}", "component_type": 2}, kind=3,
                                       guild=True, message=answer)
    payload["member"]["user"] = attacker
    await fake_discord.dispatch("INTERACTION_CREATE", payload)
    await asyncio.sleep(0.5)
    assert deleted(mark) == 0
    mark = await dc_press(discord_bot, attacker, answer, token)  # the real button, someone else's answer
    assert deleted(mark) == 0 and "Only the person who asked" in said(mark)
    mark = await dc_press(discord_bot, DISCORD_USER, answer, token)
    assert deleted(mark) == 1
    mark = await dc_press(discord_bot, DISCORD_USER, answer, token)  # replayed
    assert deleted(mark) == 0 and "can't remove anything" in said(mark)


async def test_a_demoted_admin_loses_admin_powers_at_once_on_discord(discord_bot: DiscordDriver) -> None:
    await discord_bot.start(private=False)
    discord_bot.set_admin(True)
    assert "Settings for this chat" in (await discord_bot.say("/settings")).text
    assert "Auto-answer confident matches without a mention: on" in (await discord_bot.press(
        "Auto-answer: turn on")).text
    discord_bot.set_admin(False)  # the next interaction carries the member's new permissions
    got = await discord_bot.press("Confidence: high")
    assert "only this chat's admins" in got.text
    assert "only chat admins can use /autoanswer" in (await discord_bot.say("/autoanswer off")).text
    assert discord_bot.advisor.groups.chat_settings("discord", str(CHANNEL_ID)).auto_answer is True
    assert "only admins can set group reminders here" in (await discord_bot.say("/remind in 1 hour meetup")).text

