"""Telegram and Discord in one process: one store, one scheduler, reminders delivered on both."""

from __future__ import annotations

import asyncio
import time

from adapters.discord_bot import DiscordAdapter
from adapters.runner import serve
from adapters.telegram_bot import TelegramAdapter
from bot.advisor import Advisor
from bot.database import Database
from bot.knowledge import KnowledgeBase
from bot.reminders.store import ReminderStore
from tests.adapters.fake_discord import USER as DISCORD_USER
from tests.adapters.fake_discord import FakeDiscord
from tests.adapters.fake_telegram import FakeTelegram
from tests.adapters.telegram_driver import USER as TELEGRAM_USER


async def test_one_process_serves_both_platforms_with_one_scheduler(kb: KnowledgeBase, tmp_path) -> None:
    telegram, discord_fake = await FakeTelegram().start(), await FakeDiscord().start()
    store = Database.open(tmp_path / "bot.db")
    advisor = Advisor(kb, store)
    adapters = {
        "telegram": TelegramAdapter(advisor, telegram.token, telegram.url, rate_limit=False),
        "discord": DiscordAdapter(advisor, "fake-token", api_url=discord_fake.api_url,
                                  gateway_url=discord_fake.gateway_url, guild_ready_timeout=0.05),
    }
    stop = asyncio.Event()
    server = asyncio.create_task(serve(advisor, adapters, stop))
    try:
        await asyncio.wait_for(discord_fake.identified.wait(), 10)
        await telegram.wait_for_call("setMyCommands", 2, timeout=10)
        for platform, user in (("telegram", str(TELEGRAM_USER["id"])), ("discord", DISCORD_USER["id"])):
            ReminderStore(store).add_reminder(platform=platform, owner_id=user, origin_chat_id=user, chat_id=user, dm=True,
                               text=f"{platform} reminder", tz="UTC", due_at=time.time() - 1)
        advisor.reminders.notify_changed()
        await telegram.wait_for_call("sendMessage", 1, timeout=10)
        await discord_fake.wait_for(lambda: any("discord reminder" in str(b) for _, _, b in discord_fake.requests))
        assert "telegram reminder" in telegram.sent()[0]["text"]
    finally:
        stop.set()
        await asyncio.wait_for(server, 15)
        store.close()
        await telegram.stop()
        await discord_fake.stop()
