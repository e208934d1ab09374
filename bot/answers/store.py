"""The answers capability's tables: votes on entries, unanswered questions, and who may remove a group answer.

Every row about a person is keyed by the keyed hash `Database.pseudonym`, never the
user or chat id: votes (one per person per entry), questions the bot could not answer
or that were voted 👎 (one per person per question, or per person per entry for 👎),
and the server-side record behind a group answer's 🗑 button (which person asked).
So `/forget` finds and deletes them all, and a curator's report names no one.
"""

from __future__ import annotations

import hashlib
import secrets

import sqlite_utils

from bot.database import MIGRATIONS, CapabilityStore, best_effort

REMOVABLE_FOR = 48 * 3600.0
"""How long a group answer's 🗑 button works (Telegram lets bots delete messages for 48 hours)."""
MAX_REMOVABLE_PER_CHAT = 500
"""The newest answers per chat whose 🗑 button works; older records are dropped."""
TOKEN_LENGTH = 12


@MIGRATIONS(name="m004_answers")
def _m004_answers(db: sqlite_utils.Database) -> None:
    """Feedback votes (voters keyed by a keyed hash, never the id) and unanswered questions (no ids)."""
    db["feedback"].create({"platform": str, "voter": str, "entry_id": str, "vote": int, "at": float},
                          pk=("platform", "voter", "entry_id"), if_not_exists=True)
    db["misses"].create({"id": int, "platform": str, "question": str, "reason": str, "nearest": str,
                         "score": float, "at": float}, pk="id", if_not_exists=True)


@MIGRATIONS(name="m005_answers_askers")
def _m005_answers_askers(db: sqlite_utils.Database) -> None:
    """Misses keyed by the asker's keyed hash (so /forget deletes them, and a repeat is one row); removal records."""
    columns = db["misses"].columns_dict
    for name in ("asker", "subject"):
        if name not in columns:
            db["misses"].add_column(name, str)
    db.execute("create unique index if not exists misses_once on misses (platform, asker, reason, subject)")
    db["removable_answers"].create({"platform": str, "chat_id": str, "token": str, "asker": str, "at": float},
                                   pk=("platform", "chat_id", "token"), if_not_exists=True)
    db["removable_answers"].create_index(["platform", "chat_id", "at"], if_not_exists=True)


def _subject(reason: str, question: str, nearest: str | None) -> str:
    """What makes a miss the same miss: the entry for a 👎, the question itself otherwise."""
    if reason == "downvote" and nearest:
        return f"entry:{nearest}"
    return "q:" + hashlib.sha256(question.strip().lower().encode()).hexdigest()[:24]


