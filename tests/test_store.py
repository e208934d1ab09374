"""The SQLite store: migrations, schema version, WAL, per-chat settings."""

from __future__ import annotations

from pathlib import Path

from bot.database import Database, schema_version
from bot.groups.store import GroupStore


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
