"""The reminders capability's tables: reminders (with their delivery cycle) and each user's time zone."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import sqlite_utils

from bot.database import MIGRATIONS, CapabilityStore
from bot.events import THREAD_MARK, split_thread
from bot.markup import escape
from bot.reminders.when import format_local

PENDING, CLAIMED, SENT, CANCELLED, FAILED = "pending", "claimed", "sent", "cancelled", "failed"
ACTIVE = (PENDING, CLAIMED)


@MIGRATIONS()
def m002_reminders(db: sqlite_utils.Database) -> None:
    """Reminders (indexed by due time) and each user's time zone."""
    db["reminders"].create(
        {
            "id": int, "platform": str, "owner_id": str, "origin_chat_id": str,
            "chat_id": str, "dm": int, "text": str, "tz": str, "rule": str, "repeat": str,
            "due_at": float, "status": str, "claimed_at": float, "attempts": int,
            "last_error": str, "created_at": float, "sent_at": float,
        },
        pk="id", if_not_exists=True,
        not_null={"platform", "owner_id", "chat_id", "text", "tz", "due_at", "status"},
        defaults={"dm": 0, "attempts": 0},
    )
    db["reminders"].create_index(["status", "due_at"], if_not_exists=True)
    db["reminders"].create_index(["platform", "owner_id", "status"], if_not_exists=True)
    db["reminders"].create_index(["platform", "chat_id", "status"], if_not_exists=True)
    db["user_prefs"].create({"platform": str, "user_id": str, "timezone": str}, pk=("platform", "user_id"), if_not_exists=True)


@MIGRATIONS(name="m005_reminder_claims")
def _m005_reminder_claims(db: sqlite_utils.Database) -> None:
    """Who claimed a reminder (so only a gone process's claims are released), and a snooze copy's original."""
    columns = db["reminders"].columns_dict
    if "claimed_by" not in columns:
        db["reminders"].add_column("claimed_by", str)
    if "parent_id" not in columns:
        db["reminders"].add_column("parent_id", int)
    db["reminders"].create_index(["parent_id"], if_not_exists=True)


@MIGRATIONS(name="m006_reminder_indexes")
def _m006_reminder_indexes(db: sqlite_utils.Database) -> None:
    """Indexes a confirm does not touch, so a sent reminder's commit writes one table page, not seven.

    The due-time index holds pending reminders only (a claim takes a reminder out of it,
    in the claim's one transaction for the whole batch); the per-user and per-chat
    indexes leave out the status, which their queries check on the few rows they find.
    Queries name the status as a literal ('pending'), which is what lets SQLite use the
    partial index.
    """
    for old in ("idx_reminders_status_due_at", "idx_reminders_platform_owner_id_status",
                "idx_reminders_platform_chat_id_status"):
        db.execute(f"drop index if exists {old}")
    db.execute("create index if not exists reminders_pending_due on reminders (due_at) where status = 'pending'")
    db.execute("create index if not exists reminders_owner on reminders (platform, owner_id)")
    db.execute("create index if not exists reminders_chat on reminders (platform, chat_id)")


class LimitReached(Exception):
    """Creating a reminder would go past a limit (per person or per group)."""

    def __init__(self, scope: str, limit: int):
        super().__init__(f"{scope} limit of {limit} active reminders")
        self.scope = scope
        self.limit = limit


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


