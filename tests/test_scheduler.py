"""The reminder scheduler: wakes only when needed, delivers once, maps platform errors, survives kills."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.advisor import Advisor
from bot.database import Database
from bot.events import Incoming
from bot.knowledge import KnowledgeBase
from bot.reminders.scheduler import MAX_ATTEMPTS, Delivery, Scheduler
from bot.reminders.store import FAILED, SENT, ReminderStore
from tests.fakes import TEST_LIMITS, FakeClock, RecordingNotifier

START = dt.datetime(2025, 10, 1, 6, 0, tzinfo=dt.timezone.utc)



@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def bot(kb: KnowledgeBase, store: Database, clock: FakeClock, notifier: RecordingNotifier) -> tuple[Advisor, Scheduler]:
    advisor = Advisor(kb, store, clock, limits=TEST_LIMITS)
    scheduler = Scheduler(store, {"test": notifier}, advisor.reminders.render_delivery, clock)
    advisor.reminders.on_change(scheduler.wake)
    return advisor, scheduler


async def remind(advisor: Advisor, text: str, user: str = "u1", chat: str | None = None,
                 private: bool = True, admin: bool = False) -> str:
    event = Incoming("test", chat or user, user, "Amina", private, f"/remind {text}", None, True, admin)
    return (await advisor.handle(event))[0].text


async def test_the_scheduler_sleeps_until_the_next_due_time_and_wakes_for_new_ones(
        bot: tuple[Advisor, Scheduler], clock: FakeClock, notifier: RecordingNotifier) -> None:
    advisor, scheduler = bot
    runner = asyncio.create_task(scheduler.run())
    await asyncio.sleep(0)
    assert clock.sleeps == [None]  # nothing stored: waits for a wake-up, no polling
    await remind(advisor, "in 2 hours call the coordinator")
    for _ in range(5):
        await asyncio.sleep(0)
    assert clock.sleeps[1] == 7200.0  # woke, then slept exactly until the reminder is due
    assert [r.text for _, r in notifier.sent] == ["⏰ **Reminder**: call the coordinator"]
    scheduler.stop()
    await runner


async def test_a_blocked_user_retires_the_reminder_without_retrying(
        bot: tuple[Advisor, Scheduler], clock: FakeClock, notifier: RecordingNotifier, store: Database) -> None:
    advisor, scheduler = bot
    await remind(advisor, "in 1 minute hello")
    notifier.outcomes = [Delivery.gone("Forbidden: bot was blocked by the user")]
    clock.advance(dt.timedelta(minutes=1))
    await scheduler.dispatch_due()
    clock.advance(dt.timedelta(days=1))
    assert await scheduler.dispatch_due() == 0
    row = store.db.execute("select status, last_error from reminders").fetchone()
    assert row == (FAILED, "Forbidden: bot was blocked by the user")


async def test_transient_errors_back_off_and_give_up_after_a_bounded_number_of_attempts(
        bot: tuple[Advisor, Scheduler], clock: FakeClock, notifier: RecordingNotifier, store: Database) -> None:
    advisor, scheduler = bot
    await remind(advisor, "in 1 minute hello")
    notifier.outcomes = [Delivery.retry("timed out")] * MAX_ATTEMPTS
    clock.advance(dt.timedelta(minutes=1))
    due_times = []
    for _ in range(MAX_ATTEMPTS):
        await scheduler.dispatch_due()
        next_due = ReminderStore(store).next_due()
        due_times.append(next_due)
        if next_due:
            clock.current = dt.datetime.fromtimestamp(next_due, dt.timezone.utc)
    gaps = [b - a for a, b in zip(due_times, due_times[1:]) if a and b]
    assert gaps == sorted(gaps) and len(gaps) >= 2  # growing back-off
    assert store.db.execute("select status from reminders").fetchone()[0] == FAILED
    assert notifier.sent == []


async def test_a_transient_error_then_success_delivers_once(
        bot: tuple[Advisor, Scheduler], clock: FakeClock, notifier: RecordingNotifier) -> None:
    advisor, scheduler = bot
    await remind(advisor, "in 1 minute hello")
    notifier.outcomes = [Delivery.retry("429")]
    clock.advance(dt.timedelta(minutes=1))
    await scheduler.dispatch_due()
    clock.advance(dt.timedelta(minutes=1))
    await scheduler.dispatch_due()
    clock.advance(dt.timedelta(days=1))
    await scheduler.dispatch_due()
    assert len(notifier.sent) == 1


async def test_a_migrated_group_moves_its_reminders_to_the_new_chat(
        bot: tuple[Advisor, Scheduler], clock: FakeClock, notifier: RecordingNotifier) -> None:
    advisor, scheduler = bot
    await remind(advisor, "in 1 minute group call", chat="-100", private=False, admin=True)
    await remind(advisor, "in 2 days second call", chat="-100", private=False, admin=True)
    notifier.outcomes = [Delivery.moved("-200999")]
    clock.advance(dt.timedelta(minutes=1))
    await scheduler.dispatch_due()
    clock.advance(dt.timedelta(days=2))
    await scheduler.dispatch_due()
    assert [(t.chat_id, t.dm) for t, _ in notifier.sent] == [("-200999", False), ("-200999", False)]


async def test_a_notifier_that_raises_does_not_stop_other_deliveries(
        bot: tuple[Advisor, Scheduler], clock: FakeClock, notifier: RecordingNotifier) -> None:
    advisor, scheduler = bot
    await remind(advisor, "in 1 minute first", user="a")
    await remind(advisor, "in 1 minute other task", user="b")
    calls = []
    original = notifier.deliver

    async def flaky(target, reply):
        calls.append(target.chat_id)
        if len(calls) == 1:
            raise RuntimeError("adapter bug")
        return await original(target, reply)

    notifier.deliver = flaky  # type: ignore[method-assign]
    clock.advance(dt.timedelta(minutes=1))
    await scheduler.dispatch_due()
    assert len(notifier.sent) == 1


async def test_limits_per_user_and_text_length(bot: tuple[Advisor, Scheduler]) -> None:
    advisor, _ = bot
    for i in range(50):
        assert "Reminder set" in await remind(advisor, f"in {i + 1} hours task {i}")
    assert "50 active reminders" in await remind(advisor, "in 60 hours one too many")
    assert "under 500 characters" in await remind(advisor, "tomorrow 9am " + "x" * 600, user="u2")


async def test_only_the_owner_can_snooze_or_cancel(bot: tuple[Advisor, Scheduler], store: Database) -> None:
    advisor, _ = bot
    await remind(advisor, "tomorrow 9am mine", user="owner")
    reminder_id = store.db.execute("select id from reminders").fetchone()[0]
    other = Incoming("test", "other", "other", "X", True, "", f"rem:cancel:{reminder_id}", True)
    assert "Only the person who set this reminder" in (await advisor.handle(other))[0].text
    owner = Incoming("test", "owner", "owner", "X", True, "", f"rem:cancel:{reminder_id}", True)
    assert "Cancelled" in (await advisor.handle(owner))[0].text


CHILD = textwrap.dedent("""
    import asyncio, os, signal, sys
    from bot.knowledge import load_knowledge
    from bot.config import bundled_knowledge_dir
    from bot.advisor import Advisor
    from bot.reminders.scheduler import Delivery, Scheduler
    from bot.database import Database

    db, log, mode, kill_at = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    store = Database.open(db)
    advisor = Advisor(load_knowledge(bundled_knowledge_dir()), store)

    class Notifier:
        count = 0
        async def deliver(self, target, reply):
            Notifier.count += 1
            if mode == "before-send" and Notifier.count == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            with open(log, "a") as f:
                f.write(reply.text.split(": ", 1)[1].splitlines()[0] + "\\n")
                f.flush(); os.fsync(f.fileno())
            if mode == "after-send" and Notifier.count == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return Delivery.ok()

    scheduler = Scheduler(store, {"test": Notifier()}, advisor.reminders.render_delivery)
    async def main():
        task = asyncio.create_task(scheduler.run())
        await asyncio.sleep(1.5)
        scheduler.stop()
        await task
    asyncio.run(main())
