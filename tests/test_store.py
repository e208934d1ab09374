"""The SQLite store: migrations, schema version, WAL, per-chat settings."""

from __future__ import annotations

from pathlib import Path

from bot.database import Database, schema_version
from bot.groups.store import GroupStore
from bot.quizzes.store import QuizStore


def test_a_new_database_is_migrated_to_the_current_schema(tmp_path: Path) -> None:
    store = Database.open(tmp_path / "sub" / "bot.db")
    assert store.schema_version == schema_version()
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_reopening_keeps_data_and_does_not_rerun_migrations(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    store = Database.open(path)
    GroupStore(store).set_auto_answer("telegram", "-100", True)
    store.close()
    again = Database.open(path)
    assert GroupStore(again).auto_answer("telegram", "-100") is True
    applied = again.db.execute("select count(*) from _sqlite_migrations").fetchone()[0]
    assert applied == schema_version()
    again.close()


def test_auto_answer_is_off_until_an_admin_turns_it_on(store: Database) -> None:
    assert GroupStore(store).auto_answer("discord", "42") is False
    GroupStore(store).set_auto_answer("discord", "42", True)
    GroupStore(store).set_auto_answer("discord", "42", False)
    assert GroupStore(store).auto_answer("discord", "42") is False


def test_the_delivery_queries_use_the_pending_index_and_a_confirm_touches_no_index(store: Database) -> None:
    """The due-time index holds pending reminders only; the queries must name the status as a literal for
    SQLite to use it, and no index includes the status, so a confirm (claimed -> sent) changes no index."""
    from bot.reminders.store import ReminderStore

    reminders = ReminderStore(store)
    plan = lambda sql, args: " ".join(str(row[-1]) for row in store.db.execute(f"explain query plan {sql}", args))  # noqa: E731
    assert "reminders_pending_due" in plan("select min(due_at) from reminders where status = 'pending'", [])
    assert "reminders_pending_due" in plan("select * from reminders where status = 'pending' and due_at <= ? "
                                           "order by due_at limit 500", [0.0])
    indexed = {row[2] for name in ("reminders_pending_due", "reminders_owner", "reminders_chat")
               for row in store.db.execute(f"pragma index_info({name})")}
    assert "status" not in indexed
    ids = [reminders.add_reminder(platform="t", owner_id=f"u{i}", origin_chat_id=f"u{i}", chat_id=f"u{i}", dm=True,
                                  text="x", tz="UTC", due_at=float(i)) for i in range(3)]
    assert reminders.next_due() == 0.0
    assert [r.id for r in reminders.claim_due(10.0, owner="me")] == ids
    assert reminders.next_due() is None  # claimed: out of the pending index
    reminders.confirm_sent(ids[0], 11.0, None)
    reminders.confirm_sent(ids[1], 11.0, 20.0)  # a repeating one is pending again, at its next time
    assert reminders.next_due() == 20.0
    assert reminders.count_active("t", owner_id="u0") == 0 and reminders.count_active("t", owner_id="u1") == 1


def test_a_quiz_started_by_another_process_is_seen(tmp_path: Path) -> None:
    # a session written through another connection to the same file (another process) must be found: the
    # store keeps no per-process memo of who has a session (one was tried, and taken out for this reason)
    path = tmp_path / "shared.db"
    here, there = QuizStore(Database.open(path)), QuizStore(Database.open(path))
    assert here.quiz_session("telegram", "7") is None  # the keys are now known here
    there.save_quiz_session("telegram", "7", "visa", "status", {}, [], 1.0)
    session = here.quiz_session("telegram", "7")
    assert session is not None and session["quiz_id"] == "visa"
