"""The flood throttle: `limits`' moving-window decisions, no threads, memory bounded by a window's users."""

from __future__ import annotations

import random
import threading
from types import SimpleNamespace

import pytest
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from bot.events import Incoming
from bot.groups.throttle import Limits, Throttle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def message(user: str, chat: str | None = None) -> Incoming:
    """A message from `user`, in a group `chat` or (None) privately."""
    return Incoming("telegram", chat or user, user, "name", chat is None, "hello")


class LimitsThrottle:
    """The throttle as it was, on `limits`' MemoryStorage: the reference for the decisions."""

    def __init__(self, limits: Limits):
        self.user_limit, self.chat_limit = parse(limits.per_user), parse(limits.per_chat)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.warned: set[str] = set()

    def check(self, event: Incoming) -> str:
        checks = [(self.user_limit, f"user:{event.platform}:{event.user_id}")]
        if not event.is_private:
            checks.append((self.chat_limit, f"chat:{event.platform}:{event.chat_id}"))
        for limit, key in checks:
            if not self.limiter.hit(limit, key):
                if key in self.warned:
                    return "drop"
                self.warned.add(key)
                return "warn"
            self.warned.discard(key)
        return "ok"


def test_one_notice_then_silence_until_the_window_frees() -> None:
    clock = Clock()
    throttle = Throttle(Limits(per_user="3/minute", per_chat="100/minute"), clock)
    verdicts = []
    for _ in range(6):
        verdicts.append(throttle.check(message("u")))
        clock.now += 1
    assert verdicts == ["ok", "ok", "ok", "warn", "drop", "drop"]
    clock.now += 54  # the first hit, at 1000, is now exactly one minute old: it still counts
    assert throttle.check(message("u")) == "drop"
    clock.now += 0.5
    assert throttle.check(message("u")) == "ok"  # it left the window; the notice is reset
    assert [throttle.check(message("u")) for _ in range(2)] == ["warn", "drop"]


def test_a_group_is_limited_as_a_whole_and_each_member_on_their_own() -> None:
    clock = Clock()
    throttle = Throttle(Limits(per_user="2/minute", per_chat="3/minute"), clock)
    assert [throttle.check(message(u, "g")) for u in "abcd"] == ["ok", "ok", "ok", "warn"]
    assert throttle.check(message("a")) == "ok"  # privately, only a's own limit applies
    assert throttle.check(message("a")) == "warn"


@pytest.mark.parametrize("per_user, per_chat", [("3/minute", "5/minute"), ("2/second", "4/10 seconds"),
                                                ("20/minute", "30/minute")])
def test_the_same_decisions_as_limits_moving_window(monkeypatch: pytest.MonkeyPatch,
                                                    per_user: str, per_chat: str) -> None:
    clock = Clock()

    class FakeTime:  # limits reads time.time(); give both throttles the same clock
        @staticmethod
        def time() -> float:
            return clock.now

    class NoExpiry:  # limits prunes old events on a timer thread, racing the fake clock; counting needs no pruning
        def __init__(self, interval: float, function) -> None:  # noqa: ANN001
            self.function = function

        def start(self) -> None:
            pass

        def is_alive(self) -> bool:
            return False

        def cancel(self) -> None:
            pass

    monkeypatch.setattr("limits.storage.memory.time", FakeTime)
    monkeypatch.setattr("limits.storage.memory.threading", SimpleNamespace(Timer=NoExpiry, RLock=threading.RLock))
    limits = Limits(per_user=per_user, per_chat=per_chat)
    ours, reference = Throttle(limits, clock), LimitsThrottle(limits)
    rng = random.Random(18)
    for _ in range(4000):
        clock.now += rng.choice([0, 0, 0.25, 0.5, 1, 2, 5])  # repeats and exact window edges
        event = message(rng.choice("abcdef"), rng.choice([None, "g1", "g2"]))
        assert ours.check(event) == reference.check(event), clock.now


def test_no_thread_is_started(monkeypatch: pytest.MonkeyPatch) -> None:
    started = []
    original = threading.Thread.start
    monkeypatch.setattr(threading.Thread, "start", lambda self: (started.append(self), original(self))[1])
    throttle = Throttle(Limits())
    for i in range(10_000):
        throttle.check(message(f"u{i % 500}", "g" if i % 3 else None))
    assert started == []


def test_memory_stays_bounded_with_100k_distinct_users() -> None:
    clock = Clock()
    throttle = Throttle(Limits(per_user="20/minute", per_chat="30/minute"), clock)
    most = 0
    for i in range(100_000):
        clock.now += 0.01  # 100 messages a second, each from someone new: 6,000 users a minute
        throttle.check(message(f"user{i}", f"group{i % 50}" if i % 2 else None))
        most = max(most, throttle.tracked())
    assert most <= 6_001 + 50  # one window's users, plus the groups
    clock.now += 61
    throttle.check(message("late"))
    assert throttle.tracked() == 1
