"""The answers capability's tables: votes on entries (under a keyed hash) and unanswered questions."""

from __future__ import annotations

import sqlite_utils

from bot.database import MIGRATIONS, Database, best_effort


@MIGRATIONS(name="m004_answers")
def _m004_answers(db: sqlite_utils.Database) -> None:
    """Feedback votes (voters keyed by a keyed hash, never the id) and unanswered questions (no ids)."""
    db["feedback"].create({"platform": str, "voter": str, "entry_id": str, "vote": int, "at": float},
                          pk=("platform", "voter", "entry_id"), if_not_exists=True)
    db["misses"].create({"id": int, "platform": str, "question": str, "reason": str, "nearest": str,
                         "score": float, "at": float}, pk="id", if_not_exists=True)


class AnswerStore:
    """Votes and misses: what curators need to improve the knowledge base."""

    TABLES = ("feedback", "misses")

    def __init__(self, database: Database):
        self.database = database
        self.db = database.db
        database.register(self)

    def user_data(self, platform: str, user_id: str) -> dict[str, object]:
        voter = self.database.pseudonym(platform, user_id)
        votes = self.db.execute("select count(*) from feedback where platform = ? and voter = ?",
                                [platform, voter]).fetchone()[0]
        return {"votes": int(votes)}

    def describe(self, platform: str, user_id: str) -> list[str]:
        votes = self.user_data(platform, user_id)["votes"]
        return [f"• Helpful/not-helpful votes: {votes} (stored under a one-way code, not your id)"]

    def forget(self, platform: str, user_id: str) -> None:
        """Votes go; misses carry no user id, so there is nothing of the user's to find there."""
        self.db.execute("delete from feedback where platform = ? and voter = ?",
                        [platform, self.database.pseudonym(platform, user_id)])

    def stats(self) -> dict[str, int]:
        one = lambda sql: int(self.db.execute(sql).fetchone()[0] or 0)  # noqa: E731
        return {"unanswered_questions": one("select count(*) from misses"), "votes": one("select count(*) from feedback")}

    def vote(self, platform: str, user_id: str, entry_id: str, helpful: bool, at: float) -> bool:
        """Record (or change) one person's vote on an entry; True if it is new."""
        voter = self.database.pseudonym(platform, user_id)
        with self.database.write():
            existed = self.db.execute("select 1 from feedback where platform = ? and voter = ? and entry_id = ?",
                                      [platform, voter, entry_id]).fetchone()
            self.db["feedback"].upsert({"platform": platform, "voter": voter, "entry_id": entry_id,
                                        "vote": int(helpful), "at": at}, pk=("platform", "voter", "entry_id"))
        return existed is None

    def feedback_by_entry(self) -> list[tuple[str, int, int]]:
        """(entry id, helpful votes, unhelpful votes) for every entry with votes."""
        return [(r[0], r[1], r[2]) for r in self.db.execute(
            "select entry_id, sum(vote = 1), sum(vote = 0) from feedback group by entry_id")]

    @best_effort
    def record_miss(self, platform: str, question: str, reason: str, nearest: str | None, score: float | None,
                    at: float) -> None:
        """Keep a question the bot could not answer well; no user or chat id is stored."""
        with self.database.write():
            self.db["misses"].insert({"platform": platform, "question": question[:500], "reason": reason,
                                      "nearest": nearest, "score": score, "at": at})

    def misses(self) -> list[dict]:
        return list(self.db["misses"].rows_where(order_by="at desc"))
