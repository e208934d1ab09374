"""The groups capability's tables: each chat's settings and its recent answers (cooldowns)."""

from __future__ import annotations

import time
from dataclasses import dataclass, fields

import sqlite_utils

from bot.database import MIGRATIONS, CapabilityStore, best_effort
from bot.events import split_thread


@MIGRATIONS()
def m001_chat_settings(db: sqlite_utils.Database) -> None:
    """Per-chat settings that chat admins change."""
    db["chat_settings"].create(
        {"platform": str, "chat_id": str, "auto_answer": int, "updated_at": float},
        pk=("platform", "chat_id"), not_null={"auto_answer"}, defaults={"auto_answer": 0}, if_not_exists=True)


@MIGRATIONS(name="m004_group_settings")
def _m004_group_settings(db: sqlite_utils.Database) -> None:
    """Thresholds, quiet hours, reply style and consent to keep misses; answer cooldowns."""
    table = db["chat_settings"]
    columns = table.columns_dict
    for name, kind, default in (("threshold", float, None), ("members_remind", int, 0), ("quiet_start", str, None),
                                ("quiet_end", str, None), ("quiet_tz", str, None), ("reply_style", str, "full"),
                                ("record_misses", int, 1)):
        if name not in columns:
            table.add_column(name, kind, not_null_default=default)
    db["recent_answers"].create({"platform": str, "chat_id": str, "entry_id": str, "answered_at": float},
                                pk=("platform", "chat_id", "entry_id"), if_not_exists=True)


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


class GroupStore(CapabilityStore):
    """Chat settings and answer cooldowns. Nothing here is about a single user."""

    TABLES = ("chat_settings", "recent_answers")

    def forget(self, platform: str, user_id: str) -> None:
        """Chat settings and cooldowns name chats, never users: nothing to delete."""

    def chat_settings(self, platform: str, chat_id: str) -> ChatSettings:
        """A chat's settings (defaults when admins never changed any); a thread has its chat's settings."""
        chat_id = split_thread(chat_id)[0]
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
        with self.database.write():
            self.db["chat_settings"].upsert({"platform": platform, "chat_id": chat_id, "updated_at": time.time(),
                                             **row}, pk=("platform", "chat_id"))
        return ChatSettings(**merged)

    def auto_answer(self, platform: str, chat_id: str) -> bool:
        """Whether admins of this chat let the bot answer confident matches unasked."""
        return self.chat_settings(platform, chat_id).auto_answer

    def set_auto_answer(self, platform: str, chat_id: str, on: bool) -> None:
        """Turn auto-answer on or off for a chat."""
        self.update_chat_settings(platform, chat_id, auto_answer=on)

    def last_answered(self, platform: str, chat_id: str, entry_id: str) -> float | None:
        """When an entry was last answered in a chat (for the cooldown)."""
        row = self.db.execute("select answered_at from recent_answers where platform = ? and chat_id = ? and "
                              "entry_id = ?", [platform, chat_id, entry_id]).fetchone()
        return row[0] if row else None

    @best_effort
    def mark_answered(self, platform: str, chat_id: str, entry_id: str, at: float) -> None:
        with self.database.write():
            self.db["recent_answers"].upsert({"platform": platform, "chat_id": chat_id, "entry_id": entry_id,
                                              "answered_at": at}, pk=("platform", "chat_id", "entry_id"))

    def move_chat(self, platform: str, old_chat_id: str, new_chat_id: str) -> None:
        """A chat changed id (Telegram group -> supergroup): its settings and cooldowns follow it.

        Anything the new chat already has of its own wins; the old chat's rows are removed.
        """
        with self.database.write():
            for table in self.TABLES:
                self.db.execute(f"update or ignore {table} set chat_id = ? where platform = ? and chat_id = ?",
                                [new_chat_id, platform, old_chat_id])
                self.db.execute(f"delete from {table} where platform = ? and chat_id = ?", [platform, old_chat_id])
