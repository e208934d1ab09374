"""Group etiquette and the knowledge-growing loop: limits, cooldowns, quiet hours, votes, reports, reload."""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.advisor import Advisor
from bot.answers.reports import cluster_misses, misses_table
from bot.answers.store import AnswerStore
from bot.config import bundled_knowledge_dir
from bot.database import Database
from bot.events import Incoming
from bot.groups.throttle import Limits
from bot.knowledge import KnowledgeBase
from bot.reminders.scheduler import Scheduler
from bot.reminders.store import ReminderStore
from tests.fakes import TEST_LIMITS, FakeClock, RecordingNotifier

START = dt.datetime(2025, 10, 1, 6, 0, tzinfo=dt.timezone.utc)


def private(text: str = "", action: str | None = None, user: str = "u1") -> Incoming:
    return Incoming("test", user, user, "Amina", True, text, action, True)


def group(text: str = "", action: str | None = None, user: str = "u1", admin: bool = False,
          addressed: bool = True) -> Incoming:
    return Incoming("test", "-100", user, "Amina", False, text, action, addressed, admin)


async def test_a_flood_gets_one_polite_notice_then_silence(kb: KnowledgeBase) -> None:
    advisor = Advisor(kb, Database.in_memory(), limits=Limits(per_user="3/minute", per_chat="100/minute"))
    answers = [await advisor.handle(private("is step 1 pass fail")) for _ in range(6)]
    assert all("pass/fail" in a[0].text for a in answers[:3])
    assert "faster than I can answer" in answers[3][0].text
    assert answers[4] == [] and answers[5] == []
    other = await advisor.handle(private("is step 1 pass fail", user="u2"))
    assert "pass/fail" in other[0].text  # one user's flood does not silence others


async def test_a_busy_group_is_limited_as_a_whole(kb: KnowledgeBase) -> None:
    advisor = Advisor(kb, Database.in_memory(), limits=Limits(per_user="100/minute", per_chat="4/minute"))
    replies = [await advisor.handle(group("/help", user=f"user{i}")) for i in range(6)]
    assert sum(bool(r) and "/topics" in r[0].text for r in replies) == 4
    assert "faster than I can answer" in replies[4][0].text and replies[5] == []


async def test_the_cooldown_ends_and_the_answer_can_be_posted_again(kb: KnowledgeBase) -> None:
    clock = FakeClock(START)
    advisor = Advisor(kb, Database.in_memory(), clock, limits=TEST_LIMITS)
    assert "Observership fees" in (await advisor.handle(group("observership fees")))[0].text
    assert "I answered" in (await advisor.handle(group("observership fees")))[0].text
    clock.advance(dt.timedelta(minutes=11))
    assert "Observership fees" in (await advisor.handle(group("observership fees")))[0].text


async def test_group_reminders_wait_for_the_end_of_quiet_hours(kb: KnowledgeBase) -> None:
    clock, notifier, store = FakeClock(START), RecordingNotifier(), Database.in_memory()
    advisor = Advisor(kb, store, clock, limits=TEST_LIMITS)
    scheduler = Scheduler(store, {"test": notifier}, advisor.reminders.render_delivery, clock)
    await advisor.handle(group("/settings quiet 06:00-08:00", admin=True))
    await advisor.handle(group("/remind in 1 hour group call", admin=True))
    clock.advance(dt.timedelta(hours=1))
    await scheduler.dispatch_due()
    assert notifier.sent == []
    assert ReminderStore(store).next_due() == dt.datetime(2025, 10, 1, 8, 0, tzinfo=dt.timezone.utc).timestamp()
    clock.advance(dt.timedelta(hours=1))
    await scheduler.dispatch_due()
    assert len(notifier.sent) == 1 and "group call" in notifier.sent[0][1].text


async def test_one_vote_per_person_per_entry_and_no_user_ids_stored(kb: KnowledgeBase) -> None:
    store = Database.in_memory()
    advisor = Advisor(kb, store, limits=TEST_LIMITS)
    reply = (await advisor.handle(private("observership fees")))[0]
    up, down = [b.action for row in reply.buttons for b in row if b.action.startswith("fb:")]
    await advisor.handle(private(action=up))
    await advisor.handle(private(action=down))
    await advisor.handle(private(action=down))
    assert AnswerStore(store).feedback_by_entry() == [("observership-cost", 0, 1)]
    voters = [row["voter"] for row in store.db["feedback"].rows]
    assert voters and all(v != "u1" and len(v) == 32 for v in voters)  # a keyed hash, not the user id
    assert "observership fees" in [m["question"] for m in AnswerStore(store).misses()]


