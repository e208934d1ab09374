"""`img-advisor run` as its own process against the fakes: answers, stops on SIGTERM, never logs a token."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.adapters.discord_driver import DM_ID
from tests.adapters.fake_discord import USER as DISCORD_USER
from tests.adapters.fake_discord import FakeDiscord, message_payload
from tests.adapters.fake_telegram import FakeTelegram
from tests.adapters.telegram_driver import USER, plain


async def start_bot(fake: FakeTelegram, tmp_path: Path, **extra: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_URL": fake.url,
           "IMG_ADVISOR_DB": str(tmp_path / "bot.db"), "IMG_ADVISOR_LOG_LEVEL": "DEBUG",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2]), **extra}
    if "DISCORD_BOT_TOKEN" not in extra:
        env.pop("DISCORD_BOT_TOKEN", None)
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "adapters.cli", "run", env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def health(tmp_path: Path) -> tuple[int, dict]:
    """`img-advisor health --require-running` against the bot's database: exit status and report."""
    check = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapters.cli", "health", "--require-running",
        env={**os.environ, "IMG_ADVISOR_DB": str(tmp_path / "bot.db"),
             "PYTHONPATH": str(Path(__file__).resolve().parents[2])}, stdout=asyncio.subprocess.PIPE)
    out, _ = await check.communicate()
    return check.returncode or 0, json.loads(out)


def command(text: str, message_id: int = 1) -> dict:
    return {"message_id": message_id, "date": 0, "chat": {"id": USER["id"], "type": "private"}, "from": USER,
            "text": text, "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]}


async def test_run_serves_telegram_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    fake = await FakeTelegram().start()
    bot = await start_bot(fake, tmp_path)
    try:
        await fake.push(message=command("/help"))
        await fake.wait_for_call("sendMessage", 1, timeout=30)
        assert "/topics" in plain(fake.sent()[0]["text"])
        health = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "adapters.cli", "health", "--require-running",
            env={**os.environ, "IMG_ADVISOR_DB": str(tmp_path / "bot.db"),
                 "PYTHONPATH": str(Path(__file__).resolve().parents[2])}, stdout=asyncio.subprocess.PIPE)
        out, _ = await health.communicate()
        assert health.returncode == 0, out.decode()
        assert "heartbeat" in out.decode() and "telegram" in out.decode()
        bot.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(bot.communicate(), 30)
        assert bot.returncode == 0, stderr.decode()
        log = stderr.decode()
        assert "telegram adapter started" in log
        assert fake.token not in log and fake.token.split(":")[1] not in log
    finally:
        if bot.returncode is None:
            bot.kill()
        await fake.stop()


async def test_sigterm_mid_delivery_loses_no_reminder_and_sends_none_twice(tmp_path: Path) -> None:
    from bot.database import Database
    from bot.reminders.store import ReminderStore

    store = Database.open(tmp_path / "bot.db")
    due = time.time() - 5
    for chat in range(1001, 1006):
        ReminderStore(store).add_reminder(platform="telegram", owner_id=str(chat), origin_chat_id=str(chat), chat_id=str(chat),
                           dm=True, text=f"reminder for {chat}", tz="UTC", due_at=due + chat / 1e4)
    store.close()
    fake = await FakeTelegram().start()
    fake.send_gate = asyncio.Event()
    bot = await start_bot(fake, tmp_path, TELEGRAM_RATE_LIMITER="off")
    try:
        await asyncio.wait_for(fake.send_arrived.wait(), 30)  # the first reminder is on the wire
        bot.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.3)
        fake.send_gate.set()  # the platform accepts it only now, during shutdown
        _, stderr = await asyncio.wait_for(bot.communicate(), 30)
        assert bot.returncode == 0, stderr.decode()
        first_run = [int(p["chat_id"]) for p in fake.sent()]
        assert first_run == [1001]
        store = Database.open(tmp_path / "bot.db")
        statuses = dict(store.db.execute("select chat_id, status from reminders").fetchall())
        store.close()
        assert statuses == {"1001": "sent", "1002": "pending", "1003": "pending", "1004": "pending",
                            "1005": "pending"}
        bot = await start_bot(fake, tmp_path, TELEGRAM_RATE_LIMITER="off")  # restart: the rest go out, once
        await fake.wait_for_call("sendMessage", 5, timeout=30)
        bot.send_signal(signal.SIGTERM)
        await asyncio.wait_for(bot.communicate(), 30)
        assert sorted(int(p["chat_id"]) for p in fake.sent()) == [1001, 1002, 1003, 1004, 1005]
    finally:
        if bot.returncode is None:
            bot.kill()
        await fake.stop()


@pytest.mark.parametrize("mistyped", ["TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN"])
async def test_a_mistyped_token_is_one_clear_line_and_the_other_platform_serves(tmp_path: Path, mistyped: str) -> None:
    telegram, discord_fake = await FakeTelegram().start(), await FakeDiscord().start()
    wrong = {"TELEGRAM_BOT_TOKEN": "123456:WRONG-SECRET-HALF", "DISCORD_BOT_TOKEN": "WRONG.DISCORD.TOKEN"}[mistyped]
    env = {"DISCORD_BOT_TOKEN": discord_fake.token, "DISCORD_API_URL": discord_fake.api_url,
           "DISCORD_GATEWAY_URL": discord_fake.gateway_url, mistyped: wrong}
    if mistyped == "TELEGRAM_BOT_TOKEN":
        env["TELEGRAM_BOT_TOKEN"] = wrong
    bot = await start_bot(telegram, tmp_path, **env)
    try:
        if mistyped == "TELEGRAM_BOT_TOKEN":  # Discord answers
            await asyncio.wait_for(discord_fake.identified.wait(), 30)
            await discord_fake.dispatch("MESSAGE_CREATE", message_payload("is step 1 pass fail?", DISCORD_USER,
                                                                          DM_ID, guild=False))
            await discord_fake.wait_for(lambda: any("pass/fail" in str(b) for _, _, b in discord_fake.requests), 30)
        else:  # Telegram answers
            await telegram.push(message=command("/help"))
            await telegram.wait_for_call("sendMessage", 1, timeout=30)
        platform, other = (("telegram", "discord") if mistyped == "TELEGRAM_BOT_TOKEN" else ("discord", "telegram"))
        for _ in range(60):  # until the working platform reports running
            code, report = await health(tmp_path)
            if report.get("platforms", {}).get(other) == "running":
                break
            await asyncio.sleep(0.5)
        assert code == 1 and report["status"] == "unhealthy"
        assert report["platforms"][other] == "running"
        assert report["platforms"][platform].startswith("retrying") and mistyped in report["platforms"][platform]
        bot.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(bot.communicate(), 30)
        assert bot.returncode == 0, stderr.decode()
        log = stderr.decode()
        assert wrong not in log and wrong.split(":")[-1] not in log
        assert "Traceback" not in log and "Unclosed" not in log
        named = [line for line in log.splitlines() if "ERROR" in line]
        assert named and all(mistyped in line for line in named)
    finally:
        if bot.returncode is None:
            bot.kill()
        await telegram.stop()
        await discord_fake.stop()
