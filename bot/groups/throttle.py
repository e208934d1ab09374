"""Flood limits: per-user and per-chat rate limits (the `limits` library, moving window).

A bot in a group of 10,000 must never flood it: after a limit the bot says so once,
then stays quiet until the window frees up.
"""

from __future__ import annotations

from dataclasses import dataclass

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from bot.events import Incoming


@dataclass(frozen=True)
class Limits:
    """Flood limits; defaults suit a busy group (configurable, see bot.config)."""

    per_user: str = "20/minute"
    per_chat: str = "30/minute"
    cooldown_minutes: int = 10


class Throttle:
    """Per-user and per-chat rate limits with a single polite notice when exceeded."""

    def __init__(self, limits: Limits):
        self.user_limit = parse(limits.per_user)
        self.chat_limit = parse(limits.per_chat)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._warned: set[str] = set()

    def check(self, event: Incoming) -> str:
        """"ok", "warn" (first time over a limit: say so once) or "drop"."""
        user_key = f"user:{event.platform}:{event.user_id}"
        checks = [(self.user_limit, user_key)]
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