async def test_unanswered_questions_are_kept_only_with_the_chats_consent(kb: KnowledgeBase) -> None:
    store = Database.in_memory()
    advisor = Advisor(kb, store, limits=TEST_LIMITS)
    await advisor.handle(group("zumba classes near the hospital", addressed=True))
    assert len(AnswerStore(store).misses()) == 1
    await advisor.handle(group("/settings", admin=True))
    await advisor.handle(group(action="set:rm:0", admin=True))
    await advisor.handle(group("how to get a parking permit at the hospital"))
    assert len(AnswerStore(store).misses()) == 1
    assert set(AnswerStore(store).misses()[0]) >= {"question", "reason"} and "user_id" not in AnswerStore(store).misses()[0]


async def test_report_misses_clusters_similar_questions_with_the_nearest_entry(kb: KnowledgeBase) -> None:
    store = Database.in_memory()
    advisor = Advisor(kb, store, limits=TEST_LIMITS)
    for text in ["how to renew my passport", "passport renewal how", "renew passport fast",
                 "parking at the hospital", "hospital parking permit", "zumba classes"]:
        await advisor.handle(private(text))
    clusters = cluster_misses(AnswerStore(store), advisor.faq)
    assert [c.count for c in clusters] == [3, 2, 1] and "passport" in clusters[0].example
    table = misses_table(clusters)
    assert table.splitlines()[0].startswith("count") and "zumba" in table
    assert misses_table(clusters, as_csv=True).startswith("count,example question")


def test_report_command_prints_and_writes_csv(kb: KnowledgeBase, tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    store = Database.open(db)
    AnswerStore(store).record_miss("telegram", "how to renew my passport", "none", None, None, 0.0)
    AnswerStore(store).record_miss("telegram", "renew passport how", "none", None, None, 0.0)
    store.close()
    env = {**os.environ, "IMG_ADVISOR_DB": str(db)}
    run = lambda *a: subprocess.run([sys.executable, "-m", "adapters.cli", "report", *a], env=env,  # noqa: E731
                                    capture_output=True, text=True, timeout=60)
    done = run("misses")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[2].split()[:5] == ["2", "how", "to", "renew", "my"]
    done = run("feedback", "--csv", str(tmp_path / "fb.csv"))
    assert done.returncode == 0 and (tmp_path / "fb.csv").read_text().startswith("entry,title")


async def test_reload_swaps_a_good_knowledge_base_and_refuses_a_broken_one(kb: KnowledgeBase, tmp_path: Path) -> None:
    kb_dir = tmp_path / "knowledge"
    shutil.copytree(bundled_knowledge_dir(), kb_dir)
    advisor = Advisor(kb, Database.in_memory(), limits=TEST_LIMITS, owners=frozenset({"test:owner"}),
                      knowledge_dir=kb_dir)
    costs = kb_dir / "faq" / "costs.yaml"
    costs.write_text(costs.read_text().replace("title: Observership fees", "title: Observership prices"))
    reply = await advisor.handle(private("/reload", user="owner"))
    assert f"Reloaded: {len(kb.entries)} entries" in reply[0].text
    assert "Observership prices" in (await advisor.handle(private("observership fees")))[0].text
    costs.write_text(costs.read_text() + "\n- id: [broken\n")
    reply = await advisor.handle(private("/reload", user="owner"))
    assert "Reload refused" in reply[0].text and "faq/costs.yaml" in reply[0].text
    assert "Observership prices" in (await advisor.handle(private("observership fees")))[0].text
    assert "Only the bot's owners" in (await advisor.handle(private("/reload", user="stranger")))[0].text


async def test_logs_carry_no_message_text_unless_switched_on(kb: KnowledgeBase,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    secret_question = "my visa was refused twice what now"
    with caplog.at_level(logging.DEBUG):
        await Advisor(kb, Database.in_memory(), limits=TEST_LIMITS).handle(private(secret_question))
    assert secret_question not in caplog.text
    with caplog.at_level(logging.DEBUG):
        await Advisor(kb, Database.in_memory(), limits=TEST_LIMITS, log_text=True).handle(private(secret_question))
    assert secret_question in caplog.text
