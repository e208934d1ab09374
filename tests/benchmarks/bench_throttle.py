"""Benchmark the flood throttle: its share of `Advisor.handle`, and the threads it starts.

In one run, the same 10,000 messages (private chats and groups, 500 users, limits high
enough that every message takes the full path) go through `Advisor.handle` with:

- the throttle (`bot.groups.throttle.Throttle`: lazy expiry, no threads);
- the previous throttle on `limits`' MemoryStorage (a `threading.Timer` for expiry),
  rebuilt here as the comparison;
- no throttle at all (every message "ok"): the baseline the overhead is measured from.

Each variant runs --rounds times, interleaved; medians are reported. Printed: handle()
seconds for the messages and their ratio to the no-throttle baseline, thread starts
during the run, and `check()` alone: microseconds per message and that time as a share
of handle(). (The `limits` variant costs handle() more than its check() alone: its
timer thread takes the GIL while it sweeps.)

Run:  python tests/benchmarks/bench_throttle.py [--rounds 5] [--messages 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import threading
import time
from collections.abc import Callable
from contextlib import closing

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from bot.advisor import Advisor
from bot.config import bundled_knowledge_dir
from bot.database import Database
from bot.events import Incoming
from bot.groups.throttle import Limits, Throttle
from bot.knowledge import load_knowledge

LIMITS = Limits("10000000/minute", "10000000/minute")
QUESTIONS = ["what is an observership", "obsership fees??", "can i do hands on with b1/b2", "hello", "thanks",
             "how long is ecfmg certification valid", "YOG 2015 still ok for IM?", "what is the match"]


class LimitsThrottle:
    """The throttle before: `limits`' moving window on MemoryStorage."""

    def __init__(self, limits: Limits):
        self.user_limit, self.chat_limit = parse(limits.per_user), parse(limits.per_chat)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._warned: set[str] = set()

    def check(self, event: Incoming) -> str:
        checks = [(self.user_limit, f"user:{event.platform}:{event.user_id}")]
        if not event.is_private:
            checks.append((self.chat_limit, f"chat:{event.platform}:{event.chat_id}"))
        for limit, key in checks:
            if not self._limiter.hit(limit, key):
                if key in self._warned:
                    return "drop"
                self._warned.add(key)
                return "warn"
            self._warned.discard(key)
        return "ok"


class NoThrottle:
    def check(self, event: Incoming) -> str:
        return "ok"


VARIANTS: dict[str, Callable[[], object]] = {
    "throttle (lazy expiry)": lambda: Throttle(LIMITS),
    "limits MemoryStorage (before)": lambda: LimitsThrottle(LIMITS),
    "no throttle (baseline)": NoThrottle,
}


def events(total: int) -> list[Incoming]:
    out = []
    for i in range(total):
        user = f"u{i % 500}"
        private = i % 3 == 0
        chat = user if private else f"-100{i % 40}"
        text = QUESTIONS[i % len(QUESTIONS)]
        out.append(Incoming("telegram", chat, user, "bench", private, text if private else f"@advisor {text}",
                            addressed=not private))
    return out


class ThreadCounter:
    def __init__(self) -> None:
        self.count = 0
        self._original = threading.Thread.start

    def __enter__(self) -> ThreadCounter:
        counter = self

        def start(thread: threading.Thread) -> None:
            counter.count += 1
            counter._original(thread)

        threading.Thread.start = start  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        threading.Thread.start = self._original  # type: ignore[method-assign]


async def run(advisor: Advisor, batch: list[Incoming]) -> float:
    start = time.perf_counter()
    for event in batch:
        await advisor.handle(event)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=10_000)
    args = parser.parse_args()
    logging.disable(logging.INFO)  # one log line per message would be most of what is timed
    kb = load_knowledge(bundled_knowledge_dir())
    batch = events(args.messages)
    seconds: dict[str, list[float]] = {name: [] for name in VARIANTS}
    threads: dict[str, int] = {}
    for _ in range(args.rounds):
        for name, make in VARIANTS.items():
            with closing(Database.in_memory()) as database:
                advisor = Advisor(kb, database, limits=LIMITS)
                advisor.throttle = make()  # type: ignore[assignment]
                asyncio.run(run(advisor, batch[:200]))  # warm caches
                with ThreadCounter() as counter:
                    seconds[name].append(asyncio.run(run(advisor, batch)))
                threads[name] = counter.count

    base = statistics.median(seconds["no throttle (baseline)"])
    print(f"{args.messages:,} messages through Advisor.handle(), median of {args.rounds} rounds")
    print(f"{'variant':32} {'handle() s':>10} {'/ baseline':>10} {'thread starts':>14} {'check() µs':>11} "
          f"{'check() share':>14}")
    for name, make in VARIANTS.items():
        median = statistics.median(seconds[name])
        checker = make()
        start = time.perf_counter()
        for event in batch:
            checker.check(event)  # type: ignore[attr-defined]
        micro = (time.perf_counter() - start) / len(batch)
        share = micro * len(batch) / median * 100
        print(f"{name:32} {median:>10.3f} {median / base:>10.2f} {threads[name]:>14,} {micro * 1e6:>11.2f} "
              f"{share:>13.1f}%")
    ours, before = (statistics.median(seconds[n]) for n in list(VARIANTS)[:2])
    print(f"handle() with the previous throttle / with this one: {before / ours:.2f}")

if __name__ == "__main__":
    main()
