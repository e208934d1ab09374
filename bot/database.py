"""The bot's one SQLite file, through sqlite-utils: connection, migrations, write transactions.

This module is plumbing only. Each capability (answers, quizzes, reminders, groups,
usage) owns its tables in its own `store.py`: it registers its migrations on the
shared `MIGRATIONS` list and says what it holds about a user (`UserData`), so
`/mydata` and `/forget` ask every capability and cannot forget one. The file runs in
WAL mode with a busy timeout, so several writers (adapters, the scheduler, another
process) wait for each other instead of failing with "database is locked".

When the store itself fails (a write lock held longer than the busy timeout, a full
disk, a read-only or damaged file), `StoreStatus` logs it once per spell of trouble,
not once per failure; `best_effort` marks writes that only feed statistics, which are
skipped rather than failing the user's request. A named `Lease` in the meta table lets
exactly one process at a time do a job for the whole database (deliver reminders).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import importlib
import json
import logging
import os
import secrets
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

import sqlite_utils
from sqlite_utils.migrations import Migrations

log = logging.getLogger(__name__)

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


# when the store itself fails

_LASTING = {"SQLITE_FULL": "the disk is full", "SQLITE_READONLY": "the database file is read-only",
            "SQLITE_CORRUPT": "the database file is damaged", "SQLITE_NOTADB": "the file is not a database",
            "SQLITE_CANTOPEN": "the database file cannot be opened", "SQLITE_IOERR": "the disk failed a read or write",
            "SQLITE_PERM": "the database file may not be written"}
_BY_MESSAGE = (("locked", "SQLITE_BUSY"), ("busy", "SQLITE_BUSY"), ("disk is full", "SQLITE_FULL"),
               ("readonly", "SQLITE_READONLY"), ("malformed", "SQLITE_CORRUPT"), ("not a database", "SQLITE_NOTADB"),
               ("unable to open", "SQLITE_CANTOPEN"), ("disk i/o", "SQLITE_IOERR"))


def _error_code(exc: BaseException) -> str | None:
    """SQLite's primary error name (SQLITE_BUSY, SQLITE_FULL, ...), from Python 3.11+ or the message."""
    name = getattr(exc, "sqlite_errorname", None)
    if isinstance(name, str) and name.startswith("SQLITE_"):
        primary = "_".join(name.split("_")[:2])  # SQLITE_IOERR_WRITE -> SQLITE_IOERR
        return "SQLITE_BUSY" if primary == "SQLITE_LOCKED" else primary
    text = str(exc).lower()
    return next((code for words, code in _BY_MESSAGE if words in text), None)


def is_store_fault(exc: BaseException) -> bool:
    """Whether `exc` is the store failing (locked, full, read-only, damaged), not a bug in a query."""
    if not isinstance(exc, sqlite3.OperationalError) and type(exc) is not sqlite3.DatabaseError:
        return False
    return _error_code(exc) in ("SQLITE_BUSY", *_LASTING)


def describe_fault(exc: BaseException) -> tuple[str, bool]:
    """A short description of a store fault, and whether it lasts until someone acts (not a busy lock)."""
    code = _error_code(exc)
    detail = str(exc)
    if code in _LASTING:
        plain = _LASTING[code]
        return (plain if detail.lower() in plain else f"{plain} ({detail})"), True
    return f"the database is locked by another process ({detail})", False


class StoreStatus:
    """Trouble with the store, logged once per spell (and a reminder every `repeat_every` seconds), not per failure.

    A transient fault (another process holds the write lock past the busy timeout) is
    a warning: callers retry. A lasting one (disk full, read-only or damaged file) is one
    clear error line saying what still works and what to do; `img-advisor health`
    reports it too.
    """

    def __init__(self, repeat_every: float = 600.0):
        self.repeat_every = repeat_every
        self.problem: str | None = None
        self.lasting = False
        self.failures = 0
        self._since = 0.0
        self._logged_at = 0.0

    @property
    def healthy(self) -> bool:
        return self.problem is None

    def failed(self, exc: BaseException, doing: str) -> None:
        """Note a store fault that happened while `doing` something (no ids, no user text)."""
        problem, lasting = describe_fault(exc)
        now = time.monotonic()
        self.failures += 1
        if problem != self.problem:
            self.problem, self.lasting, self._since, self._logged_at = problem, lasting, now, now
            if lasting:
                log.error("the database cannot be used: %s (while %s). Answers keep working; anything that needs "
                          "saving gets an apology and reminders wait until it can be written. Free disk space or fix "
                          "the file (`img-advisor health` reports it).", problem, doing)
            else:
                log.warning("store busy: %s (while %s); retrying with back-off", problem, doing)
        elif now - self._logged_at >= self.repeat_every:
            self._logged_at = now
            log.log(logging.ERROR if lasting else logging.WARNING, "store trouble continues: %s (%d failures in %.0f s)",
                    problem, self.failures, now - self._since)

    def succeeded(self) -> None:
        """A write went through: a spell of trouble, if any, is over."""
        if self.problem is not None:
            log.warning("store recovered after %d failure(s) in %.0f s", self.failures, time.monotonic() - self._since)
            self.problem, self.lasting, self.failures = None, False, 0


