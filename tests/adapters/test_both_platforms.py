"""Telegram and Discord in one process: one store, one scheduler; one platform failing never silences the other."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from adapters.discord_bot import DiscordAdapter
from adapters.runner import serve
from adapters.telegram_bot import TelegramAdapter
from bot.advisor import Advisor
from bot.database import Database
from bot.knowledge import KnowledgeBase
from bot.reminders.store import ReminderStore
from tests.adapters.discord_driver import DM_ID
from tests.adapters.fake_discord import USER as DISCORD_USER
from tests.adapters.fake_discord import FakeDiscord, message_payload
from tests.adapters.fake_telegram import FakeTelegram
from tests.adapters.telegram_driver import USER as TELEGRAM_USER
from tests.adapters.telegram_driver import plain

RETRY = (0.2, 0.4)  # back-off between start attempts, shortened for the tests
BAD_TELEGRAM_TOKEN = "123456:MISTYPED-TELEGRAM-TOKEN"
BAD_DISCORD_TOKEN = "MISTYPED.DISCORD.TOKEN-xyz"


@dataclass
class Process:
    """One `serve` run with both platforms, as `img-advisor run` starts it."""

    advisor: Advisor
    store: Database
    telegram: FakeTelegram
    discord: FakeDiscord
    stop: asyncio.Event
    task: asyncio.Task

    def health(self) -> dict:
        return json.loads(self.store.meta("heartbeat") or "{}").get("state", {})

    async def until(self, predicate, timeout: float = 10) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "timed out"
            await asyncio.sleep(0.02)


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("adapters.runner.RETRY_SECONDS", RETRY, raising=False)


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeTelegram, FakeDiscord]]:
    telegram, discord_fake = await FakeTelegram().start(), await FakeDiscord().start()
    yield telegram, discord_fake
    await telegram.stop()
    await discord_fake.stop()


async def run(kb: KnowledgeBase, tmp_path: Path, telegram: FakeTelegram, discord_fake: FakeDiscord,
              telegram_token: str | None = None, discord_token: str | None = None) -> Process:
    store = Database.open(tmp_path / "bot.db")
    advisor = Advisor(kb, store)
    adapters = {
        "telegram": TelegramAdapter(advisor, telegram_token or telegram.token, telegram.url, rate_limit=False),
        "discord": DiscordAdapter(advisor, discord_token or discord_fake.token, api_url=discord_fake.api_url,
                                  gateway_url=discord_fake.gateway_url, guild_ready_timeout=0.05),
    }
    stop = asyncio.Event()
    return Process(advisor, store, telegram, discord_fake, stop,
                   asyncio.create_task(serve(advisor, adapters, stop)))


async def finish(process: Process) -> None:
    process.stop.set()
    await asyncio.wait_for(process.task, 15)
    process.store.close()


def help_command() -> dict:
    return {"message_id": 1, "date": int(time.time()), "chat": {"id": TELEGRAM_USER["id"], "type": "private"},
            "from": TELEGRAM_USER, "text": "/help", "entities": [{"type": "bot_command", "offset": 0, "length": 5}]}


def all_logged(caplog: pytest.LogCaptureFixture) -> str:
    """What the bot's own code logged (libraries' lines are redacted by `adapters.logs`; see test_run_process)."""
    ours = [r for r in caplog.records if r.name.split(".")[0] in ("adapters", "bot", "asyncio")]
    return "\n".join(r.getMessage() + (str(r.exc_info) if r.exc_info else "") for r in ours)


async def test_one_process_serves_both_platforms_with_one_scheduler(kb: KnowledgeBase, tmp_path: Path,
                                                                    fakes: tuple[FakeTelegram, FakeDiscord]) -> None:
    process = await run(kb, tmp_path, *fakes)
    telegram, discord_fake = fakes
    try:
        await process.until(lambda: process.health().get("telegram", {}).get("state") == "running"
                            and process.health().get("discord", {}).get("state") == "running")
        for platform, user in (("telegram", str(TELEGRAM_USER["id"])), ("discord", DISCORD_USER["id"])):
            ReminderStore(process.store).add_reminder(platform=platform, owner_id=user, origin_chat_id=user,
                                                      chat_id=user, dm=True, text=f"{platform} reminder", tz="UTC",
                                                      due_at=time.time() - 1)
        process.advisor.reminders.notify_changed()
        await telegram.wait_for_call("sendMessage", 1, timeout=10)
        await discord_fake.wait_for(lambda: any("discord reminder" in str(b) for _, _, b in discord_fake.requests))
        assert "telegram reminder" in telegram.sent()[0]["text"]
    finally:
        await finish(process)


async def test_a_mistyped_telegram_token_is_named_in_one_line_and_discord_keeps_serving(
        kb: KnowledgeBase, tmp_path: Path, fakes: tuple[FakeTelegram, FakeDiscord],
        caplog: pytest.LogCaptureFixture) -> None:
    telegram, discord_fake = fakes
    with caplog.at_level(logging.DEBUG):
        process = await run(kb, tmp_path, telegram, discord_fake, telegram_token=BAD_TELEGRAM_TOKEN)
        try:
            await process.until(lambda: process.health().get("telegram", {}).get("attempts", 0) >= 2)
            state = process.health()
            assert state["discord"]["state"] == "running"
            assert state["telegram"]["state"] == "retrying" and "TELEGRAM_BOT_TOKEN" in state["telegram"]["problem"]
            await discord_fake.dispatch("MESSAGE_CREATE", message_payload("is step 1 pass fail?", DISCORD_USER,
                                                                          DM_ID, guild=False))
            await discord_fake.wait_for(lambda: any("pass/fail" in str(b) for _, _, b in discord_fake.requests))
        finally:
            await finish(process)
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert failures and all("TELEGRAM_BOT_TOKEN" in r.getMessage() and r.exc_info is None for r in failures)
    assert BAD_TELEGRAM_TOKEN not in all_logged(caplog) and BAD_TELEGRAM_TOKEN.split(":")[1] not in all_logged(caplog)


async def test_a_bad_discord_token_is_named_in_one_line_and_telegram_keeps_serving(
        kb: KnowledgeBase, tmp_path: Path, fakes: tuple[FakeTelegram, FakeDiscord],
        caplog: pytest.LogCaptureFixture) -> None:
    telegram, discord_fake = fakes
    with caplog.at_level(logging.DEBUG):
        process = await run(kb, tmp_path, telegram, discord_fake, discord_token=BAD_DISCORD_TOKEN)
        try:
            await process.until(lambda: process.health().get("discord", {}).get("attempts", 0) >= 2)
            await telegram.push(message=help_command())
            await telegram.wait_for_call("sendMessage", 1)
            assert "/topics" in plain(telegram.sent()[-1]["text"])
            assert process.health()["telegram"]["state"] == "running"
        finally:
            await finish(process)
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert failures and all("DISCORD_BOT_TOKEN" in r.getMessage() and r.exc_info is None for r in failures)
    assert BAD_DISCORD_TOKEN not in all_logged(caplog)
    assert "Unclosed" not in all_logged(caplog)


async def test_a_platform_unreachable_at_start_is_retried_with_back_off_until_it_serves(
        kb: KnowledgeBase, tmp_path: Path, fakes: tuple[FakeTelegram, FakeDiscord],
        caplog: pytest.LogCaptureFixture) -> None:
    telegram, discord_fake = fakes
    telegram.fail_next["getMe"] = [(502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})] * 2
    with caplog.at_level(logging.INFO):
        process = await run(kb, tmp_path, telegram, discord_fake)
        try:
            await process.until(lambda: process.health().get("telegram", {}).get("state") == "running")
            await telegram.push(message=help_command())
            await telegram.wait_for_call("sendMessage", 1)
        finally:
            await finish(process)
    failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(failures) == 2 and all("cannot reach the Telegram Bot API" in m for m in failures)
    assert "Retrying in 0.2 s" in failures[0] and "Retrying in 0.4 s" in failures[1]  # growing back-off