class AnswerStore(CapabilityStore):
    """Votes and misses: what curators need to improve the knowledge base."""

    TABLES = ("feedback", "misses", "removable_answers")

    def user_data(self, platform: str, user_id: str) -> dict[str, object]:
        voter = self.database.pseudonym(platform, user_id)
        count = lambda table, column: int(self.db.execute(  # noqa: E731
            f"select count(*) from {table} where platform = ? and {column} = ?", [platform, voter]).fetchone()[0])
        return {"votes": count("feedback", "voter"), "questions_kept": count("misses", "asker")}

    def describe(self, platform: str, user_id: str) -> list[str]:
        data = self.user_data(platform, user_id)
        return [f"• Helpful/not-helpful votes: {data['votes']} (stored under a one-way code, not your id)",
                f"• Questions I could not answer (or you voted 👎), kept to improve the answers: "
                f"{data['questions_kept']} (under the same code)"]

    def forget(self, platform: str, user_id: str) -> None:
        """Votes, kept questions and removal records: everything under the user's keyed hash."""
        key = self.database.pseudonym(platform, user_id)
        self.db.execute("delete from feedback where platform = ? and voter = ?", [platform, key])
        self.db.execute("delete from misses where platform = ? and asker = ?", [platform, key])
        self.db.execute("delete from removable_answers where platform = ? and asker = ?", [platform, key])

    def stats(self) -> dict[str, int]:
        one = lambda sql: int(self.db.execute(sql).fetchone()[0] or 0)  # noqa: E731
        return {"unanswered_questions": one("select count(*) from misses"), "votes": one("select count(*) from feedback")}

    def vote(self, platform: str, user_id: str, entry_id: str, helpful: bool, at: float) -> bool:
        """Record (or change) one person's vote on an entry; True if it is new. A 👍 withdraws their 👎's miss."""
        voter = self.database.pseudonym(platform, user_id)
        with self.database.write():
            existed = self.db.execute("select 1 from feedback where platform = ? and voter = ? and entry_id = ?",
                                      [platform, voter, entry_id]).fetchone()
            self.db["feedback"].upsert({"platform": platform, "voter": voter, "entry_id": entry_id,
                                        "vote": int(helpful), "at": at}, pk=("platform", "voter", "entry_id"))
            if helpful:
                self.db.execute("delete from misses where platform = ? and asker = ? and reason = 'downvote' and "
                                "subject = ?", [platform, voter, _subject("downvote", "", entry_id)])
        return existed is None

    def feedback_by_entry(self) -> list[tuple[str, int, int]]:
        """(entry id, helpful votes, unhelpful votes) for every entry with votes."""
        return [(r[0], r[1], r[2]) for r in self.db.execute(
            "select entry_id, sum(vote = 1), sum(vote = 0) from feedback group by entry_id")]

    @best_effort
    def record_miss(self, platform: str, question: str, reason: str, nearest: str | None, score: float | None,
                    at: float, user_id: str | None = None) -> None:
        """Keep a question the bot could not answer well, under the asker's keyed hash (never an id).

        Idempotent per person: the same question (or a 👎 on the same entry) again updates
        the one row instead of adding another.
        """
        asker = self.database.pseudonym(platform, user_id) if user_id is not None else None
        with self.database.write():
            self.db.execute(
                "insert into misses (platform, asker, subject, question, reason, nearest, score, at) "
                "values (?, ?, ?, ?, ?, ?, ?, ?) on conflict(platform, asker, reason, subject) do update set "
                "question = excluded.question, nearest = excluded.nearest, score = excluded.score, at = excluded.at",
                [platform, asker, _subject(reason, question, nearest), question[:500], reason, nearest, score, at])

    def misses(self) -> list[dict]:
        return list(self.db["misses"].rows_where(order_by="at desc"))

    # who may remove a group answer (the 🗑 button carries only an unguessable token)

    @best_effort
    def remember_asker(self, platform: str, chat_id: str, user_id: str, at: float) -> str | None:
        """Record who asked for an answer posted in a group; the token for its 🗑 button (None: not recorded)."""
        token = secrets.token_urlsafe(9)
        with self.database.write():
            self.db.execute("delete from removable_answers where platform = ? and chat_id = ? and (at < ? or token in "
                            "(select token from removable_answers where platform = ? and chat_id = ? "
                            "order by at desc limit -1 offset ?))",
                            [platform, chat_id, at - REMOVABLE_FOR, platform, chat_id, MAX_REMOVABLE_PER_CHAT - 1])
            self.db["removable_answers"].insert({"platform": platform, "chat_id": chat_id, "token": token,
                                                 "asker": self.database.pseudonym(platform, user_id), "at": at})
        return token

    def take_removal(self, platform: str, chat_id: str, token: str, user_id: str, is_admin: bool,
                     now: float) -> str:
        """May `user_id` remove the answer behind `token` in this chat? "removed" (the record is used up),
        "not yours", or "unknown" (forged, from another chat, already removed, or too old)."""
        with self.database.write():
            row = self.db.execute("select asker, at from removable_answers where platform = ? and chat_id = ? and "
                                  "token = ?", [platform, chat_id, token]).fetchone()
            if row is None or now - row[1] > REMOVABLE_FOR:
                return "unknown"
            if row[0] != self.database.pseudonym(platform, user_id) and not is_admin:
                return "not yours"
            self.db.execute("delete from removable_answers where platform = ? and chat_id = ? and token = ?",
                            [platform, chat_id, token])
        return "removed"