_F = TypeVar("_F", bound=Callable[..., Any])


def best_effort(method: _F) -> _F:
    """For a store method whose write only feeds statistics (activity, counters, misses, cooldowns).

    A store fault is noted on `self.database.status` and the method returns None, so a
    full disk or a held lock never costs the user their answer.
    """

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            if not is_store_fault(exc):
                raise
            self.database.status.failed(exc, f"saving {method.__name__.replace('_', ' ')}")
            return None

    return wrapper  # type: ignore[return-value]


# one process at a time

_HOST = socket.gethostname()
_LIVE_OWNERS: set[str] = set()
"""Lease owners held by open `Database` objects in this process (a lease with this pid but
another owner was left by an earlier process that had the same pid, e.g. in a container)."""


def _process_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time) of a process from /proc, or None where /proc is missing."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rpartition(")")[2].split()
        return fields[0], fields[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, started: str) -> bool:
    """Whether process `pid` (started at `started`, from /proc) still runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    stat = _process_stat(pid)
    if stat is None:
        return True
    state, start = stat
    return state not in ("Z", "X") and (not started or start == started)


@dataclass(frozen=True)
class Lease:
    """Who holds a named lease: an owner id, its process and host, and until when."""

    name: str
    owner: str
    pid: int
    host: str
    started: str
    since: float
    expires: float

    def describe(self) -> str:
        return f"process {self.pid} on {self.host}"

    def gone(self, now: float) -> bool:
        """The holder stopped renewing (expired), or is a process on this host that no longer runs."""
        if self.expires <= now:
            return True
        if self.host != _HOST:
            return False
        if self.pid == os.getpid():
            return self.owner not in _LIVE_OWNERS
        return not _alive(self.pid, self.started)


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


BUSY_TIMEOUT = 5.0
"""Seconds a write waits for another writer's lock before failing with "database is locked"."""


WAL_CHECKPOINT_PAGES = 10_000
"""WAL pages (4 KiB) written before SQLite checkpoints them into the database file (its default: 1,000)."""
WAL_SIZE_LIMIT = 48 * 1024 * 1024
"""After a checkpoint, a WAL file larger than this is truncated back to it (bytes)."""


class CapabilityStore:
    """Base of a capability's store: its tables, registered for /mydata and /forget.

    By default a store holds nothing about any one user; a store that does overrides
    `user_data`, `describe` and `forget` (see `UserData`).
    """

    TABLES: tuple[str, ...] = ()

    def __init__(self, database: Database):
        self.database = database
        self.db = database.db
        database.register(self)

    def user_data(self, platform: str, user_id: str) -> dict[str, object]:
        return {}

    def describe(self, platform: str, user_id: str) -> list[str]:
        return []

    def forget(self, platform: str, user_id: str) -> None:
        """Nothing of one user's is kept here."""


