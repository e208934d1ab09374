"""The bot's one SQLite file, through sqlite-utils: schema migrations and queries.

Every feature's tables live here, each with explicit methods, so the rest of the
core never writes SQL. The file runs in WAL mode with a busy timeout, so several
writers in one process (adapters and the scheduler) do not see "database is locked".
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, fields
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


@migrations()
def m002_reminders(db: sqlite_utils.Database) -> None:
    """Reminders (indexed by due time) and each user's time zone."""
    db["reminders"].create(
        {
            "id": int, "platform": str, "owner_id": str, "origin_chat_id": str,
            "chat_id": str, "dm": int, "text": str, "tz": str, "rule": str, "repeat": str,
            "due_at": float, "status": str, "claimed_at": float, "attempts": int,
            "last_error": str, "created_at": float, "sent_at": float,
        },
        pk="id",
        not_null={"platform", "owner_id", "chat_id", "text", "tz", "due_at", "status"},
        defaults={"dm": 0, "attempts": 0},
    )
    db["reminders"].create_index(["status", "due_at"])
    db["reminders"].create_index(["platform", "owner_id", "status"])
    db["reminders"].create_index(["platform", "chat_id", "status"])
    db["user_prefs"].create({"platform": str, "user_id": str, "timezone": str}, pk=("platform", "user_id"))


@migrations()
def m003_quizzes(db: sqlite_utils.Database) -> None:
    """Quiz progress (one active quiz per user) and each user's last result per quiz."""
    db["quiz_sessions"].create(
        {"platform": str, "user_id": str, "quiz_id": str, "question_id": str, "answers": str,
         "history": str, "updated_at": float},
        pk=("platform", "user_id"), not_null={"quiz_id", "question_id", "answers", "history", "updated_at"})
    db["quiz_results"].create(
        {"platform": str, "user_id": str, "quiz_id": str, "answers": str, "finished_at": float},
        pk=("platform", "user_id", "quiz_id"), not_null={"answers", "finished_at"})


@migrations()
def m004_community(db: sqlite_utils.Database) -> None:
    """Group settings, answer cooldowns, feedback, unanswered questions, usage counts."""
    table = db["chat_settings"]
    table.add_column("threshold", float)
    table.add_column("members_remind", int, not_null_default=0)
    table.add_column("quiet_start", str)
    table.add_column("quiet_end", str)
    table.add_column("quiet_tz", str)
    table.add_column("reply_style", str, not_null_default="full")
    table.add_column("record_misses", int, not_null_default=1)
    db["recent_answers"].create({"platform": str, "chat_id": str, "entry_id": str, "answered_at": float},
                                pk=("platform", "chat_id", "entry_id"))
    # voters are keyed by a keyed hash of the user id, never the id itself
    db["feedback"].create({"platform": str, "voter": str, "entry_id": str, "vote": int, "at": float},
                          pk=("platform", "voter", "entry_id"))
    db["misses"].create({"id": int, "platform": str, "question": str, "reason": str, "nearest": str,
                         "score": float, "at": float}, pk="id")
    db["meta"].create({"key": str, "value": str}, pk="key")
    db["activity"].create({"platform": str, "kind": str, "key": str, "first_seen": float, "last_seen": float},
                          pk=("platform", "kind", "key"))
    db["counters"].create({"day": str, "platform": str, "name": str, "count": int},
                          pk=("day", "platform", "name"))


SCHEMA_VERSION = len(migrations._migrations)

SEEN_EVERY = 600.0
COUNTS_EVERY = 100
PENDING, CLAIMED, SENT, CANCELLED, FAILED = "pending", "claimed", "sent", "cancelled", "failed"
ACTIVE = (PENDING, CLAIMED)


@dataclass(frozen=True)
class ChatSettings:
    """What a chat's admins chose (see /settings); the defaults suit a large group."""

    auto_answer: bool = False
    threshold: float | None = None  # None: the bot's own confidence threshold
    members_remind: bool = False  # may members (not only admins) post reminders to the group?
    quiet_start: str | None = None  # "22:00"
    quiet_end: str | None = None  # "07:00"
    quiet_tz: str = "UTC"
    reply_style: str = "full"  # "full" | "short" (short answer + details in private)
    record_misses: bool = True  # keep unanswered questions (no user ids) to grow the knowledge base


