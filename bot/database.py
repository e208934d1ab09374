"""The bot's one SQLite file, through sqlite-utils: connection, migrations, write transactions.

This module is plumbing only. Each capability (answers, quizzes, reminders, groups,
usage) owns its tables in its own `store.py`: it registers its migrations on the
shared `MIGRATIONS` list and says what it holds about a user (`UserData`), so
`/mydata` and `/forget` ask every capability and cannot forget one. The file runs in
WAL mode with a busy timeout, so several writers (adapters, the scheduler, another
process) wait for each other instead of failing with "database is locked".
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import importlib
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

import sqlite_utils
from sqlite_utils.migrations import Migrations

MIGRATIONS = Migrations("img-advisor")
"""The shared migration list; each capability's store module adds its own with `@MIGRATIONS()`."""

STORE_MODULES = ("bot.groups.store", "bot.reminders.store", "bot.quizzes.store", "bot.answers.store",
                 "bot.usage.store")
"""The capability store modules, imported (so their migrations register) before migrating."""

PLUMBING_TABLES = ("_sqlite_migrations", "meta")
"""Tables of the plumbing itself; every other table belongs to a capability."""


@MIGRATIONS(name="m004_meta")
def _m004_meta(db: sqlite_utils.Database) -> None:
    """Process metadata (heartbeat, the pseudonym key)."""
    db["meta"].create({"key": str, "value": str}, pk="key", if_not_exists=True)


def _migrate(db: sqlite_utils.Database) -> None:
    for module in STORE_MODULES:
        importlib.import_module(module)
    MIGRATIONS.apply(db)


def schema_version() -> int:
    """The number of migrations of this release (stored as PRAGMA user_version)."""
    for module in STORE_MODULES:
        importlib.import_module(module)
    return len(MIGRATIONS._migrations)


@runtime_checkable
class UserData(Protocol):
    """A capability's store: which tables it owns and what it holds about a user."""

    TABLES: tuple[str, ...]

    def user_data(self, platform: str, user_id: str) -> dict[str, object]:
        """A summary of what this capability stores about the user."""

    def forget(self, platform: str, user_id: str) -> None:
        """Delete everything this capability stores about the user (inside the caller's transaction)."""

    def describe(self, platform: str, user_id: str) -> list[str]:
        """What this capability stores about the user, as lines of markup for /mydata."""


class Database:
    """One SQLite file per process: connection, migrations, the write lock, shared metadata."""

    def __init__(self, db: sqlite_utils.Database):
        self.db = db
        self._pseudonym_key: bytes | None = None
        self._holders: dict[str, UserData] = {}
        self._on_close: list[Callable[[], None]] = []
        self.db.execute("PRAGMA busy_timeout = 5000")
        if not db.memory:
            db.enable_wal()
            # WAL + NORMAL: a commit survives a process crash (what the delivery guarantee needs)
            self.db.execute("PRAGMA synchronous = NORMAL")
        _migrate(db)
        self.db.execute(f"PRAGMA user_version = {schema_version()}")

    @classmethod
    def open(cls, path: Path | str) -> Database:
        """Open (and create or migrate) the database at `path`."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(sqlite_utils.Database(path))

    @classmethod
    def in_memory(cls) -> Database:
        """A throwaway database, for tests and one-shot commands."""
        return cls(sqlite_utils.Database(memory=True))

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        """One write transaction, taking the write lock up front (BEGIN IMMEDIATE).

        With several processes or connections writing (adapters, the scheduler), a
        transaction that first reads and then writes could fail at once with "database
        is locked"; taking the lock at BEGIN lets the busy timeout wait instead.
        """
        if self.db.conn.in_transaction:
            with self.db.atomic():
                yield
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        """The number of migrations applied (also stored as PRAGMA user_version)."""
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def on_close(self, callback: Callable[[], None]) -> None:
        """Run `callback` before closing (a capability writing what it gathered in memory)."""
        self._on_close.append(callback)

    def close(self) -> None:
        """Write what is gathered in memory and close the database cleanly."""
        for callback in self._on_close:
            callback()
        self.db.close()

    # who holds what about a user

    def register(self, holder: UserData) -> None:
        """A capability's store joins /mydata and /forget (once per kind of store)."""
        self._holders[type(holder).__name__] = holder

    @property
    def holders(self) -> list[UserData]:
        """Every capability store that holds data about users."""
        return list(self._holders.values())

    def user_data(self, platform: str, user_id: str) -> dict[str, object]:
        """What every capability stores about one user, merged."""
        summary: dict[str, object] = {}
        for holder in self.holders:
            summary.update(holder.user_data(platform, user_id))
        return summary

    def describe_user(self, platform: str, user_id: str) -> list[str]:
        """What every capability stores about one user, as lines of markup (/mydata)."""
        return [line for holder in self.holders for line in holder.describe(platform, user_id)]

    def forget_user(self, platform: str, user_id: str) -> None:
        """Delete everything stored about one user, by every capability, in one transaction."""
        with self.write():
            for holder in self.holders:
                holder.forget(platform, user_id)

    # metadata and pseudonyms

    def set_meta(self, key: str, value: str) -> None:
        with self.write():
            self.db["meta"].upsert({"key": key, "value": value}, pk="key")

    def meta(self, key: str) -> str | None:
        row = self.db.execute("select value from meta where key = ?", [key]).fetchone()
        return row[0] if row else None

    def _secret(self) -> bytes:
        if self._pseudonym_key is not None:
            return self._pseudonym_key
        row = self.db.execute("select value from meta where key = 'pseudonym-key'").fetchone()
        if row:
            self._pseudonym_key = bytes.fromhex(row[0])
            return self._pseudonym_key
        with self.write():
            self.db["meta"].insert({"key": "pseudonym-key", "value": secrets.token_bytes(32).hex()}, ignore=True)
        return self._secret()

    def pseudonym(self, platform: str, user_id: str) -> str:
        """A keyed hash of an id: lets one vote per person be counted without storing who voted."""
        return hmac.new(self._secret(), f"{platform}:{user_id}".encode(), hashlib.sha256).hexdigest()[:32]

    def backup(self, target: Path) -> None:
        """Copy the live database to `target` with SQLite's online backup (safe while the bot runs)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        destination = sqlite3.connect(target)
        try:
            self.db.conn.backup(destination)
        finally:
            destination.close()
