"""Test doubles: a clock that never sleeps and a notifier that records what it was asked to send."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

from bot.events import ChatRef, Reply
from bot.groups.throttle import Limits
from bot.reminders.scheduler import Delivery

TEST_LIMITS = Limits(per_user="10000/minute", per_chat="10000/minute", cooldown_minutes=10)
"""Scenarios type faster than any person; rate limits have tests of their own."""
KNOWLEDGE_TODAY = dt.date(2026, 12, 8)
"""The day tests check the shipped knowledge base on: not before its latest review date (a later one is an error)."""

_DURATION = re.compile(r"^\s*(\d+)\s*(minute|min|hour|h|day|d|week|w)s?\s*$", re.IGNORECASE)
_UNITS = {"minute": 60, "min": 60, "hour": 3600, "h": 3600, "day": 86400, "d": 86400, "week": 604800, "w": 604800}


def duration(text: str) -> dt.timedelta:
    """ "3 days", "25h", "1 week" -> a timedelta."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r}")
    return dt.timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2).lower()])


class FakeClock:
    """Time stands still until a test moves it; `sleep` jumps ahead instead of waiting."""

    def __init__(self, start: dt.datetime):
        self.current = start
        self.sleeps: list[float | None] = []

    def now(self) -> dt.datetime:
        return self.current

    def advance(self, delta: dt.timedelta) -> None:
        self.current += delta

    async def sleep(self, seconds: float | None, wake: asyncio.Event) -> None:
        self.sleeps.append(seconds)
        if wake.is_set():
            return
        if seconds is None:
            await wake.wait()
            return
        self.current += dt.timedelta(seconds=seconds)
        await asyncio.sleep(0)


class RecordingNotifier:
    """Records deliveries; `outcomes` can script failures for the next sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[ChatRef, Reply]] = []
        self.outcomes: list[Delivery] = []

    async def deliver(self, target: ChatRef, reply: Reply) -> Delivery:
        outcome = self.outcomes.pop(0) if self.outcomes else Delivery.ok()
        if outcome.status == "ok":
            self.sent.append((target, reply))
        return outcome
