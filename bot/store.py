"""The bot's one SQLite file, through sqlite-utils: schema migrations and queries.

Every feature's tables live here, each with explicit methods, so the rest of the
core never writes SQL. The file runs in WAL mode with a busy timeout, so several
writers in one process (adapters and the scheduler) do not see "database is locked".
"""

from __future__ import annotations

import time
from pathlib import Path

import sqlite_utils
from sqlite_utils.migrations import Migrations

migrations = Migrations("img-advisor")


@migrations()
def m001_chat_settings(db: sqlite_utils.Database) -> None:
    """Per-chat settings that chat admins change."""
    db["chat_settings"].create(
        {"platform": str, "chat_id": str, "auto_answer": int, "updated_at": float},
        pk=("platform", "chat_id"),
        not_null={"auto_answer"},
        defaults={"auto_answer": 0},
    )


SCHEMA_VERSION = len(migrations._migrations)


class Store:
    """Typed access to the database; one instance per process."""

    def __init__(self, db: sqlite_utils.Database):
        self.db = db
        self.db.execute("PRAGMA busy_timeout = 5000")
        if not db.memory:
            db.enable_wal()
        migrations.apply(db)
        self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @classmethod
    def open(cls, path: Path | str) -> "Store":
        """Open (and create or migrate) the database at `path`."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(sqlite_utils.Database(path))

    @classmethod
    def in_memory(cls) -> "Store":
        """A throwaway store, for tests and one-shot commands."""
        return cls(sqlite_utils.Database(memory=True))

    @property
    def schema_version(self) -> int:
        """The number of migrations applied (also stored as PRAGMA user_version)."""
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        """Close the database cleanly."""
        self.db.close()

    # chat settings

    def auto_answer(self, platform: str, chat_id: str) -> bool:
        """Whether admins of this chat let the bot answer confident matches unasked."""
        row = self.db.execute(
            "select auto_answer from chat_settings where platform = ? and chat_id = ?",
            [platform, chat_id],
        ).fetchone()
        return bool(row and row[0])

    def set_auto_answer(self, platform: str, chat_id: str, on: bool) -> None:
        """Turn auto-answer on or off for a chat."""
        with self.db.atomic():
            self.db["chat_settings"].upsert(
                {"platform": platform, "chat_id": chat_id, "auto_answer": int(on), "updated_at": time.time()},
                pk=("platform", "chat_id"),
            )
