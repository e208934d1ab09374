"""The usage capability's tables: pseudonymous activity (users and chats seen) and daily counters."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict

import sqlite_utils

from bot.database import (
    MIGRATIONS,
    CapabilityStore,
    Database,
    best_effort,
    is_store_fault,
)

SEEN_EVERY = 600.0
MAX_SEEN = 100_000
COUNTS_EVERY = 100


@MIGRATIONS(name="m004_usage")
def _m004_usage(db: sqlite_utils.Database) -> None:
    """Who was active (keyed hashes) and daily usage counts."""
    db["activity"].create({"platform": str, "kind": str, "key": str, "first_seen": float, "last_seen": float},
                          pk=("platform", "kind", "key"), if_not_exists=True)
    db["counters"].create({"day": str, "platform": str, "name": str, "count": int},
                          pk=("day", "platform", "name"), if_not_exists=True)


class UsageStore(CapabilityStore):
    """Activity and counters, written sparingly: statistics are not worth a write per message."""

    TABLES = ("activity", "counters")

    def __init__(self, database: Database):
        super().__init__(database)
        self._seen: OrderedDict[tuple[str, str, str], float] = OrderedDict()  # oldest write first
        self._counts: dict[tuple[str, str, str], int] = {}
        self._unwritten = 0
        self._day: tuple[int | None, str] = (None, "")
        database.on_close(self.flush_counts)

    def forget(self, platform: str, user_id: str) -> None:
        """The user's activity row, and a private chat's row from releases that kept one (its id was theirs)."""
        for key in [k for k in self._seen if k[:2] == (platform, user_id)]:
            del self._seen[key]
        self.db.execute("delete from activity where platform = ? and key = ?",
                        [platform, self.database.pseudonym(platform, user_id)])

    def stats(self) -> dict[str, object]:
        """Active users and chats per platform, and questions answered."""
        self.flush_counts()
        one = lambda sql: self.db.execute(sql).fetchone()[0] or 0  # noqa: E731
        per_platform = {row[0]: {"users": row[1], "chats": row[2]} for row in self.db.execute(
            "select platform, sum(kind = 'user'), sum(kind = 'chat') from activity group by platform")}
        return {
            "users": one("select count(*) from activity where kind = 'user'"),
            "chats": one("select count(*) from activity where kind = 'chat'"),
            "by_platform": per_platform,
            "questions_answered": one("select sum(count) from counters where name = 'questions answered'"),
        }

    @best_effort
    def seen(self, platform: str, user_id: str, chat_id: str, at: float, private: bool = False) -> None:
        """Count a user and a group chat as active (pseudonymously), for `img-advisor stats`.

        Written at most once every SEEN_EVERY seconds per user and chat: activity is a
        statistic, not worth a write per message. A private chat is the user, not a chat:
        it adds no chat row (which /forget could not tell apart on every platform).
        """
        key = (platform, user_id, chat_id)
        if at - self._seen.get(key, float("-inf")) < SEEN_EVERY:
            return
        self._seen[key] = at
        self._seen.move_to_end(key)
        while self._seen and (len(self._seen) > MAX_SEEN or next(iter(self._seen.values())) <= at - SEEN_EVERY):
            self._seen.popitem(last=False)  # expired (or too many): it only saves a write
        rows = [("user", self.database.pseudonym(platform, user_id))]
        if not private:
            rows.append(("chat", self.database.pseudonym(platform, chat_id)))
        with self.database.write():
            for kind, pseudonym in rows:
                self.db.execute("insert into activity (platform, kind, key, first_seen, last_seen) values (?, ?, ?, ?, ?)"
                                " on conflict(platform, kind, key) do update set last_seen = excluded.last_seen",
                                [platform, kind, pseudonym, at, at])

    def count(self, platform: str, name: str, at: float) -> None:
        """Add one to a daily usage counter (questions answered, ...).

        Counts are gathered in memory and written every COUNTS_EVERY increments, on
        `stats()` and on `close()`: a statistic is not worth a write per message (a crash
        loses at most the unwritten counts, never user data).
        """
        number = int(at // 86400)  # the UTC day; its name is formatted once a day, not once a message
        if number != self._day[0]:
            self._day = (number, dt.datetime.fromtimestamp(number * 86400, dt.timezone.utc).strftime("%Y-%m-%d"))
        key = (self._day[1], platform, name)
        self._counts[key] = self._counts.get(key, 0) + 1
        self._unwritten += 1
        if self._unwritten >= COUNTS_EVERY:
            self.flush_counts()

    def flush_counts(self) -> None:
        """Write the gathered usage counts."""
        if not self._counts:
            return
        counts, self._counts, self._unwritten = self._counts, {}, 0
        try:
            with self.database.write():
                for (day, platform, name), added in counts.items():
                    self.db.execute("insert into counters (day, platform, name, count) values (?, ?, ?, ?) "
                                    "on conflict(day, platform, name) do update set count = count + excluded.count",
                                    [day, platform, name, added])
        except Exception as exc:
            if not is_store_fault(exc):
                raise
            for key, added in counts.items():  # keep them for the next try (a few keys: day, platform, name)
                self._counts[key] = self._counts.get(key, 0) + added
            self.database.status.failed(exc, "saving usage counts")
