"""The store failing under the bot: a write lock held by another process, a read-only or full database, a bad file.

Every fault is real: another process holding SQLite's write lock, SQLite refusing
writes (`query_only`), SQLite running out of pages (`max_page_count`: SQLITE_FULL),
a file that is not a database. The bot must survive each: log once, apologise for
what it cannot save, keep answering, keep its scheduler alive, and recover.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bot.advisor import STORE_APOLOGY, Advisor
from bot.database import Database
from bot.events import Incoming, Reply
from bot.knowledge import KnowledgeBase
from bot.reminders.scheduler import Scheduler
from bot.reminders.store import SENT, ReminderStore
from tests.fakes import TEST_LIMITS, RecordingNotifier

ROOT = Path(__file__).resolve().parents[1]

LOCKER = textwrap.dedent("""
    import sqlite3, sys
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")  # SQLite's write lock, held until the test says so
    conn.execute("insert into meta (key, value) values ('locker', 'held') "
                 "on conflict(key) do update set value = excluded.value")
    print("locked", flush=True)
    sys.stdin.readline()
    conn.execute("COMMIT")
    print("released", flush=True)
""")


def private(text: str = "", action: str | None = None, user: str = "u1") -> Incoming:
    return Incoming("test", user, user, "Amina", True, text, action, True)


def seed(path: Path, count: int) -> None:
    store = Database.open(path)
    now = time.time()
    for i in range(count):
        ReminderStore(store).add_reminder(platform="test", owner_id=f"u{i}", origin_chat_id=f"u{i}", chat_id=f"u{i}",
                                          dm=True, text=f"task {i}", tz="UTC", due_at=now - 10 + i * 0.001)
    store.close()


async def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def delivered(notifier: RecordingNotifier) -> list[str]:
    return sorted(reply.text.split(": ", 1)[1] for _, reply in notifier.sent)


async def test_a_write_lock_held_by_another_process_is_survived_and_delivery_resumes(
        kb: KnowledgeBase, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "bot.db"
    seed(path, 5)
    store = Database.open(path, busy_timeout=0.2)  # the lock is held far longer than the bot waits for it
    advisor = Advisor(kb, store, limits=TEST_LIMITS)
    notifier = RecordingNotifier()
    scheduler = Scheduler(store, {"test": notifier}, advisor.reminders.render_delivery, store_retry=(0.05, 0.1, 0.2))
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout is not None and locker.stdin is not None
        assert locker.stdout.readline().strip() == "locked"
        with caplog.at_level(logging.WARNING):
            task = asyncio.create_task(scheduler.run())
            await asyncio.sleep(1.0)
            assert notifier.sent == [] and not task.done()  # could not claim, did not die
            assert await advisor.handle(private("/timezone Karachi")) == [Reply(STORE_APOLOGY)]  # a write: sorry
            answer = await advisor.handle(private("how much does an observership cost"))
            assert "Observership fees" in answer[0].text  # an answer needs no write: still answered
            assert await advisor.handle(private(action="fb:observership-cost:tok:1")) == [
                Reply(STORE_APOLOGY, notice=True)]
            locker.stdin.write("\n")
            locker.stdin.flush()
            assert locker.stdout.readline().strip() == "released"
            await wait_until(lambda: len(notifier.sent) >= 5)
            await asyncio.sleep(0.2)
            assert not task.done()
            scheduler.stop()
            await task
    finally:
        locker.kill()
        locker.wait()
    assert delivered(notifier) == [f"task {i}" for i in range(5)]  # none lost, none twice
    assert caplog.text.count("store busy") == 1  # one line for the whole spell, not one per attempt
    assert caplog.text.count("store recovered") == 1
    assert "Traceback" not in caplog.text and "handler failed" not in caplog.text
    assert "Time zone set" in (await advisor.handle(private("/timezone Karachi")))[0].text
    assert store.db.execute("select count(*) from reminders where status = ?", [SENT]).fetchone()[0] == 5
    store.close()


async def test_a_read_only_database_is_one_clear_error_the_bot_answers_and_recovers(
        kb: KnowledgeBase, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "bot.db"
    seed(path, 3)
    store = Database.open(path)
    advisor = Advisor(kb, store, limits=TEST_LIMITS)
    notifier = RecordingNotifier()
    scheduler = Scheduler(store, {"test": notifier}, advisor.reminders.render_delivery, store_retry=(0.05, 0.1))
    store.db.execute("PRAGMA query_only = 1")  # SQLite refuses every write: SQLITE_READONLY
    with caplog.at_level(logging.WARNING):
        task = asyncio.create_task(scheduler.run())
        await asyncio.sleep(0.5)
        assert notifier.sent == [] and not task.done()
        for _ in range(20):
            assert await advisor.handle(private("/remind tomorrow 9am call the embassy")) == [Reply(STORE_APOLOGY)]
            assert "pass/fail" in (await advisor.handle(private("is step 1 pass fail")))[0].text
        assert store.probe() is not None and "read-only" in store.probe()
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and "read-only" in errors[0].getMessage()  # one line, what it means, what to do
        assert "img-advisor health" in errors[0].getMessage()
        store.db.execute("PRAGMA query_only = 0")  # fixed
        await wait_until(lambda: len(notifier.sent) >= 3)
        scheduler.stop()
        await task
    assert delivered(notifier) == ["task 0", "task 1", "task 2"]
    assert "store recovered" in caplog.text and "Traceback" not in caplog.text
    assert store.probe() is None
    store.close()


def fill(store: Database) -> None:
    """Use every page SQLite may have (max_page_count), so a write that needs room fails: SQLITE_FULL.

    The reminders table itself is filled (with cancelled rows of another owner), so a new
    reminder finds no room in its pages either.
    """
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages + 4}")
    for size in (2000, 400, 80, 16, 1):
        while True:
            try:
                with store.write():
                    store.db.execute("insert into reminders (platform, owner_id, origin_chat_id, chat_id, text, tz, "
                                     "due_at, status) values ('filler', 'f', 'f', 'f', ?, 'UTC', 0, 'cancelled')",
                                     ["x" * size])
            except Exception as exc:  # noqa: BLE001
                assert "full" in str(exc)
                break


async def test_a_full_disk_rolls_back_cleanly_and_the_bot_apologises_instead_of_crashing(
        kb: KnowledgeBase, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = Database.open(tmp_path / "bot.db")
    advisor = Advisor(kb, store, limits=TEST_LIMITS)
    fill(store)
    with caplog.at_level(logging.WARNING):
        replies = await advisor.handle(private("/remind tomorrow 9am " + "book the OET exam " * 27))
        assert replies == [Reply(STORE_APOLOGY)]
        assert "ECFMG certification" in (await advisor.handle(private("what is ecfmg certification")))[0].text
    assert not store.db.conn.in_transaction  # a failed commit never leaves a transaction open to swallow writes
    assert "the disk is full" in caplog.text and "Traceback" not in caplog.text
    store.db.execute("PRAGMA max_page_count = 1000000")  # space freed
    replies = await advisor.handle(private("/remind tomorrow 9am book the OET exam"))
    assert "Reminder set" in replies[0].text
    other = Database.open(tmp_path / "bot.db")  # committed: another connection sees it
    assert other.db.execute("select count(*) from reminders where platform = 'test'").fetchone()[0] == 1
    other.close()
    store.close()


def cli(*args: str, db: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "adapters.cli", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "IMG_ADVISOR_DB": str(db), **env})


def test_a_damaged_database_is_one_clear_line_at_start_and_in_health(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    db.write_bytes(b"this is not an SQLite database, it was overwritten " * 200)
    for args in (["run"], ["stats"]):
        done = cli(*args, db=db, TELEGRAM_BOT_TOKEN="123456:TEST-TOKEN", DISCORD_BOT_TOKEN="")
        assert done.returncode == 78, done.stderr  # the systemd unit does not restart into the same error
        assert done.stderr.strip().count("\n") == 0 and "not a database" in done.stderr
        assert "Traceback" not in done.stderr and "TEST-TOKEN" not in done.stderr
    done = cli("health", db=db)
    report = json.loads(done.stdout)
    assert done.returncode == 1 and report["status"] == "unhealthy"
    assert report["database"].startswith("error: the file is not a database")


def test_health_shows_which_process_delivers_reminders(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    store = Database.open(db)
    store.take_lease("reminder-delivery", "someone", 60)
    done = cli("health", db=db)
    store.close()
    report = json.loads(done.stdout)
    assert done.returncode == 0, done.stdout
    assert report["reminders"].startswith(f"delivered by process {os.getpid()}")


def test_the_store_status_logs_once_per_spell(caplog: pytest.LogCaptureFixture) -> None:
    import sqlite3

    from bot.database import StoreStatus

    status = StoreStatus(repeat_every=3600)
    locked = sqlite3.OperationalError("database is locked")
    with caplog.at_level(logging.WARNING):
        for _ in range(500):
            status.failed(locked, "testing")
        status.succeeded()
        status.succeeded()
    assert caplog.text.count("store busy") == 1 and caplog.text.count("store recovered after 500") == 1


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes read-only files anyway")
def test_a_read_only_database_at_start_is_one_clear_line_and_health_reports_it(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    db = folder / "bot.db"
    Database.open(db).close()
    db.chmod(0o444)
    folder.chmod(0o555)
    try:
        done = cli("run", db=db, TELEGRAM_BOT_TOKEN="123456:TEST-TOKEN", DISCORD_BOT_TOKEN="")
        assert done.returncode == 78 and "read-only" in done.stderr and "Traceback" not in done.stderr
        report = json.loads(cli("health", db=db).stdout)
        assert report["status"] == "unhealthy" and "read-only" in report["database"]
    finally:
        folder.chmod(0o755)
        db.chmod(0o644)
