"""Several processes writing one SQLite file at once (adapters and the scheduler): no lost update, no "locked"."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from bot.database import Database
from bot.reminders.store import SENT

WRITER = textwrap.dedent("""
    import sys, time
    from bot.answers.store import AnswerStore
    from bot.database import Database
    from bot.groups.store import GroupStore
    from bot.reminders.store import ReminderStore
    from bot.usage.store import UsageStore
    db, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = Database.open(db)
    reminders, answers, groups, usage = ReminderStore(store), AnswerStore(store), GroupStore(store), UsageStore(store)
    for i in range(count):
        reminders.add_reminder(platform=name, owner_id=f"{name}{i}", origin_chat_id="c", chat_id=f"{name}{i}", dm=True,
                               text=f"{name} {i}", tz="UTC", due_at=time.time() - 1)
        reminders.set_timezone(name, f"{name}{i % 7}", "Asia/Karachi")
        answers.vote(name, f"{name}{i}", "observership-cost", i % 2 == 0, time.time())
        answers.record_miss(name, f"question {i}", "none", None, None, time.time())
        groups.update_chat_settings(name, "group", auto_answer=i % 2 == 0)
        usage.count("all", "questions answered", time.time())
    store.close()
""")

DISPATCHER = textwrap.dedent("""
    import sys, time
    from bot.database import Database
    from bot.reminders.store import ReminderStore
    db, expected = sys.argv[1], int(sys.argv[2])
    store = ReminderStore(Database.open(db))
    sent, deadline = 0, time.time() + 60
    while sent < expected and time.time() < deadline:
        claimed = store.claim_due(time.time(), 50)
        for reminder in claimed:
            store.confirm_sent(reminder.id, time.time(), None)
        sent += len(claimed)
        if not claimed:
            time.sleep(0.005)
    print(sent)
""")


def test_concurrent_writers_lose_nothing_and_never_see_a_locked_database(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    Database.open(db).close()  # migrate once, as the process would on start
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    writers, per_writer = ("telegram", "discord", "console"), 150
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(db), name, str(per_writer)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for name in writers]
    dispatcher = subprocess.Popen([sys.executable, "-c", DISPATCHER, str(db), str(len(writers) * per_writer)],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for proc in [*procs, dispatcher]:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "locked" not in err
    assert int(out.strip()) == len(writers) * per_writer
    store = Database.open(db)
    q = lambda sql: store.db.execute(sql).fetchone()[0]  # noqa: E731
    assert q("select count(*) from reminders") == len(writers) * per_writer
    assert q(f"select count(*) from reminders where status = '{SENT}'") == len(writers) * per_writer
    assert q("select count(*) from misses") == len(writers) * per_writer
    assert q("select sum(count) from counters") == len(writers) * per_writer
    assert q("select count(*) from feedback") == len(writers) * per_writer
    assert q("select count(*) from user_prefs") == len(writers) * 7
