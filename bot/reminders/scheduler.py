"""Deliver due reminders through the adapter that owns each chat: once, late if need be.

The delivery guarantee (claim, send, confirm):

1. **claim**: due reminders are marked `claimed` in one transaction;
2. **send**: each goes to the notifier of its platform;
3. **confirm**: a one-off becomes `sent`, a recurring one moves to its next time.

A claim left behind by a crash is released on start and the reminder is sent then.
So nothing is lost, and a reminder is sent twice only if the process dies in the
window between the platform accepting the message and the confirm being committed
(one SQLite commit, about a millisecond). The scheduler sleeps until the next due
time or until a new reminder wakes it; it does not poll.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from bot.database import Database
from bot.events import ChatRef, Reply
from bot.groups.quiet import quiet_until
from bot.groups.store import GroupStore
from bot.reminders.store import Reminder, ReminderStore
from bot.reminders.when import next_occurrence

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BACKOFF_SECONDS = (30, 120, 600, 1800, 3600)
LATE_AFTER = dt.timedelta(minutes=2)


@dataclass(frozen=True)
class Delivery:
    """What happened when a notifier tried to send one message."""

    status: str  # "ok" | "gone" | "retry" | "moved"
    reason: str = ""
    new_chat_id: str | None = None

    @classmethod
    def ok(cls) -> Delivery:
        return cls("ok")

    @classmethod
    def gone(cls, reason: str) -> Delivery:
        """The chat can never be reached (user blocked the bot, chat deleted)."""
        return cls("gone", reason)

    @classmethod
    def retry(cls, reason: str) -> Delivery:
        """A transient failure (network, server error); worth trying again later."""
        return cls("retry", reason)

    @classmethod
    def moved(cls, new_chat_id: str) -> Delivery:
        """The chat has a new id (Telegram group migrated to a supergroup)."""
        return cls("moved", "chat migrated", new_chat_id)


class Notifier(Protocol):
    """An adapter's way to post a message to one of its chats, outside any conversation."""

    async def deliver(self, target: ChatRef, reply: Reply) -> Delivery: ...


class Clock(Protocol):
    """Time for the scheduler: injected, so tests never sleep."""

    def now(self) -> dt.datetime: ...
    async def sleep(self, seconds: float | None, wake: asyncio.Event) -> None: ...


class RealClock:
    """The wall clock (UTC)."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)

    async def sleep(self, seconds: float | None, wake: asyncio.Event) -> None:
        try:
            await asyncio.wait_for(wake.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            pass


Render = Callable[[Reminder, dt.datetime | None], Reply]
"""Builds the message for a due reminder; the second argument is its original time when late."""


class Scheduler:
    """Wakes when the next reminder is due and hands it to the notifier of its platform."""

    def __init__(self, database: Database, notifiers: Mapping[str, Notifier], render: Render,
                 clock: Clock | None = None, batch: int = 500):
        self.store = ReminderStore(database)
        self.groups = GroupStore(database)
        self.notifiers = dict(notifiers)
        self.render = render
        self.clock = clock or RealClock()
        self.batch = batch
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        """Re-check the next due time now (a reminder was added, snoozed or cancelled)."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the current delivery and return from `run`."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Deliver reminders until `stop`; first releases claims a crash left behind."""
        released = self.store.release_claims()
        if released:
            log.warning("released %d reminder claim(s) left by an interrupted run; sending them now", released)
        while not self._stopping:
            self._wake.clear()
            await self.dispatch_due()
            if self._stopping:
                break
            next_due = self.store.next_due()
            timeout = None if next_due is None else max(0.0, next_due - self.clock.now().timestamp())
            await self.clock.sleep(timeout, self._wake)

    async def dispatch_due(self) -> int:
        """Send every reminder due now; return how many were sent."""
        sent = 0
        while not self._stopping:
            now = self.clock.now()
            claimed = self.store.claim_due(now.timestamp(), self.batch)
            if not claimed:
                break
            for index, reminder in enumerate(claimed):
                if self._stopping:  # shutting down: hand back what was claimed but not sent
                    self.store.release([r.id for r in claimed[index:]])
                    break
                sent += await self._deliver(reminder, now)
        return sent

    async def _deliver(self, reminder: Reminder, now: dt.datetime) -> bool:
        occurrence = dt.datetime.fromtimestamp(reminder.due_at, dt.timezone.utc)
        following = None
        if reminder.rule:
            latest, following = next_occurrence(reminder.rule, reminder.tz, now)
            occurrence = latest or occurrence  # missed occurrences collapse into the latest one
        late = occurrence if now - occurrence > LATE_AFTER else None
        if not reminder.dm:
            held = quiet_until(self.groups.chat_settings(reminder.platform, reminder.chat_id), now)
            if held is not None:  # the group asked for quiet: post when quiet hours end
                self.store.hold(reminder.id, held.timestamp())
                return False
        notifier = self.notifiers.get(reminder.platform)
        if notifier is None:
            self.store.retry_later(reminder.id, now.timestamp() + BACKOFF_SECONDS[-1],
                                   f"no {reminder.platform} adapter running")
            return False
        fallback = reminder.origin_chat_id if reminder.dm and reminder.origin_chat_id != reminder.owner_id else None
        target = ChatRef(reminder.platform, reminder.chat_id, dm=reminder.dm, fallback_chat_id=fallback)
        try:
            result = await notifier.deliver(target, self.render(reminder, late))
        except Exception as exc:  # an adapter bug must not stop other deliveries
            log.exception("notifier for %s raised", reminder.platform)
            result = Delivery.retry(f"{type(exc).__name__}")
        return self._apply(reminder, result, now, following)

    def _apply(self, reminder: Reminder, result: Delivery, now: dt.datetime, following: dt.datetime | None) -> bool:
        if result.status == "ok":
            self.store.confirm_sent(reminder.id, now.timestamp(), following.timestamp() if following else None)
            return True
        if result.status == "moved" and result.new_chat_id:
            self.store.move_chat(reminder.platform, reminder.chat_id, result.new_chat_id)
            self.store.retry_later(reminder.id, now.timestamp(), "chat migrated")
            return False
        if result.status == "gone" or reminder.attempts + 1 >= MAX_ATTEMPTS:
            reason = result.reason if result.status == "gone" else f"gave up after {MAX_ATTEMPTS} attempts: {result.reason}"
            log.info("reminder %d retired: %s", reminder.id, reason)
            self.store.retire(reminder.id, reason)
            return False
        delay = BACKOFF_SECONDS[min(reminder.attempts, len(BACKOFF_SECONDS) - 1)]
        self.store.retry_later(reminder.id, now.timestamp() + delay, result.reason)
        return False
