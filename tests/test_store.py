"""The SQLite store: migrations, schema version, WAL, per-chat settings."""

from __future__ import annotations

from pathlib import Path

from bot.store import SCHEMA_VERSION, Store


def test_a_new_database_is_migrated_to_the_current_schema(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "sub" / "bot.db")
    assert store.schema_version == SCHEMA_VERSION
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_reopening_keeps_data_and_does_not_rerun_migrations(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    store = Store.open(path)
    store.set_auto_answer("telegram", "-100", True)
    store.close()
    again = Store.open(path)
    assert again.auto_answer("telegram", "-100") is True
    applied = again.db.execute("select count(*) from _sqlite_migrations").fetchone()[0]
    assert applied == SCHEMA_VERSION
    again.close()


def test_auto_answer_is_off_until_an_admin_turns_it_on(store: Store) -> None:
    assert store.auto_answer("discord", "42") is False
    store.set_auto_answer("discord", "42", True)
    store.set_auto_answer("discord", "42", False)
    assert store.auto_answer("discord", "42") is False