class Database:
    """One SQLite file per process: connection, migrations, the write lock, shared metadata."""

    def __init__(self, db: sqlite_utils.Database, busy_timeout: float = BUSY_TIMEOUT):
        self.db = db
        self.busy_timeout = busy_timeout
        self.status = StoreStatus()
        self._pseudonym_key: bytes | None = None
        self._holders: dict[str, UserData] = {}
        self._on_close: list[Callable[[], None]] = []
        self._leases: set[tuple[str, str]] = set()
        self.db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        if not db.memory:
            db.enable_wal()
            # WAL + NORMAL: a commit survives a process crash (what the delivery guarantee needs)
            self.db.execute("PRAGMA synchronous = NORMAL")
            # checkpoint (and fsync) every ~40 MB of WAL instead of every 4 MB: one commit per sent reminder
            # made checkpoints a fifth of a 10,000-reminder batch; a commit is as durable either way
            self.db.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
            self.db.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
        _migrate(db)
        if self.schema_version != schema_version():  # no write when nothing changed (read-only checks)
            self.db.execute(f"PRAGMA user_version = {schema_version()}")

    @classmethod
    def open(cls, path: Path | str, busy_timeout: float = BUSY_TIMEOUT) -> Database:
        """Open (and create or migrate) the database at `path`."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite_utils.Database(path)
        try:
            return cls(db, busy_timeout)
        except BaseException:
            db.close()
            raise

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
        A failed COMMIT (disk full) is rolled back too, so the connection never stays
        inside a transaction that nothing would commit.
        """
        if self.db.conn.in_transaction:
            with self.db.atomic():
                yield
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.conn.in_transaction:  # SQLite may have rolled back already (SQLITE_FULL)
                try:
                    self.db.conn.execute("ROLLBACK")
                except sqlite3.Error:
                    log.debug("rollback failed", exc_info=True)
            raise
        self.status.succeeded()

    @property
    def schema_version(self) -> int:
        """The number of migrations applied (also stored as PRAGMA user_version)."""
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def on_close(self, callback: Callable[[], None]) -> None:
        """Run `callback` before closing (a capability writing what it gathered in memory)."""
        self._on_close.append(callback)

    def close(self) -> None:
        """Write what is gathered in memory, hand back leases, and close the database cleanly."""
        for callback in self._on_close:
            callback()
        for name, owner in list(self._leases):
            try:
                self.release_lease(name, owner)
            except sqlite3.DatabaseError as exc:
                if not is_store_fault(exc):
                    raise
                self.status.failed(exc, "handing back a lease")  # it expires by itself
        self._leases.clear()
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

    # leases: one process at a time

    def lease(self, name: str) -> Lease | None:
        """The current holder of a named lease, if any (expired or not)."""
        raw = self.meta(f"lease:{name}")
        if not raw:
            return None
        try:
            data = json.loads(raw)
            return Lease(name, str(data["owner"]), int(data["pid"]), str(data["host"]), str(data.get("started", "")),
                         float(data["since"]), float(data["expires"]))
        except (ValueError, KeyError, TypeError):
            return None  # unreadable: treated as free

    def take_lease(self, name: str, owner: str, seconds: float) -> tuple[bool, Lease]:
        """Take or renew the named lease for `owner` for `seconds`, in one write transaction.

        Returns (True, the new lease) when `owner` holds it now, or (False, the holder)
        when another owner holds it and is neither expired nor known to be gone.
        """
        now = time.time()
        with self.write():
            current = self.lease(name)
            if current is not None and current.owner != owner and not current.gone(now):
                return False, current
            stat = _process_stat(os.getpid())
            since = current.since if current is not None and current.owner == owner else now
            lease = Lease(name, owner, os.getpid(), _HOST, stat[1] if stat else "", since, now + seconds)
            value = json.dumps({"owner": owner, "pid": lease.pid, "host": lease.host, "started": lease.started,
                                "since": since, "expires": lease.expires})
            self.db.execute("insert into meta (key, value) values (?, ?) on conflict(key) do update set "
                            "value = excluded.value", [f"lease:{name}", value])
        self._leases.add((name, owner))
        _LIVE_OWNERS.add(owner)
        return True, lease

    def release_lease(self, name: str, owner: str) -> None:
        """Hand back a lease `owner` holds (a clean stop), so another process may take it at once."""
        self._leases.discard((name, owner))
        _LIVE_OWNERS.discard(owner)
        with self.write():
            current = self.lease(name)
            if current is not None and current.owner == owner:
                self.db.execute("delete from meta where key = ?", [f"lease:{name}"])

    # health

    def probe(self) -> str | None:
        """What keeps the database from working (damaged, read-only, full, locked), or None when it works."""
        try:
            check = self.db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                return f"the database file is damaged ({check})"
            self.set_meta("health-probe", f"{time.time():.0f}")
        except sqlite3.DatabaseError as exc:
            return describe_fault(exc)[0] if is_store_fault(exc) else str(exc)
        return None

    def backup(self, target: Path) -> None:
        """Copy the live database to `target` with SQLite's online backup (safe while the bot runs)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        destination = sqlite3.connect(target)
        try:
            self.db.conn.backup(destination)
        finally:
            destination.close()
