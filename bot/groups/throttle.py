"""Flood limits: per-user and per-chat rate limits (moving window), with no threads and bounded memory.

A bot in a group of 10,000 must never flood it: after a limit the bot says so once,
then stays quiet until the window frees up.

Why not `limits`' own strategy: its only in-process storage, `MemoryStorage`, expires
entries from a `threading.Timer` that it restarts on a hit whenever the previous timer
has run (100 to 600 thread starts per 10,000 messages, and the timer thread's sweeps
made `Advisor.handle` up to 1.9 times slower: tests/benchmarks/bench_throttle.py), and
its other storages are servers (Redis, Memcached, MongoDB). So this module keeps the
same moving window itself, expiring lazily: each key holds the times of its accepted
hits (at most the limit's amount, oldest dropped as they leave the window), and the
keys live in a dict ordered by last use, so keys unused for a whole window are dropped
from its front as traffic passes. State is thus bounded by the users and chats seen
within one window, whatever the number of distinct users over time. The semantics are
`limits`' moving window: a hit is refused while `amount` accepted hits lie within the
last `window` seconds, and refused hits do not count. Rate strings ("20/minute",
"5 per 10 seconds") are read with `limits.parse`, as bot.config validates them.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from bot.events import Incoming


@dataclass(frozen=True)
class Limits:
    """Flood limits; defaults suit a busy group (configurable, see bot.config)."""

    per_user: str = "20/minute"
    per_chat: str = "30/minute"
    cooldown_minutes: int = 10


class _Key:
    """One user's or chat's accepted hits within the window, and whether it was told it is over the limit."""

    __slots__ = ("hits", "used", "warned")

    def __init__(self) -> None:
        self.hits: deque[float] = deque()
        self.used = 0.0
        self.warned = False


class MovingWindow:
    """At most `amount` hits per key in any `window` seconds; state expires lazily, no threads."""

    def __init__(self, amount: int, window: float):
        self.amount = amount
        self.window = window
        self._keys: dict[str, _Key] = {}  # ordered by last use, oldest first

    def __len__(self) -> int:
        return len(self._keys)

    def hit(self, key: str, now: float) -> tuple[bool, _Key]:
        """Count a hit for `key` at `now`: whether it is allowed, and the key's state."""
        state = self._keys.pop(key, None)
        if state is None:
            state = _Key()
        self._keys[key] = state  # move to the end: most recently used
        state.used = now
        hits, start = state.hits, now - self.window
        while hits and hits[0] < start:  # a hit exactly one window ago still counts, as in `limits`
            hits.popleft()
        if len(hits) >= self.amount:
            return False, state
        hits.append(now)
        return True, state

    def expire(self, now: float) -> None:
        """Drop keys unused for a whole window (their hits have all left it), oldest first."""
        keys, start = self._keys, now - self.window
        while keys:
            oldest = next(iter(keys))
            if keys[oldest].used >= start:
                return
            del keys[oldest]


class Throttle:
    """Per-user and per-chat rate limits with a single polite notice when exceeded."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic):
        from limits import parse  # here, not at import: `limits` costs a command that never throttles ~25 ms

        user, chat = parse(limits.per_user), parse(limits.per_chat)
        self.user_limit, self.chat_limit = user, chat
        self._users = MovingWindow(user.amount, user.get_expiry())
        self._chats = MovingWindow(chat.amount, chat.get_expiry())
        self._clock = clock

    def check(self, event: Incoming) -> str:
        """"ok", "warn" (first time over a limit: say so once) or "drop"."""
        now = self._clock()
        self._users.expire(now)
        self._chats.expire(now)
        checks = [(self._users, f"user:{event.platform}:{event.user_id}")]
        if not event.is_private:
            checks.append((self._chats, f"chat:{event.platform}:{event.chat_id}"))
        for window, key in checks:
            allowed, state = window.hit(key, now)
            if not allowed:
                if state.warned:
                    return "drop"
                state.warned = True
                return "warn"
            state.warned = False
        return "ok"

    def tracked(self) -> int:
        """How many users and chats the throttle holds state for (bounded by those seen within a window)."""
        return len(self._users) + len(self._chats)
