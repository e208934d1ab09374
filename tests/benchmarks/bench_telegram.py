"""Benchmark the Telegram adapter: update-to-reply latency with the bot in its own process.

Starts the fake Bot API (tests/adapters/fake_telegram.py) here, runs `img-advisor run`
as a separate process pointed at it, and measures:

- latency from an update being queued at the fake to the bot's sendMessage reaching
  it, over 1,000 sequential messages (median and p99);
- messages per second with 50 chats sending at once.

The bot runs with TELEGRAM_RATE_LIMITER=off so the figures show the bot, not
Telegram's flood limits (30 messages/s overall, 20 per minute per group), which cap a
real deployment below these numbers. Run:  python tests/benchmarks/bench_telegram.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.adapters.fake_telegram import FakeTelegram  # noqa: E402
from tests.benchmarks.bench_match import percentiles  # noqa: E402

QUESTIONS = ["obsership fees??", "is step 1 pass fail", "can i do hands on with b1/b2", "YOG 2015 still ok for IM?",
             "how many letters of recommendation", "what is the match", "hello", "j1 vs h1b"]


class TimedFake(FakeTelegram):
    def __init__(self) -> None:
        super().__init__()
        self.replied: dict[int, list[float]] = {}
        self.reply_event = asyncio.Event()

    async def _m_sendmessage(self, p: dict) -> dict:
        self.replied.setdefault(int(p["chat_id"]), []).append(time.perf_counter())
        self.reply_event.set()
        return await super()._m_sendmessage(p)


def message(chat_id: int, text: str, message_id: int) -> dict:
    return {"message_id": message_id, "date": 0, "chat": {"id": chat_id, "type": "private"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "U"}, "text": text}


async def wait_replies(fake: TimedFake, chat_id: int, count: int, timeout: float = 30) -> None:
    deadline = time.perf_counter() + timeout
    while len(fake.replied.get(chat_id, [])) < count:
        fake.reply_event.clear()
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            raise TimeoutError(f"chat {chat_id}: {len(fake.replied.get(chat_id, []))}/{count} replies")
        try:
            await asyncio.wait_for(fake.reply_event.wait(), remaining)
        except asyncio.TimeoutError:
            pass


async def main(count: int, chats: int, per_chat: int) -> None:
    fake = await TimedFake().start()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_URL": fake.url,
               "TELEGRAM_RATE_LIMITER": "off", "IMG_ADVISOR_DB": f"{tmp}/bench.db",
               "IMG_ADVISOR_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT), "NO_PROXY": "127.0.0.1",
               # one user sends all the messages: lift the flood limits so every one is answered
               "IMG_ADVISOR_USER_RATE": "1000000/minute", "IMG_ADVISOR_CHAT_RATE": "1000000/minute"}
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "DISCORD_BOT_TOKEN"):
            env.pop(name, None)
        bot = await asyncio.create_subprocess_exec(sys.executable, "-m", "adapters.cli", "run", env=env)
        try:
            await fake.push(message=message(1, "/start", 1))  # warm up: start-up, caches
            await wait_replies(fake, 1, 1, timeout=60)
            latencies = []
            for i in range(count):
                chat_id = 2
                before = len(fake.replied.get(chat_id, []))
                sent = time.perf_counter()
                await fake.push(message=message(chat_id, QUESTIONS[i % len(QUESTIONS)], i + 10))
                await wait_replies(fake, chat_id, before + 1)
                latencies.append(fake.replied[chat_id][before] - sent)
            p50, p99 = percentiles(latencies)
            print(f"sequential, {count} messages: median {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
            started = time.perf_counter()
            for round_ in range(per_chat):
                for chat in range(chats):
                    await fake.push(message=message(1000 + chat, QUESTIONS[(round_ + chat) % len(QUESTIONS)],
                                                    100000 + round_ * chats + chat))
            for chat in range(chats):
                await wait_replies(fake, 1000 + chat, per_chat, timeout=120)
            elapsed = time.perf_counter() - started
            print(f"{chats} concurrent chats x {per_chat} messages: {chats * per_chat / elapsed:.0f} messages/s")
        finally:
            bot.terminate()
            await bot.wait()
            await fake.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--per-chat", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.count, args.chats, args.per_chat))
