"""Deliver due reminders through the adapter that owns each chat: once, late if need be.

The delivery guarantee (claim, send, confirm):

1. **claim**: due reminders are marked `claimed` (with the claimer's id) in one
   transaction, which also checks that this process holds the delivery lease;
2. **send**: each goes to the notifier of its platform;
3. **confirm**: a one-off becomes `sent`, a recurring one moves to its next time.

**One deliverer per database.** A lease in the meta table (owner id, process, host,
expiry) names the one process that delivers; it renews it every `renew_seconds`. A
second process started on the same database respects it: it answers messages but does
not deliver, says so once in the log, and takes over when the lease is handed back (a
clean stop), expires (`lease_seconds` without renewal) or its holder's process is gone
(checked on the same host). Taking over releases the claims of earlier owners, and
only theirs: a claim left by a crash is sent then; a live process's claims are never
touched. So nothing is lost, and a reminder is sent twice only if a process dies (or
stalls past the lease) between the platform accepting the message and the confirm
being committed.

**Store faults** (a write lock held past the busy timeout, a full disk) never stop the
loop: it logs once (`Database.status`), backs off (1 s up to a minute) and retries. An
outcome that could not be written is kept in memory and written first on recovery;
claims interrupted by the fault go back to pending. The scheduler sleeps until the next
due time or until a new reminder wakes it; it does not poll.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.database import Database, is_store_fault
from bot.events import ChatRef, Reply
from bot.groups.quiet import quiet_until
from bot.groups.store import GroupStore
from bot.reminders.store import Reminder, ReminderStore
from bot.reminders.when import next_occurrence

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BACKOFF_SECONDS = (30, 120, 600, 1800, 3600)
LATE_AFTER = dt.timedelta(minutes=2)
LEASE = "reminder-delivery"
LEASE_SECONDS = 60.0
"""A deliverer that has not renewed its lease for this long is taken to be gone."""
RENEW_SECONDS = 15.0
"""How often the deliverer renews its lease, and a waiting process looks whether it may take over."""
STORE_RETRY_SECONDS = (1.0, 2.0, 5.0, 15.0, 30.0, 60.0)
"""Back-off after a store fault (locked, full), growing to the last value."""


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
                 clock: Clock | None = None, batch: int = 500, lease_seconds: float = LEASE_SECONDS,
                 renew_seconds: float = RENEW_SECONDS, store_retry: Sequence[float] = STORE_RETRY_SECONDS):
        self.database = database
        self.store = ReminderStore(database)
        self.groups = GroupStore(database)
        self.notifiers = dict(notifiers)
        self.render = render
        self.clock = clock or RealClock()
        self.batch = batch
        self.owner = secrets.token_hex(8)
        """This scheduler's id in the lease and in the claims it makes."""
        self.lease_seconds = lease_seconds
        self.renew_seconds = renew_seconds
        self.store_retry = tuple(store_retry)
        self.delivering = False
        """Whether this scheduler holds the delivery lease (False: another process delivers)."""
        self._wake = asyncio.Event()
        self._stopping = False
        self._store_failures = 0
        self._waiting_on: str | None = None  # the other deliverer, once logged
        self._sleeping_until: float | None = None  # when the loop wakes next (epoch seconds; None: when woken)
        self._unwritten: list[tuple[Reminder, Delivery, dt.datetime, dt.datetime | None]] = []

    def wake(self) -> None:
        """Re-check the next due time now (a reminder was added, snoozed or cancelled)."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the current delivery and return from `run`."""
        self._stopping = True
        self._wake.set()

    # the lease

    def _hold_lease(self) -> bool:
        """Take or renew the delivery lease; on taking it over, release the claims of earlier owners."""
        held, holder = self.database.take_lease(LEASE, self.owner, self.lease_seconds)
        if not held:
            if self.delivering:
                log.warning("reminder delivery lease lost to %s (this process did not renew it in time); "
                            "this process stops delivering reminders", holder.describe())
            elif self._waiting_on != holder.owner:
                log.warning("reminders: %s is delivering reminders for this database; this process answers "
                            "messages but does not deliver reminders, and takes over when that process stops",
                            holder.describe())
            self._waiting_on = holder.owner
            self.delivering = False
            return False
        if not self.delivering:
            self.delivering = True
            released = self.store.release_claims(keep_owner=self.owner)
            if self._waiting_on is not None:
                log.warning("reminders: took over delivery (the previous deliverer stopped or is gone)")
            if released:
                log.warning("released %d reminder claim(s) left by an interrupted run; sending them now", released)
            self._waiting_on = None
        return True

    async def _keep_lease(self) -> None:
        """Renew the lease while delivering; while waiting, look whether it is free to take."""
        while not self._stopping:
            await asyncio.sleep(self.renew_seconds)
            was = self.delivering
            try:
                now_holding = self._hold_lease()
            except Exception as exc:  # noqa: BLE001 - renewing must go on
                self._note_failure(exc, "renewing the reminder lease")
                continue
            if now_holding != was:
                self._wake.set()  # took over (or lost it): the loop re-checks what to do
            elif now_holding and self._due_sooner():
                self._wake.set()  # another process (a second adapter process) added a reminder due sooner

    def _due_sooner(self) -> bool:
        try:
            next_due = self.store.next_due()
        except Exception as exc:  # noqa: BLE001
            self._note_failure(exc, "looking for the next reminder")
            return False
        return next_due is not None and (self._sleeping_until is None or next_due < self._sleeping_until - 0.5)

    # the loop

    async def run(self) -> None:
        """Deliver reminders until `stop`; survives store faults; waits while another process delivers."""
        renewer = asyncio.create_task(self._keep_lease(), name="reminder-lease")
        try:
            while not self._stopping:
                self._wake.clear()
                try:
                    await self.dispatch_due()
                    if self._stopping:
                        break
                    timeout = None
                    self._sleeping_until = None
                    if self.delivering:
                        self._sleeping_until = self.store.next_due()
                        if self._sleeping_until is not None:
                            timeout = max(0.0, self._sleeping_until - self.clock.now().timestamp())
                    self._store_failures = 0
                except Exception as exc:  # noqa: BLE001 - the loop must survive
                    self._note_failure(exc, "delivering reminders")
                    timeout = self.store_retry[min(self._store_failures, len(self.store_retry)) - 1]
                    self._sleeping_until = self.clock.now().timestamp() + timeout
                await self.clock.sleep(timeout, self._wake)
        finally:
            renewer.cancel()
            self._finish()

    def _note_failure(self, exc: BaseException, doing: str) -> None:
        self._store_failures += 1
        if is_store_fault(exc):
            self.database.status.failed(exc, doing)
        elif self._store_failures == 1 or self._store_failures % 100 == 0:
            log.exception("reminder scheduler failed while %s; retrying", doing)

    def _finish(self) -> None:
        """On stop: write what is unwritten, hand back unsent claims and the lease (best we can)."""
        try:
            self._recover()
            if self.delivering:
                self.database.release_lease(LEASE, self.owner)
                self.delivering = False
        except Exception as exc:  # noqa: BLE001 - stopping anyway; the next deliverer releases our claims
            self._note_failure(exc, "stopping the reminder scheduler")

    def _recover(self) -> None:
        """After a store fault: write outcomes kept in memory, then give back claims that were never sent."""
        while self._unwritten:
            reminder, result, now, following = self._unwritten[0]
            self._apply(reminder, result, now, following)
            self._unwritten.pop(0)
        if self._store_failures:
            self.store.release_own(self.owner)

    async def dispatch_due(self) -> int:
        """Send every reminder due now (if this process holds the delivery lease); return how many were sent."""
        self._recover()
        sent = 0
        while not self._stopping:
            now = self.clock.now()
            try:
                with self.database.write():  # the claim and the lease check are one transaction
                    if not self._hold_lease():
                        break
                    claimed = self.store.claim_due(now.timestamp(), self.batch, self.owner)
            except BaseException:
                self.delivering = False  # the lease (and any takeover) was rolled back with the claim
                raise
            if not claimed:
                break
            for index, reminder in enumerate(claimed):
                if self._stopping:  # shutting down: hand back what was claimed but not sent
                    self.store.release([r.id for r in claimed[index:]], self.owner)
                    break
                sent += await self._deliver(reminder, now)
        return sent

    async def _deliver(self, reminder: Reminder, now: dt.datetime) -> bool:
        try:
            occurrence = dt.datetime.fromtimestamp(reminder.due_at, dt.timezone.utc)
            following = None
            if reminder.rule:
                latest, following = next_occurrence(reminder.rule, reminder.tz, now)
                occurrence = latest or occurrence  # missed occurrences collapse into the latest one
            late = occurrence if now - occurrence > LATE_AFTER else None
            message = self.render(reminder, late)
        except Exception as exc:  # noqa: BLE001 - one broken reminder must not stop the others
            if is_store_fault(exc):
                raise
            log.exception("reminder %d could not be prepared; retiring it", reminder.id)
            self.store.retire(reminder.id, f"could not be prepared: {type(exc).__name__}")
            return False
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
            result = await notifier.deliver(target, message)
        except Exception as exc:  # an adapter bug must not stop other deliveries
            log.exception("notifier for %s raised", reminder.platform)
            result = Delivery.retry(f"{type(exc).__name__}")
        try:
            return self._apply(reminder, result, now, following)
        except Exception:
            # sent (or failed) but not written: keep the outcome, write it first when the store is back
            self._unwritten.append((reminder, result, now, following))
            raise

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