class ReminderStore(CapabilityStore):
    """Typed access to reminders and time zones; no other module writes their SQL."""

    TABLES = ("reminders", "user_prefs")

    def user_data(self, platform: str, user_id: str) -> dict[str, object]:
        active = self.count_active(platform, owner_id=user_id)
        return {"timezone": self.timezone(platform, user_id), "reminders": active}

    def describe(self, platform: str, user_id: str) -> list[str]:
        lines = [f"• Time zone: {escape(self.timezone(platform, user_id) or 'not set')}"]
        reminders = self.active_reminders(platform, user_id)
        lines.append(f"• Active reminders: {len(reminders)}")
        for reminder in reminders[:20]:
            when = format_local(dt.datetime.fromtimestamp(reminder.due_at, dt.timezone.utc), reminder.tz)
            lines.append(f"   – {escape(when)}: {escape(reminder.text)}")
        return lines

    def forget(self, platform: str, user_id: str) -> None:
        self.db.execute("delete from reminders where platform = ? and owner_id = ?", [platform, user_id])
        self.db.execute("delete from user_prefs where platform = ? and user_id = ?", [platform, user_id])

    def stats(self) -> dict[str, int]:
        """Reminder counts for `img-advisor stats`."""
        one = lambda sql: int(self.db.execute(sql).fetchone()[0] or 0)  # noqa: E731
        return {
            "reminders_pending": one("select count(*) from reminders where status in ('pending', 'claimed')"),
            "reminders_sent": one("select count(*) from reminders where status = 'sent'"),
            "reminders_failed": one("select count(*) from reminders where status = 'failed'"),
        }

    # time zones

    def timezone(self, platform: str, user_id: str) -> str | None:
        """The user's time zone name, if they set one."""
        row = self.db.execute("select timezone from user_prefs where platform = ? and user_id = ?",
                              [platform, user_id]).fetchone()
        return row[0] if row else None

    def set_timezone(self, platform: str, user_id: str, name: str) -> None:
        """Remember the user's time zone."""
        with self.database.write():
            self.db["user_prefs"].upsert({"platform": platform, "user_id": user_id, "timezone": name},
                                         pk=("platform", "user_id"))

    # reminders: creating, listing, cancelling

    def add_reminder(self, *, platform: str, owner_id: str, origin_chat_id: str, chat_id: str, dm: bool,
                     text: str, tz: str, due_at: float, rule: str | None = None,
                     repeat: str | None = None, max_per_owner: int | None = None,
                     max_per_group: int | None = None, parent_id: int | None = None) -> int:
        """Store a new pending reminder and return its id.

        The limits are checked in the same write transaction as the insert, so no path
        (and no second process) can go past them; `LimitReached` says which one held.
        """
        with self.database.write():
            if max_per_group is not None and not dm and \
                    self.count_active(platform, group_chat_id=chat_id) >= max_per_group:
                raise LimitReached("group", max_per_group)
            if max_per_owner is not None and self.count_active(platform, owner_id=owner_id) >= max_per_owner:
                raise LimitReached("owner", max_per_owner)
            table = self.db["reminders"]
            table.insert({
                "platform": platform, "owner_id": owner_id, "origin_chat_id": origin_chat_id,
                "chat_id": chat_id, "dm": int(dm), "text": text, "tz": tz, "rule": rule, "repeat": repeat,
                "due_at": due_at, "status": PENDING, "attempts": 0, "created_at": time.time(),
                "parent_id": parent_id,
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
        """Active reminders of one user, or those posting to one group chat (in any of its threads)."""
        if owner_id is not None:
            where, args = "owner_id = ?", [owner_id]
        else:
            chat = split_thread(group_chat_id or "")[0]
            where, args = "(chat_id = ? or substr(chat_id, 1, ?) = ?) and dm = 0", [chat, len(chat) + 1,
                                                                                  chat + THREAD_MARK]
        return int(self.db.execute(
            f"select count(*) from reminders where platform = ? and {where} and status in (?, ?)",
            [platform, *args, *ACTIVE]).fetchone()[0])

    def cancel_reminder(self, reminder_id: int, platform: str, owner_id: str) -> bool:
        """Cancel one of the user's active reminders; False if it is not theirs or not active."""
        with self.database.write():
            cursor = self.db.execute(
                "update reminders set status = ? where id = ? and platform = ? and owner_id = ? and status in (?, ?)",
                [CANCELLED, reminder_id, platform, owner_id, *ACTIVE])
        return cursor.rowcount == 1

    def snooze(self, reminder: Reminder, due_at: float, max_per_owner: int | None = None,
               max_per_group: int | None = None) -> int:
        """Deliver `reminder` again at `due_at`: a one-off is re-armed, a recurring one gets a one-off copy.

        A recurring reminder has at most one active snooze copy: snoozing again moves it.
        A new copy counts against the limits like any new reminder (`LimitReached`).
        """
        with self.database.write():
            if reminder.rule is None:
                self.db.execute("update reminders set status = ?, due_at = ?, attempts = 0, claimed_at = null, "
                                "claimed_by = null where id = ? and status in (?, ?)",
                                [PENDING, due_at, reminder.id, SENT, PENDING])
                return reminder.id
            copy = self.db.execute("select id from reminders where parent_id = ? and status = ?",
                                   [reminder.id, PENDING]).fetchone()
            if copy is not None:
                self.db.execute("update reminders set due_at = ?, attempts = 0 where id = ?", [due_at, copy[0]])
                return int(copy[0])
            return self.add_reminder(platform=reminder.platform, owner_id=reminder.owner_id,
                                     origin_chat_id=reminder.origin_chat_id, chat_id=reminder.chat_id,
                                     dm=reminder.dm, text=reminder.text, tz=reminder.tz, due_at=due_at,
                                     max_per_owner=max_per_owner, max_per_group=max_per_group,
                                     parent_id=reminder.id)

    # reminders: the delivery cycle (claim, send, confirm)

    def next_due(self) -> float | None:
        """When the soonest pending reminder falls due (epoch seconds), if any."""
        row = self.db.execute("select min(due_at) from reminders where status = 'pending'").fetchone()
        return row[0] if row and row[0] is not None else None

    def claim_due(self, now: float, limit: int = 500, owner: str | None = None) -> list[Reminder]:
        """Atomically mark up to `limit` due reminders as claimed by `owner` and return them."""
        with self.database.write():
            rows = list(self.db["reminders"].rows_where(  # the literal status: the partial index reminders_pending_due
                "status = 'pending' and due_at <= ?", [now], order_by="due_at", limit=limit))
            if rows:
                ids = [r["id"] for r in rows]
                marks = ",".join("?" * len(ids))
                self.db.execute(f"update reminders set status = ?, claimed_at = ?, claimed_by = ? where id in ({marks})",
                                [CLAIMED, now, owner, *ids])
        return [Reminder.from_row(r) for r in rows]

    def release(self, reminder_ids: list[int], owner: str | None = None) -> None:
        """Give claimed reminders back (a clean shutdown before they were sent); only `owner`'s, if given."""
        if not reminder_ids:
            return
        marks = ",".join("?" * len(reminder_ids))
        mine = "" if owner is None else " and claimed_by = ?"
        with self.database.write():
            self.db.execute(f"update reminders set status = ?, claimed_at = null, claimed_by = null "
                            f"where status = ? and id in ({marks}){mine}",
                            [PENDING, CLAIMED, *reminder_ids, *([owner] if owner is not None else [])])

    def release_claims(self, keep_owner: str | None = None) -> int:
        """Claims whose owner is gone go back to pending, to be sent (again).

        Called by the process that has just taken the delivery lease: every claim not
        its own (`keep_owner`) was left by a process that crashed or stopped renewing.
        """
        with self.database.write():
            cursor = self.db.execute(
                "update reminders set status = ?, claimed_at = null, claimed_by = null "
                "where status = ? and (claimed_by is null or claimed_by != ?)", [PENDING, CLAIMED, keep_owner or ""])
        return cursor.rowcount

    def release_own(self, owner: str) -> int:
        """`owner`'s claims go back to pending (its deliveries were interrupted by a store fault)."""
        with self.database.write():
            cursor = self.db.execute("update reminders set status = ?, claimed_at = null, claimed_by = null "
                                     "where status = ? and claimed_by = ?", [PENDING, CLAIMED, owner])
        return cursor.rowcount

    def confirm_sent(self, reminder_id: int, sent_at: float, next_due: float | None) -> None:
        """After a successful send: a one-off is done, a recurring one moves to its next time."""
        with self.database.write():
            if next_due is None:
                self.db.execute("update reminders set status = ?, sent_at = ?, attempts = 0, claimed_by = null "
                                "where id = ?", [SENT, sent_at, reminder_id])
            else:
                self.db.execute("update reminders set status = ?, sent_at = ?, due_at = ?, attempts = 0, "
                                "claimed_at = null, claimed_by = null where id = ?",
                                [PENDING, sent_at, next_due, reminder_id])

    def retry_later(self, reminder_id: int, due_at: float, error: str) -> None:
        """A transient failure: try again at `due_at`, counting the attempt."""
        with self.database.write():
            self.db.execute("update reminders set status = ?, due_at = ?, attempts = attempts + 1, "
                            "last_error = ?, claimed_at = null, claimed_by = null where id = ?",
                            [PENDING, due_at, error, reminder_id])

    def hold(self, reminder_id: int, due_at: float) -> None:
        """Postpone a claimed reminder without counting an attempt (a group's quiet hours)."""
        with self.database.write():
            self.db.execute("update reminders set status = ?, due_at = ?, claimed_at = null, claimed_by = null "
                            "where id = ?", [PENDING, due_at, reminder_id])

    def retire(self, reminder_id: int, reason: str) -> None:
        """A permanent failure (blocked, chat gone, too many retries): stop, keeping the reason."""
        with self.database.write():
            self.db.execute("update reminders set status = ?, last_error = ?, claimed_by = null where id = ?",
                            [FAILED, reason, reminder_id])

    def move_chat(self, platform: str, old_chat_id: str, new_chat_id: str) -> int:
        """A chat changed id (Telegram group -> supergroup): its reminders follow it."""
        with self.database.write():
            cursor = self.db.execute(
                "update reminders set chat_id = ? where platform = ? and chat_id = ? and dm = 0",
                [new_chat_id, platform, old_chat_id])
            self.db.execute("update reminders set origin_chat_id = ? where platform = ? and origin_chat_id = ?",
                            [new_chat_id, platform, old_chat_id])
        return cursor.rowcount
