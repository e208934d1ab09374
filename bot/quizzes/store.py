"""The quizzes capability's tables: each user's quiz in progress and last result per quiz."""

from __future__ import annotations

import json

import sqlite_utils

from bot.database import MIGRATIONS, CapabilityStore
from bot.markup import escape


@MIGRATIONS()
def m003_quizzes(db: sqlite_utils.Database) -> None:
    """Quiz progress (one active quiz per user) and each user's last result per quiz."""
    db["quiz_sessions"].create(
        {"platform": str, "user_id": str, "quiz_id": str, "question_id": str, "answers": str,
         "history": str, "updated_at": float},
        pk=("platform", "user_id"), not_null={"quiz_id", "question_id", "answers", "history", "updated_at"},
        if_not_exists=True)
    db["quiz_results"].create(
        {"platform": str, "user_id": str, "quiz_id": str, "answers": str, "finished_at": float},
        pk=("platform", "user_id", "quiz_id"), not_null={"answers", "finished_at"}, if_not_exists=True)


class QuizStore(CapabilityStore):
    """Quiz sessions (one active quiz per user) and results."""

    TABLES = ("quiz_sessions", "quiz_results")

    def user_data(self, platform: str, user_id: str) -> dict[str, object]:
        count = lambda table: int(self.db.execute(  # noqa: E731
            f"select count(*) from {table} where platform = ? and user_id = ?", [platform, user_id]).fetchone()[0])
        return {"quiz_in_progress": count("quiz_sessions"), "quiz_results": count("quiz_results")}

    def describe(self, platform: str, user_id: str) -> list[str]:
        session = self.quiz_session(platform, user_id)
        results = self.quiz_results(platform, user_id)
        return [f"• Quiz in progress: {escape(session['quiz_id']) if session else 'none'}",
                f"• Quiz results kept: {', '.join(escape(q) for q, _, _ in results) or 'none'}"]

    def forget(self, platform: str, user_id: str) -> None:
        for table in self.TABLES:
            self.db.execute(f"delete from {table} where platform = ? and user_id = ?", [platform, user_id])

    def stats(self) -> dict[str, int]:
        return {"quiz_results": int(self.db.execute("select count(*) from quiz_results").fetchone()[0])}


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
        with self.database.write():
            self.db["quiz_sessions"].upsert(
                {"platform": platform, "user_id": user_id, "quiz_id": quiz_id, "question_id": question_id,
                 "answers": json.dumps(answers), "history": json.dumps(history), "updated_at": now},
                pk=("platform", "user_id"))

    def end_quiz_session(self, platform: str, user_id: str) -> None:
        with self.database.write():
            self.db.execute("delete from quiz_sessions where platform = ? and user_id = ?", [platform, user_id])

    def finish_quiz(self, platform: str, user_id: str, quiz_id: str, answers: dict[str, str], now: float) -> None:
        """Keep the result and close the session, atomically."""
        with self.database.write():
            self.db["quiz_results"].upsert(
                {"platform": platform, "user_id": user_id, "quiz_id": quiz_id,
                 "answers": json.dumps(answers), "finished_at": now}, pk=("platform", "user_id", "quiz_id"))
            self.db.execute("delete from quiz_sessions where platform = ? and user_id = ?", [platform, user_id])

    def quiz_results(self, platform: str, user_id: str) -> list[tuple[str, dict[str, str], float]]:
        """The user's last result per quiz: (quiz_id, answers, finished_at)."""
        return [(r["quiz_id"], json.loads(r["answers"]), r["finished_at"]) for r in self.db["quiz_results"].rows_where(
            "platform = ? and user_id = ?", [platform, user_id], order_by="finished_at desc")]
