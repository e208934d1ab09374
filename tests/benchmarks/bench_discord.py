"""Benchmark the Discord adapter: event-to-reply latency with the bot in its own process.

Starts the fake REST API and gateway (tests/adapters/fake_discord.py) here, runs
`img-advisor run` as a separate process pointed at it with DISCORD_API_URL and
DISCORD_GATEWAY_URL, sends 1,000 direct messages one after another and measures the
time from the MESSAGE_CREATE frame to the bot's POST of its reply (median and p99).
Run:  python tests/benchmarks/bench_discord.py
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

from tests.adapters.discord_driver import DM_ID  # noqa: E402
from tests.adapters.fake_discord import USER, FakeDiscord, message_payload  # noqa: E402
from tests.benchmarks.bench_match import percentiles  # noqa: E402

QUESTIONS = ["obsership fees??", "is step 1 pass fail", "can i do hands on with b1/b2", "YOG 2015 still ok for IM?",
             "how many letters of recommendation", "what is the match", "hello", "j1 vs h1b"]


async def main(count: int) -> None:
    fake = await FakeDiscord().start()
    replies = asyncio.Queue()
    original = fake._record

    async def record(entry):
        await original(entry)
        if entry[0] == "POST" and entry[1] == f"/channels/{DM_ID}/messages":
            replies.put_nowait(time.perf_counter())

    fake._record = record  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DISCORD_BOT_TOKEN": "fake-token", "DISCORD_API_URL": fake.api_url,
               "DISCORD_GATEWAY_URL": fake.gateway_url, "IMG_ADVISOR_DB": f"{tmp}/bench.db",
               "IMG_ADVISOR_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT),
               # one user sends all the messages: lift the flood limits so every one is answered
               "IMG_ADVISOR_USER_RATE": "1000000/minute", "IMG_ADVISOR_CHAT_RATE": "1000000/minute"}
        env.pop("TELEGRAM_BOT_TOKEN", None)
        bot = await asyncio.create_subprocess_exec(sys.executable, "-m", "adapters.cli", "run", env=env)
        try:
            await asyncio.wait_for(fake.identified.wait(), 60)
            await asyncio.sleep(2.5)  # the client waits guild_ready_timeout before it is ready
            await fake.dispatch("MESSAGE_CREATE", message_payload("hello", USER, DM_ID, guild=False))
            await asyncio.wait_for(replies.get(), 30)
            latencies = []
            for i in range(count):
                sent = time.perf_counter()
                await fake.dispatch("MESSAGE_CREATE", message_payload(QUESTIONS[i % len(QUESTIONS)], USER, DM_ID,
                                                                      guild=False))
                latencies.append(await asyncio.wait_for(replies.get(), 30) - sent)
            p50, p99 = percentiles(latencies)
            print(f"sequential, {count} messages: median {p50 * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms")
        finally:
            bot.terminate()
            await bot.wait()
            await fake.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    asyncio.run(main(parser.parse_args().count))