""")


def seed(db: Path, count: int) -> None:
    store = Database.open(db)
    now = dt.datetime.now(dt.timezone.utc).timestamp()
    for i in range(count):
        ReminderStore(store).add_reminder(platform="test", owner_id=f"u{i}", origin_chat_id=f"u{i}", chat_id=f"u{i}",
                           dm=True, text=f"task {i}", tz="UTC", due_at=now - 30 + i * 0.001)
    store.close()


def run_child(db: Path, log: Path, mode: str, kill_at: int) -> int:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run([sys.executable, "-c", CHILD, str(db), str(log), mode, str(kill_at)],
                          env=env, timeout=60).returncode


@pytest.mark.parametrize("mode, allowed_doubles", [("before-send", 0), ("after-send", 1)])
def test_a_process_killed_mid_dispatch_loses_none_and_doubles_none_beyond_the_window(
        tmp_path: Path, mode: str, allowed_doubles: int) -> None:
    db, log = tmp_path / "bot.db", tmp_path / "sent.log"
    seed(db, 20)
    assert run_child(db, log, mode, kill_at=8) == -9  # killed by SIGKILL mid-dispatch
    first_run = log.read_text().splitlines()
    assert len(first_run) == (7 if mode == "before-send" else 8)
    assert run_child(db, log, "none", kill_at=0) == 0  # restart: released claims are sent
    sent = log.read_text().splitlines()
    assert sorted(set(sent)) == sorted(f"task {i}" for i in range(20))  # none lost
    doubles = len(sent) - len(set(sent))
    assert doubles == allowed_doubles  # only the one in the documented send->confirm window
    store = Database.open(db)
    assert store.db.execute("select count(*) from reminders where status != ?", [SENT]).fetchone()[0] == 0