@dataclass(frozen=True)
class Reminder:
    """One stored reminder."""

    id: int
    platform: str
    owner_id: str
    origin_chat_id: str
    chat_id: str
    dm: bool
    text: str
    tz: str
    rule: str | None
    repeat: str | None
    due_at: float
    status: str
    attempts: int

    @classmethod
    def from_row(cls, row: dict) -> Reminder:
        return cls(row["id"], row["platform"], row["owner_id"], row["origin_chat_id"], row["chat_id"],
                   bool(row["dm"]), row["text"], row["tz"], row["rule"], row["repeat"], row["due_at"],
                   row["status"], row["attempts"] or 0)


class Store:
    """Typed access to the database; one instance per process."""

    def __init__(self, db: sqlite_utils.Database):
        self.db = db
        self._pseudonym_key: bytes | None = None
        self._seen: dict[tuple[str, str, str], float] = {}
        self._counts: dict[tuple[str, str, str], int] = {}
        self._unwritten = 0
        self.db.execute("PRAGMA busy_timeout = 5000")
        if not db.memory:
            db.enable_wal()
            # WAL + NORMAL: a commit survives a process crash (what the delivery guarantee needs)
            self.db.execute("PRAGMA synchronous = NORMAL")
        migrations.apply(db)
        self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextlib.contextmanager
    def _write(self) -> Iterator[None]:
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

    @classmethod
    def open(cls, path: Path | str) -> Store:
        """Open (and create or migrate) the database at `path`."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(sqlite_utils.Database(path))

    @classmethod
    def in_memory(cls) -> Store:
        """A throwaway store, for tests and one-shot commands."""
        return cls(sqlite_utils.Database(memory=True))

    @property
    def schema_version(self) -> int:
        """The number of migrations applied (also stored as PRAGMA user_version)."""
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        """Write what is gathered in memory and close the database cleanly."""
        self.flush_counts()
        self.db.close()

    # chat settings

    def chat_settings(self, platform: str, chat_id: str) -> ChatSettings:
        """A chat's settings (defaults when admins never changed any)."""
        row = self.db.execute(
            "select auto_answer, threshold, members_remind, quiet_start, quiet_end, quiet_tz, reply_style, "
            "record_misses from chat_settings where platform = ? and chat_id = ?", [platform, chat_id]).fetchone()
        if row is None:
            return ChatSettings()
        return ChatSettings(auto_answer=bool(row[0]), threshold=row[1], members_remind=bool(row[2]),
                            quiet_start=row[3], quiet_end=row[4], quiet_tz=row[5] or "UTC",
                            reply_style=row[6] or "full", record_misses=bool(row[7]))

    def update_chat_settings(self, platform: str, chat_id: str, **changes: object) -> ChatSettings:
        """Change some of a chat's settings and return them all."""
        allowed = {f.name for f in fields(ChatSettings)}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"unknown settings: {sorted(unknown)}")
        current = self.chat_settings(platform, chat_id)
        merged = {**current.__dict__, **changes}
        row = {k: (int(v) if isinstance(v, bool) else v) for k, v in merged.items()}
        with self._write():
            self.db["chat_settings"].upsert({"platform": platform, "chat_id": chat_id, "updated_at": time.time(),
                                             **row}, pk=("platform", "chat_id"))
        return ChatSettings(**merged)

    def auto_answer(self, platform: str, chat_id: str) -> bool:
        """Whether admins of this chat let the bot answer confident matches unasked."""
        return self.chat_settings(platform, chat_id).auto_answer

    def set_auto_answer(self, platform: str, chat_id: str, on: bool) -> None:
        """Turn auto-answer on or off for a chat."""
        self.update_chat_settings(platform, chat_id, auto_answer=on)

    # answer cooldowns

    def last_answered(self, platform: str, chat_id: str, entry_id: str) -> float | None:
        row = self.db.execute("select answered_at from recent_answers where platform = ? and chat_id = ? and "
                              "entry_id = ?", [platform, chat_id, entry_id]).fetchone()
        return row[0] if row else None

    def mark_answered(self, platform: str, chat_id: str, entry_id: str, at: float) -> None:
        with self._write():
            self.db["recent_answers"].upsert({"platform": platform, "chat_id": chat_id, "entry_id": entry_id,
                                              "answered_at": at}, pk=("platform", "chat_id", "entry_id"))

    # process metadata (heartbeat) and statistics

    def set_meta(self, key: str, value: str) -> None:
        with self._write():
            self.db["meta"].upsert({"key": key, "value": value}, pk="key")

    def meta(self, key: str) -> str | None:
        row = self.db.execute("select value from meta where key = ?", [key]).fetchone()
        return row[0] if row else None

    def stats(self) -> dict[str, object]:
        """Numbers for maintainers: users, chats, questions answered, reminders, quizzes, misses."""
        self.flush_counts()
        one = lambda sql: self.db.execute(sql).fetchone()[0] or 0  # noqa: E731
        per_platform = {row[0]: {"users": row[1], "chats": row[2]} for row in self.db.execute(
            "select platform, sum(kind = 'user'), sum(kind = 'chat') from activity group by platform")}
        return {
            "users": one("select count(*) from activity where kind = 'user'"),
            "chats": one("select count(*) from activity where kind = 'chat'"),
            "by_platform": per_platform,
            "questions_answered": one("select sum(count) from counters where name = 'questions answered'"),
            "reminders_pending": one("select count(*) from reminders where status in ('pending', 'claimed')"),
            "reminders_sent": one("select count(*) from reminders where status = 'sent'"),
            "reminders_failed": one("select count(*) from reminders where status = 'failed'"),
            "quiz_results": one("select count(*) from quiz_results"),
            "unanswered_questions": one("select count(*) from misses"),
            "votes": one("select count(*) from feedback"),
        }

    def backup(self, target: Path) -> None:
        """Copy the live database to `target` with SQLite's online backup (safe while the bot runs)."""
        import sqlite3

        target.parent.mkdir(parents=True, exist_ok=True)
        destination = sqlite3.connect(target)
        try:
            self.db.conn.backup(destination)
        finally:
            destination.close()

    # pseudonyms, feedback, misses, usage

    def _secret(self) -> bytes:
        if self._pseudonym_key is not None:
            return self._pseudonym_key
        row = self.db.execute("select value from meta where key = 'pseudonym-key'").fetchone()
        if row:
            self._pseudonym_key = bytes.fromhex(row[0])
            return self._pseudonym_key
        with self._write():
            self.db["meta"].insert({"key": "pseudonym-key", "value": secrets.token_bytes(32).hex()}, ignore=True)
        return self._secret()

    def pseudonym(self, platform: str, user_id: str) -> str:
        """A keyed hash of a user id: lets one vote per person be counted without storing who voted."""
        return hmac.new(self._secret(), f"{platform}:{user_id}".encode(), hashlib.sha256).hexdigest()[:32]

    def vote(self, platform: str, user_id: str, entry_id: str, helpful: bool, at: float) -> bool:
        """Record (or change) one person's vote on an entry; True if it is new."""
        voter = self.pseudonym(platform, user_id)
        with self._write():
            existed = self.db.execute("select 1 from feedback where platform = ? and voter = ? and entry_id = ?",
                                      [platform, voter, entry_id]).fetchone()
            self.db["feedback"].upsert({"platform": platform, "voter": voter, "entry_id": entry_id,
                                        "vote": int(helpful), "at": at}, pk=("platform", "voter", "entry_id"))
        return existed is None

    def feedback_by_entry(self) -> list[tuple[str, int, int]]:
        """(entry id, helpful votes, unhelpful votes) for every entry with votes."""
        return [(r[0], r[1], r[2]) for r in self.db.execute(
            "select entry_id, sum(vote = 1), sum(vote = 0) from feedback group by entry_id")]

    def record_miss(self, platform: str, question: str, reason: str, nearest: str | None, score: float | None,
                    at: float) -> None:
        """Keep a question the bot could not answer well; no user or chat id is stored."""
        with self._write():
            self.db["misses"].insert({"platform": platform, "question": question[:500], "reason": reason,
                                      "nearest": nearest, "score": score, "at": at})

    def misses(self) -> list[dict]:
        return list(self.db["misses"].rows_where(order_by="at desc"))

    def seen(self, platform: str, user_id: str, chat_id: str, at: float) -> None:
        """Count a user and a chat as active (pseudonymously), for `img-advisor stats`.

        Written at most once every SEEN_EVERY seconds per user and chat: activity is a
        statistic, not worth a write per message.
        """
        key = (platform, user_id, chat_id)
        if at - self._seen.get(key, float("-inf")) < SEEN_EVERY:
            return
        self._seen[key] = at
        if len(self._seen) > 100_000:
            self._seen.clear()
        with self._write():
            for kind, key in (("user", self.pseudonym(platform, user_id)), ("chat", self.pseudonym(platform, chat_id))):
                self.db.execute("insert into activity (platform, kind, key, first_seen, last_seen) values (?, ?, ?, ?, ?)"
                                " on conflict(platform, kind, key) do update set last_seen = excluded.last_seen",
                                [platform, kind, key, at, at])

    def count(self, platform: str, name: str, at: float) -> None:
        """Add one to a daily usage counter (questions answered, ...).

        Counts are gathered in memory and written every COUNTS_EVERY increments, on
        `stats()` and on `close()`: a statistic is not worth a write per message (a crash
        loses at most the unwritten counts, never user data).
        """
        day = dt.datetime.fromtimestamp(at, dt.timezone.utc).strftime("%Y-%m-%d")
        key = (day, platform, name)
        self._counts[key] = self._counts.get(key, 0) + 1
        self._unwritten += 1
        if self._unwritten >= COUNTS_EVERY:
            self.flush_counts()

    def flush_counts(self) -> None:
        """Write the gathered usage counts."""
        if not self._counts:
            return
        counts, self._counts, self._unwritten = self._counts, {}, 0
        with self._write():
            for (day, platform, name), added in counts.items():
                self.db.execute("insert into counters (day, platform, name, count) values (?, ?, ?, ?) "
                                "on conflict(day, platform, name) do update set count = count + excluded.count",
                                [day, platform, name, added])

    # time zones

    def timezone(self, platform: str, user_id: str) -> str | None:
        """The user's time zone name, if they set one."""
        row = self.db.execute("select timezone from user_prefs where platform = ? and user_id = ?",
                              [platform, user_id]).fetchone()
        return row[0] if row else None

    def set_timezone(self, platform: str, user_id: str, name: str) -> None:
        """Remember the user's time zone."""
        with self._write():
            self.db["user_prefs"].upsert({"platform": platform, "user_id": user_id, "timezone": name},
                                         pk=("platform", "user_id"))

    # reminders: creating, listing, cancelling

    def add_reminder(self, *, platform: str, owner_id: str, origin_chat_id: str, chat_id: str, dm: bool,
                     text: str, tz: str, due_at: float, rule: str | None = None,
                     repeat: str | None = None) -> int:
        """Store a new pending reminder and return its id."""
        with self._write():
            table = self.db["reminders"]
            table.insert({
                "platform": platform, "owner_id": owner_id, "origin_chat_id": origin_chat_id,
                "chat_id": chat_id, "dm": int(dm), "text": text, "tz": tz, "rule": rule, "repeat": repeat,
                "due_at": due_at, "status": PENDING, "attempts": 0, "created_at": time.time(),
            })
            return int(table.last_pk)

    def reminder(self, reminder_id: int) -> Reminder | None:
        """One reminder by id, whatever its status."""
        rows = list(self.db["reminders"].rows_where("id = ?", [reminder_id]))
        return Reminder.from_row(rows[0]) if rows else None

    def active_reminders(self, platform: str, owner_id: str) -> list[Reminder]:
        """A user's pending reminders, soonest first."""
        return [Reminder.from_row(r) for r in self.db["reminders"].rows_where(
            "platform = ? and owner_id = ? and status in (?, ?)", [platform, owner_id, *ACTIVE], order_by="due_at")]

    def count_active(self, platform: str, *, owner_id: str | None = None, group_chat_id: str | None = None) -> int:
        """Active reminders of one user, or those posting to one group chat."""
        if owner_id is not None:
            where, arg = "owner_id = ?", owner_id
        else:
            where, arg = "chat_id = ? and dm = 0", group_chat_id
        return int(self.db.execute(
            f"select count(*) from reminders where platform = ? and {where} and status in (?, ?)",
            [platform, arg, *ACTIVE]).fetchone()[0])

    def cancel_reminder(self, reminder_id: int, platform: str, owner_id: str) -> bool:
        """Cancel one of the user's active reminders; False if it is not theirs or not active."""
        with self._write():
            cursor = self.db.execute(
                "update reminders set status = ? where id = ? and platform = ? and owner_id = ? and status in (?, ?)",
                [CANCELLED, reminder_id, platform, owner_id, *ACTIVE])
        return cursor.rowcount == 1

    def snooze(self, reminder: Reminder, due_at: float) -> int:
        """Deliver `reminder` again at `due_at`: a one-off is re-armed, a recurring one gets a one-off copy."""
        if reminder.rule is None:
            with self._write():
                self.db.execute("update reminders set status = ?, due_at = ?, attempts = 0, claimed_at = null "
                                "where id = ? and status in (?, ?)",
                                [PENDING, due_at, reminder.id, SENT, PENDING])
            return reminder.id
        return self.add_reminder(platform=reminder.platform, owner_id=reminder.owner_id,
                                 origin_chat_id=reminder.origin_chat_id, chat_id=reminder.chat_id,
                                 dm=reminder.dm, text=reminder.text, tz=reminder.tz, due_at=due_at)

    # reminders: the delivery cycle (claim, send, confirm)

    def next_due(self) -> float | None:
        """When the soonest pending reminder falls due (epoch seconds), if any."""
        row = self.db.execute("select min(due_at) from reminders where status = ?", [PENDING]).fetchone()
        return row[0] if row and row[0] is not None else None

    def claim_due(self, now: float, limit: int = 500) -> list[Reminder]:
        """Atomically mark up to `limit` due reminders as claimed and return them."""
        with self._write():
            rows = list(self.db["reminders"].rows_where(
                "status = ? and due_at <= ?", [PENDING, now], order_by="due_at", limit=limit))
            if rows:
                ids = [r["id"] for r in rows]
                marks = ",".join("?" * len(ids))
                self.db.execute(f"update reminders set status = ?, claimed_at = ? where id in ({marks})",
                                [CLAIMED, now, *ids])
        return [Reminder.from_row(r) for r in rows]

    def release(self, reminder_ids: list[int]) -> None:
        """Give claimed reminders back (a clean shutdown before they were sent)."""
        if not reminder_ids:
            return
        marks = ",".join("?" * len(reminder_ids))
        with self._write():
            self.db.execute(f"update reminders set status = ?, claimed_at = null where status = ? and id in ({marks})",
                            [PENDING, CLAIMED, *reminder_ids])

    def release_claims(self) -> int:
        """On start: claims left by a crash go back to pending, to be sent (again)."""
        with self._write():
            cursor = self.db.execute("update reminders set status = ?, claimed_at = null where status = ?",
                                     [PENDING, CLAIMED])
        return cursor.rowcount

    def confirm_sent(self, reminder_id: int, sent_at: float, next_due: float | None) -> None:
        """After a successful send: a one-off is done, a recurring one moves to its next time."""
        with self._write():
            if next_due is None:
                self.db.execute("update reminders set status = ?, sent_at = ?, attempts = 0 where id = ?",
                                [SENT, sent_at, reminder_id])
            else:
                self.db.execute("update reminders set status = ?, sent_at = ?, due_at = ?, attempts = 0, "
                                "claimed_at = null where id = ?", [PENDING, sent_at, next_due, reminder_id])

    def retry_later(self, reminder_id: int, due_at: float, error: str) -> None:
        """A transient failure: try again at `due_at`, counting the attempt."""
        with self._write():
            self.db.execute("update reminders set status = ?, due_at = ?, attempts = attempts + 1, "
                            "last_error = ?, claimed_at = null where id = ?", [PENDING, due_at, error, reminder_id])

    def hold(self, reminder_id: int, due_at: float) -> None:
        """Postpone a claimed reminder without counting an attempt (a group's quiet hours)."""
        with self._write():
            self.db.execute("update reminders set status = ?, due_at = ?, claimed_at = null where id = ?",
                            [PENDING, due_at, reminder_id])

    def retire(self, reminder_id: int, reason: str) -> None:
        """A permanent failure (blocked, chat gone, too many retries): stop, keeping the reason."""
        with self._write():
            self.db.execute("update reminders set status = ?, last_error = ? where id = ?",
                            [FAILED, reason, reminder_id])

    def move_chat(self, platform: str, old_chat_id: str, new_chat_id: str) -> int:
        """A chat changed id (Telegram group -> supergroup): its reminders follow it."""
        with self._write():
            cursor = self.db.execute(
                "update reminders set chat_id = ? where platform = ? and chat_id = ? and dm = 0",
                [new_chat_id, platform, old_chat_id])
            self.db.execute("update reminders set origin_chat_id = ? where platform = ? and origin_chat_id = ?",
                            [new_chat_id, platform, old_chat_id])
        return cursor.rowcount

    # quizzes

    def quiz_session(self, platform: str, user_id: str) -> dict | None:
        """The user's active quiz: quiz_id, question_id, answers (dict), history (list), updated_at."""
        row = self.db.execute("select quiz_id, question_id, answers, history, updated_at from quiz_sessions "
                              "where platform = ? and user_id = ?", [platform, user_id]).fetchone()
        if row is None:
            return None
        return {"quiz_id": row[0], "question_id": row[1], "answers": json.loads(row[2]),
                "history": json.loads(row[3]), "updated_at": row[4]}

    def save_quiz_session(self, platform: str, user_id: str, quiz_id: str, question_id: str,
                          answers: dict[str, str], history: list[str], now: float) -> None:
        """Store quiz progress in one write, so a crash never leaves half a step."""
        with self._write():
            self.db["quiz_sessions"].upsert(
                {"platform": platform, "user_id": user_id, "quiz_id": quiz_id, "question_id": question_id,
                 "answers": json.dumps(answers), "history": json.dumps(history), "updated_at": now},
                pk=("platform", "user_id"))

    def end_quiz_session(self, platform: str, user_id: str) -> None:
        with self._write():
            self.db.execute("delete from quiz_sessions where platform = ? and user_id = ?", [platform, user_id])

    def finish_quiz(self, platform: str, user_id: str, quiz_id: str, answers: dict[str, str], now: float) -> None:
        """Keep the result and close the session, atomically."""
        with self._write():
            self.db["quiz_results"].upsert(
                {"platform": platform, "user_id": user_id, "quiz_id": quiz_id,
                 "answers": json.dumps(answers), "finished_at": now}, pk=("platform", "user_id", "quiz_id"))
            self.db.execute("delete from quiz_sessions where platform = ? and user_id = ?", [platform, user_id])

    def quiz_results(self, platform: str, user_id: str) -> list[tuple[str, dict[str, str], float]]:
        """The user's last result per quiz: (quiz_id, answers, finished_at)."""
        return [(r["quiz_id"], json.loads(r["answers"]), r["finished_at"]) for r in self.db["quiz_results"].rows_where(
            "platform = ? and user_id = ?", [platform, user_id], order_by="finished_at desc")]

    # privacy

    def user_data(self, platform: str, user_id: str) -> dict[str, int | str | None]:
        """A summary of everything stored about one user."""
        count = lambda sql, key=user_id: int(self.db.execute(sql, [platform, key]).fetchone()[0])  # noqa: E731
        voter = self.pseudonym(platform, user_id)
        return {
            "timezone": self.timezone(platform, user_id),
            "reminders": count("select count(*) from reminders where platform = ? and owner_id = ? "
                               "and status in ('pending', 'claimed')"),
            "quiz_in_progress": count("select count(*) from quiz_sessions where platform = ? and user_id = ?"),
            "quiz_results": count("select count(*) from quiz_results where platform = ? and user_id = ?"),
            "votes": count("select count(*) from feedback where platform = ? and voter = ?", voter),
        }

    def delete_user(self, platform: str, user_id: str) -> None:
        """Delete everything stored about one user, in every chat, in one transaction."""
        voter = self.pseudonym(platform, user_id)
        self._seen = {k: v for k, v in self._seen.items() if k[:2] != (platform, user_id)}
        with self._write():
            for sql, key in (("delete from reminders where platform = ? and owner_id = ?", user_id),
                             ("delete from quiz_sessions where platform = ? and user_id = ?", user_id),
                             ("delete from quiz_results where platform = ? and user_id = ?", user_id),
                             ("delete from user_prefs where platform = ? and user_id = ?", user_id),
                             ("delete from feedback where platform = ? and voter = ?", voter),
                             ("delete from activity where platform = ? and kind = 'user' and key = ?", voter)):
                self.db.execute(sql, [platform, key])
