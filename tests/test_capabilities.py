"""Each capability owns its tables: an old database upgrades in place, and no table is forgotten by /forget."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.advisor import Advisor
from bot.answers.store import AnswerStore
from bot.database import PLUMBING_TABLES, Database, schema_version
from bot.groups.store import GroupStore
from bot.knowledge import KnowledgeBase
from bot.quizzes.store import QuizStore
from bot.reminders.store import PENDING, ReminderStore
from tests.fakes import TEST_LIMITS

FIXTURE = Path(__file__).parent / "fixtures" / "release-0.1.0.db"
"""Written by release 0.1.0 (one flat Store): two reminders, a time zone, a quiz session and result,
a vote, a group's settings, an unanswered question and an activity row."""


def test_a_database_written_by_the_first_release_upgrades_in_place(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    shutil.copy(FIXTURE, path)
    database = Database.open(path)
    assert database.schema_version == schema_version()

    reminders = ReminderStore(database)
    mine = reminders.active_reminders("telegram", "111")
    assert [(r.text, r.status, r.dm) for r in mine] == [("book OET", PENDING, True),
                                                         ("weekly study group", PENDING, False)]
    assert mine[1].rule == "weekly:0:18:00"
    assert reminders.timezone("telegram", "111") == "Asia/Karachi"

    quizzes = QuizStore(database)
    session = quizzes.quiz_session("telegram", "111")
    assert session is not None and session["quiz_id"] == "visa" and session["answers"] == {"status": "img"}
    assert [(q, a) for q, a, _ in quizzes.quiz_results("discord", "222")] == [("usce", {"stage": "graduate"})]

    answers = AnswerStore(database)
    assert answers.feedback_by_entry() == [("observership-cost", 1, 0)]
    assert [m["question"] for m in answers.misses()] == ["how to renew my passport"]
    assert answers.user_data("telegram", "111")["votes"] == 1  # the pseudonym key survived

    settings = GroupStore(database).chat_settings("telegram", "-100")
    assert settings.auto_answer and settings.threshold == 0.6
    assert (settings.quiet_start, settings.quiet_end, settings.quiet_tz) == ("22:00", "07:00", "Asia/Karachi")
    database.close()

    again = Database.open(path)  # a second start runs no migration twice
    assert again.schema_version == schema_version()
    again.close()


def test_every_table_belongs_to_a_capability_that_answers_mydata_and_forget(kb: KnowledgeBase) -> None:
    database = Database.in_memory()
    Advisor(kb, database, limits=TEST_LIMITS)
    tables = {row[0] for row in database.db.execute(
        "select name from sqlite_master where type = 'table' and name not like 'sqlite_%'")}
    covered = {table for holder in database.holders for table in holder.TABLES}
    assert tables - covered - set(PLUMBING_TABLES) == set(), "a table no capability owns: /forget would miss it"
    assert covered <= tables


async def test_forget_leaves_no_row_with_the_users_id_or_pseudonym(tmp_path: Path, kb: KnowledgeBase) -> None:
    path = tmp_path / "bot.db"
    shutil.copy(FIXTURE, path)
    database = Database.open(path)
    Advisor(kb, database, limits=TEST_LIMITS)
    user_keys = {"111", database.pseudonym("telegram", "111")}
    database.forget_user("telegram", "111")
    for table in {t for holder in database.holders for t in holder.TABLES}:
        rows = database.db.execute(f"select * from {table} where platform = 'telegram'").fetchall()
        assert not [row for row in rows if user_keys & {str(v) for v in row}], table
    database.close()


async def test_forget_through_the_bot_leaves_no_row_with_the_users_id_pseudonym_or_texts(
        tmp_path: Path, kb: KnowledgeBase) -> None:
    """Everything a user can leave behind, then /forget: every column of every table is searched."""
    from bot.events import Incoming

    database = Database.open(tmp_path / "bot.db")
    advisor = Advisor(kb, database, limits=TEST_LIMITS)
    user, group_id = "70707070", "-100555"
    texts = ["zebrafish quantum passport xyzzy", "plover vermilion embassy frobnicate", "call Dr Quokka at noon",
             "wombat visa interview plugh"]

    def private(text: str = "", action: str | None = None) -> Incoming:
        return Incoming("telegram", user, user, "Amina", True, text, action, True)

    def in_group(text: str = "", action: str | None = None) -> Incoming:
        return Incoming("telegram", group_id, user, "Amina", False, text, action, True, True)

    async def buttons(event: Incoming) -> list[str]:
        return [b.action for r in await advisor.handle(event) for row in r.buttons for b in row]

    await advisor.handle(private("/timezone Karachi"))
    await advisor.handle(private(texts[0]))  # unanswered: kept for curators
    await advisor.handle(in_group(texts[1]))  # unanswered in a group, too
    await advisor.handle(private(f"/remind tomorrow 9am {texts[2]}"))
    await advisor.handle(in_group(f"/remind every monday 9am {texts[3]}"))  # a group reminder they own
    answer = await buttons(private("how much does an observership cost"))
    await advisor.handle(private(action=next(a for a in answer if a.endswith(":0"))))  # 👎, with the question
    group_answer = await buttons(in_group("is step 1 pass fail"))
    await advisor.handle(in_group(action=next(a for a in group_answer if a.endswith(":1"))))
    assert any(a.startswith("del:") for a in group_answer)
    quiz = await buttons(private("/quiz usce"))
    await advisor.handle(private(action=quiz[0]))  # a quiz in progress
    await advisor.handle(private(action="quiz:go:visa"))
    advisor.usage.flush_counts()
    pseudonym = database.pseudonym("telegram", user)
    keys = [user, pseudonym, *texts]

    def found() -> list[tuple[str, str]]:
        hits = []
        tables = [r[0] for r in database.db.execute("select name from sqlite_master where type = 'table'")]
        for table in tables:
            for row in database.db.execute(f"select * from [{table}]"):
                for value in row:
                    hits += [(table, key) for key in keys if key in str(value)]
        return hits

    before = {table for table, _ in found()}
    assert {"reminders", "user_prefs", "quiz_sessions", "feedback", "misses", "removable_answers",
            "activity"} <= before
    await advisor.handle(private(action="forget:yes"))
    assert found() == []
    assert not any(a.user_id == user for a in advisor.answers._asked.values())  # nor in memory
    assert not any(key[1] == user for key in advisor.usage._seen)
    database.close()
