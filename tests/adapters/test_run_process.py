"""`img-advisor run` as its own process against the fake Bot API: answers, stops on SIGTERM, never logs the token."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
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
