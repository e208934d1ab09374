"""Exactly one process delivers reminders per database: a second process waits, and takes over only when the first is gone.

Real processes on one SQLite file. The first claims a batch and sends it slowly (a slow
network); the second starts in the middle of that batch. Before the delivery lease, the
second process released the first one's live claims on start and sent them again.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

from bot.database import Database
from bot.events import Reply
from bot.reminders.scheduler import LEASE, Scheduler
from bot.reminders.store import CLAIMED, PENDING, SENT, ReminderStore
from tests.fakes import RecordingNotifier

ROOT = Path(__file__).resolve().parents[1]

DELIVERER = textwrap.dedent("""
    import asyncio, logging, os, signal, sys
    from bot.database import Database
    from bot.events import Reply
    from bot.reminders.scheduler import Delivery, Scheduler

    db, log, name, delay, kill_at = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    store = Database.open(db)
    count = 0

    class Notifier:
        async def deliver(self, target, reply):
            global count
            count += 1
            if count == kill_at:  # die before this send, once the test says so
                while not os.path.exists(log + ".kill"):
                    await asyncio.sleep(0.01)
                os.kill(os.getpid(), signal.SIGKILL)
            await asyncio.sleep(delay)  # a slow network: the rest of the batch stays claimed meanwhile
            with open(log, "a") as f:
                f.write(f"{name} {reply.text}\\n")
                f.flush()
                os.fsync(f.fileno())
            return Delivery.ok()

    scheduler = Scheduler(store, {"test": Notifier()}, lambda reminder, late: Reply(reminder.text),
                          lease_seconds=30, renew_seconds=0.1)

    async def main():
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, scheduler.stop)
        print("started", flush=True)
        await scheduler.run()

    asyncio.run(main())
    store.close()
""")


def add(db: Path, texts: list[str], due: float | None = None) -> None:
    store = Database.open(db)
    for text in texts:
        ReminderStore(store).add_reminder(platform="test", owner_id=text, origin_chat_id=text, chat_id=text, dm=True,
                                          text=text, tz="UTC", due_at=(due or time.time()) - 1)
    store.close()


def start(db: Path, log: Path, name: str, delay: float = 0.0, kill_at: int = 0) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", DELIVERER, str(db), str(log), name, str(delay), str(kill_at)],
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "started"
    return proc


def kill_left(*procs: subprocess.Popen[str] | None) -> None:
    """Kill whichever deliverer a failed test left running."""
    for proc in procs:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.communicate()


def lines(log: Path) -> list[tuple[str, str]]:
    if not log.exists():
        return []
    return [tuple(line.split(" ", 1)) for line in log.read_text().splitlines()]  # type: ignore[misc]


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return err


def test_a_second_process_waits_while_the_first_delivers_then_takes_over_when_it_stops(tmp_path: Path) -> None:
    db, log = tmp_path / "bot.db", tmp_path / "sent.log"
    first_batch = [f"task {i}" for i in range(12)]
    add(db, first_batch)
    first = start(db, log, "A", delay=0.1)
    second = None
    try:
        wait_for(lambda: len(lines(log)) >= 2)  # A is mid-batch: ten reminders claimed and not yet sent
        second = start(db, log, "B")
        time.sleep(0.5)  # B has tried to take the lease (and would have released A's claims before)
        wait_for(lambda: len(lines(log)) >= 12)
        time.sleep(0.3)
        assert [who for who, _ in lines(log)] == ["A"] * 12  # B delivered nothing while A ran
        first_log = stop(first)
        add(db, ["later 1", "later 2", "later 3"])  # added while only B runs (B learns of them by itself)
        wait_for(lambda: len(lines(log)) >= 15)
        time.sleep(0.3)
        second_log = stop(second)
    finally:
        kill_left(first, second)
    sent = lines(log)
    counts = Counter(text for _, text in sent)
    assert sorted(counts) == sorted(first_batch + ["later 1", "later 2", "later 3"])  # none lost
    assert max(counts.values()) == 1  # none twice
    assert {text for who, text in sent if who == "B"} == {"later 1", "later 2", "later 3"}
    assert second_log.count(f"process {first.pid} on {socket.gethostname()} is delivering reminders") == 1
    assert second_log.count("took over delivery") == 1 and "released" not in second_log  # A handed back cleanly
    assert "lease lost" not in first_log


def test_when_the_deliverer_is_killed_the_waiting_process_sends_its_claims_once(tmp_path: Path) -> None:
    db, log = tmp_path / "bot.db", tmp_path / "sent.log"
    tasks = [f"task {i}" for i in range(12)]
    add(db, tasks)
    first = start(db, log, "A", delay=0.1, kill_at=5)  # SIGKILL before its 5th send: 8 claims left behind
    second = None
    try:
        wait_for(lambda: len(lines(log)) >= 4)
        second = start(db, log, "B")
        time.sleep(0.5)  # B found A alive and waits
        (tmp_path / "sent.log.kill").touch()
        first.wait(timeout=30)
        assert first.returncode == -signal.SIGKILL
        wait_for(lambda: len(lines(log)) >= 12)
        time.sleep(0.3)
        second_log = stop(second)
    finally:
        kill_left(first, second)
    sent = lines(log)
    assert [who for who, _ in sent] == ["A"] * 4 + ["B"] * 8
    counts = Counter(text for _, text in sent)
    assert sorted(counts) == sorted(tasks) and max(counts.values()) == 1  # none lost, none twice
    assert "is delivering reminders" in second_log and "took over delivery" in second_log
    assert "released 8 reminder claim(s)" in second_log
    store = Database.open(db)
    assert store.db.execute("select count(*) from reminders where status != ?", [SENT]).fetchone()[0] == 0
    store.close()


async def test_a_lease_held_elsewhere_is_respected_until_it_expires(tmp_path: Path) -> None:
    """A holder on another host cannot be checked for life: its lease is waited out, then its claims are released."""
    db = tmp_path / "bot.db"
    add(db, ["stuck", "due"])
    store = Database.open(db)
    reminders = ReminderStore(store)
    reminders.claim_due(time.time(), 1, owner="elsewhere-owner")  # "stuck": claimed by the other machine
    expires = time.time() + 0.6
    store.set_meta(f"lease:{LEASE}", json.dumps({"owner": "elsewhere-owner", "pid": 1, "host": "another-host",
                                                 "started": "", "since": time.time(), "expires": expires}))
    notifier = RecordingNotifier()
    scheduler = Scheduler(store, {"test": notifier}, lambda reminder, late: Reply(reminder.text))
    assert await scheduler.dispatch_due() == 0 and not scheduler.delivering
    statuses = dict(store.db.execute("select text, status from reminders").fetchall())
    assert statuses == {"stuck": CLAIMED, "due": PENDING}  # the other process's claim is left alone
    time.sleep(max(0.0, expires - time.time()) + 0.05)
    assert await scheduler.dispatch_due() == 2 and scheduler.delivering
    assert sorted(r.text for _, r in notifier.sent) == ["due", "stuck"]
    store.close()
