"""Limits hold on every path that creates something; repeats are idempotent; memory is bounded; /forget forgets all."""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest

from bot.advisor import Advisor
from bot.answers import service as answer_service
from bot.database import Database
from bot.events import Incoming
from bot.knowledge import KnowledgeBase
from bot.reminders.service import MAX_PER_USER
from bot.usage import store as usage_store
from tests.fakes import TEST_LIMITS, FakeClock

START = dt.datetime(2025, 10, 1, 6, 0, tzinfo=dt.timezone.utc)
MENTION = re.compile(r"(?<!\w)@[\w!&]|<[@#]")


def private(text: str = "", action: str | None = None, user: str = "u1") -> Incoming:
    return Incoming("test", user, user, "Amina", True, text, action, True)


def group(text: str = "", action: str | None = None, user: str = "u1", admin: bool = False) -> Incoming:
    return Incoming("test", "-100", user, "Amina", False, text, action, True, admin)


def active(store: Database, user: str = "u1") -> int:
    return store.db.execute("select count(*) from reminders where owner_id = ? and status in ('pending', 'claimed')",
                            [user]).fetchone()[0]


async def test_snoozing_a_repeating_reminder_300_times_keeps_one_copy_and_the_limit(kb: KnowledgeBase) -> None:
    store = Database.in_memory()
    advisor = Advisor(kb, store, FakeClock(START), limits=TEST_LIMITS)
    await advisor.handle(private("/remind every day at 20:00 study"))
    repeating = store.db.execute("select id from reminders").fetchone()[0]
    for _ in range(300):
        replies = await advisor.handle(private(action=f"rem:snz:{repeating}:60"))
        assert "Snoozed" in replies[0].text
    assert active(store) == 2  # the repeating one and one snooze copy, moved 300 times
    for i in range(MAX_PER_USER - 2):
        assert "Reminder set" in (await advisor.handle(private(f"/remind in {i + 2} hours task {i}")))[0].text
    assert active(store) == MAX_PER_USER
    assert "50 active reminders" in (await advisor.handle(private("/remind in 90 hours one more")))[0].text
    copy = store.db.execute("select id from reminders where parent_id = ?", [repeating]).fetchone()[0]
    await advisor.handle(private(action=f"rem:cancel:{copy}"))
    await advisor.handle(private("/remind in 91 hours fills the last place"))
    assert "50 active reminders" in (await advisor.handle(private(action=f"rem:snz:{repeating}:1440")))[0].text
    assert active(store) == MAX_PER_USER  # the snooze path holds the limit too
    assert "too many active reminders" in (await advisor.handle(private(action="quiz:rm:usce:0:0")))[0].text
    assert active(store) == MAX_PER_USER


async def test_one_downvote_pressed_500_times_is_one_vote_and_one_miss(kb: KnowledgeBase) -> None:
    store = Database.in_memory()
    advisor = Advisor(kb, store, FakeClock(START), limits=TEST_LIMITS)
    answer = (await advisor.handle(private("how much does an observership cost")))[0]
    down = next(b.action for row in answer.buttons for b in row if b.action.endswith(":0"))
    for _ in range(500):
        await advisor.handle(private(action=down))
    assert store.db.execute("select count(*) from feedback").fetchone()[0] == 1
    assert store.db.execute("select count(*) from misses").fetchone()[0] == 1
    for _ in range(50):
        await advisor.handle(private("qwertyuiop asdfgh zxcvb"))  # the same unanswered question, again and again
    assert store.db.execute("select count(*) from misses where reason != 'downvote'").fetchone()[0] == 1
    up = down[:-1] + "1"
    await advisor.handle(private(action=up))  # changed their mind: the 👎 is withdrawn
    assert store.db.execute("select count(*) from misses where reason = 'downvote'").fetchone()[0] == 0


async def test_memory_per_user_is_bounded_and_expires(kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(answer_service, "MAX_REMEMBERED", 50)
    monkeypatch.setattr(usage_store, "MAX_SEEN", 40)
    clock = FakeClock(START)
    advisor = Advisor(kb, Database.in_memory(), clock, limits=TEST_LIMITS)
    for i in range(200):
        await advisor.handle(private("is step 1 pass fail", user=f"user{i}"))
    assert len(advisor.answers._asked) == 50 and len(advisor.usage._seen) == 40
    clock.advance(dt.timedelta(days=2))
    await advisor.handle(private("is step 1 pass fail", user="late"))
    assert len(advisor.answers._asked) == 1 and len(advisor.usage._seen) == 1  # the rest expired


async def test_quiz_names_with_handles_are_not_echoed_as_mentions_in_a_group(advisor: Advisor) -> None:
    replies = await advisor.handle(group("/quiz @alice @bob_the_builder <@123> @everyone"))
    assert replies and not any(MENTION.search(r.text.replace("\\", "")) for r in replies)


@pytest.mark.parametrize("action", ["rem:cancel:" + "9" * 40, "rem:snz:" + "1" * 30 + ":60", "rem:cancel:²",
                                    "dl:nrmp26-rol-deadline:" + "7" * 40, "quiz:rm:usce:" + "9" * 40 + ":0",
                                    "quiz:rm:usce:²:0", "rem:cancel:-1", "fb:observership-cost:x:" + "1" * 30,
                                    "del:" + "A" * 12, "set:th:" + "9" * 50])
async def test_out_of_range_and_forged_payloads_get_a_short_refusal(advisor: Advisor, action: str,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        in_group = await advisor.handle(group(action=action))
        in_private = await advisor.handle(private(action=action))
    assert "handler failed" not in caplog.text and "Traceback" not in caplog.text
    assert all(r.private for r in in_group) and len(in_group) == 1  # nothing posted in the group
    assert len(in_private) == 1 and not any(r.delete for r in in_group + in_private)


async def test_the_handler_error_log_names_no_chat_or_user(advisor: Advisor, monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(advisor.faq, "answer", explode)
    with caplog.at_level(logging.ERROR):
        await advisor.handle(Incoming("telegram", "123456789", "123456789", "Amina", True, "observership fees"))
    assert "handler failed" in caplog.text and "123456789" not in caplog.text


async def test_every_topic_is_browsable_in_pages_that_fit_discords_25_buttons(advisor: Advisor) -> None:
    for topic_id in advisor.faq.kb.topics:
        reached, action = set(), f"topic:{topic_id}"
        for _ in range(20):
            reply = (await advisor.handle(private(action=action)))[0]
            actions = [b.action for row in reply.buttons for b in row]
            assert len(actions) <= 25
            reached |= {a[4:] for a in actions if a.startswith("faq:")}
            more = [a for a in actions if a.startswith(f"topic:{topic_id}:") and int(a.rsplit(":", 1)[1]) > (
                int(action.rsplit(":", 1)[1]) if action.count(":") == 2 else 1)]
            if not more:
                break
            action = more[0]
        assert reached == {e.id for e in advisor.faq.kb.entries_in(topic_id)}, topic_id
    assert "no longer works" in (await advisor.handle(private(action="topic:match:99")))[0].text
