"""`img-advisor run` as its own process against the fake Bot API: answers, stops on SIGTERM, never logs the token."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

from tests.adapters.fake_telegram import FakeTelegram
from tests.adapters.telegram_driver import USER, plain


async def start_bot(fake: FakeTelegram, tmp_path: Path, **extra: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_URL": fake.url,
           "IMG_ADVISOR_DB": str(tmp_path / "bot.db"), "IMG_ADVISOR_LOG_LEVEL": "DEBUG",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2]), **extra}
    env.pop("DISCORD_BOT_TOKEN", None)
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "adapters.cli", "run", env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


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
