"""Property: several users send `Advisor.handle` random text and forged payloads; nothing breaks, leaks or overflows.

Each example is a conversation between three users (one of them a group admin) in
their private chats and one group. Besides text (commands, questions, markup, huge
and odd strings) they press buttons: the ones the bot gave them, the ones it gave
*someone else* (replayed), mutated ones (other ids, 40-digit and Unicode digits,
altered tokens) and random strings. After every event:

- `handle` did not fail (no apology for a bug, no "handler failed" log);
- no other user's stored data changed (reminders, time zone, quiz, votes, kept
  questions, activity), and a message was removed only by the one who asked or an admin,
  once;
- the limits held (active reminders per person and per group, one vote and one kept
  👎 per person and entry, one snooze copy per repeating reminder);
- every reply is safe to render (user text never became markup, buttons fit).

The budget is bounded for CI (`max_examples` below, a few seconds).
"""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import advisor as advisor_module
from bot.advisor import Advisor
from bot.database import Database
from bot.events import Incoming
from bot.knowledge import KnowledgeBase
from bot.reminders import service as reminder_service
from tests.fakes import TEST_LIMITS, FakeClock
from tests.test_properties import MARK, assert_safe

START = dt.datetime(2025, 10, 1, 6, 0, tzinfo=dt.timezone.utc)
PLATFORM = "telegram"
USERS = ("alice", "bob", "carol")
ADMIN = "carol"
GROUP = "-100777"
MAX_PER_USER, MAX_PER_GROUP = 2, 3
EVENTS = {"count": 0}
"""Events driven so far in this process (read it with -s or a debugger: the figure in the report)."""

WORDS = st.sampled_from(["observership fees", "is step 1 pass fail", "visa", "hello", "qwerty zxcv", MARK,
                         f"**{MARK}** [{MARK}](https://{MARK.lower()}.example)", "@everyone <@123>", "ｘ" * 30, ""])
TEXTS = st.one_of(
    WORDS,
    st.text(max_size=120),
    st.sampled_from(["/start", "/help", "/topics", "/quiz", "/quiz usce", "/quiz visa", "/results", "/reminders",
                     "/mydata", "/forget", "/settings", "/autoanswer on", "/autoanswer off", "/deadlines",
                     "/timezone Karachi", "/timezone", "/settings quiet 22:00-07:00", "/reload", "/nope"]),
    st.tuples(st.sampled_from(["/ask", "/quiz", "/timezone", "/remind"]), st.text(max_size=60)).map(" ".join),
)
ASK = st.sampled_from(["observership fees", "is step 1 pass fail", "how much does an observership cost",
                       "what is ecfmg certification", "qwertyuiop asdfgh", "can i do hands on with b1/b2"])
REMIND = st.tuples(st.sampled_from(["in 2 hours", "tomorrow 9am", "every day at 20:00", "every monday 9am",
                                    "in 3 days", "yesterday"]), WORDS).map(lambda p: f"/remind {p[0]} {p[1]}")
SENSITIVE = ("rem:", "del:", "quiz:", "set:", "forget:", "fb:", "dl:")
"""Payloads that act on someone's data: what a replaying attacker goes for."""


def mutate(action: str, choice: int, digits: str) -> str:
    """A forged variant of a real payload: another id, an out-of-range or Unicode number, a changed token."""
    if choice == 0:
        return re.sub(r"\d+", digits, action, count=1)
    if choice == 1:
        return re.sub(r"\d+", "9" * 40, action)
    if choice == 2:
        return re.sub(r"\d", "²", action, count=1)
    if choice == 3:
        return action[:-1] + ("A" if action[-1:] != "A" else "B")
    return action.rsplit(":", 1)[0] + ":" + digits


def snapshot(database: Database, user: str) -> tuple:
    """Everything stored about one user (what no other user's event may change)."""
    key = database.pseudonym(PLATFORM, user)
    rows = lambda sql, args: tuple(database.db.execute(sql, args).fetchall())  # noqa: E731
    return (
        rows("select id, status, due_at, text, chat_id, dm, rule from reminders where owner_id = ? order by id", [user]),
        rows("select timezone from user_prefs where user_id = ?", [user]),
        rows("select quiz_id, question_id, answers, history from quiz_sessions where user_id = ?", [user]),
        rows("select quiz_id, answers from quiz_results where user_id = ? order by quiz_id", [user]),
        rows("select entry_id, vote from feedback where voter = ? order by entry_id", [key]),
        rows("select reason, subject, question from misses where asker = ? order by id", [key]),
        rows("select kind, last_seen from activity where key = ?", [key]),
    )


def check_limits(database: Database) -> None:
    one = lambda sql: database.db.execute(sql).fetchall()  # noqa: E731
    active = "status in ('pending', 'claimed')"
    assert all(n <= MAX_PER_USER for _, n in one(f"select owner_id, count(*) from reminders where {active} "
                                                 "group by owner_id"))
    assert all(n <= MAX_PER_GROUP for _, n in one(f"select chat_id, count(*) from reminders where {active} "
                                                  "and dm = 0 group by chat_id"))
    assert all(n <= 1 for _, n in one(f"select parent_id, count(*) from reminders where {active} "
                                      "and parent_id is not null group by parent_id"))
    assert all(n <= 1 for _, n in one("select asker || nearest, count(*) from misses where reason = 'downvote' "
                                      "group by asker, nearest"))
    assert all(n <= 1 for _, n in one("select voter || entry_id, count(*) from feedback group by voter, entry_id"))


step = st.tuples(
    st.sampled_from(USERS),
    st.booleans(),  # in the group (else their private chat)
    st.sampled_from(["text", "ask", "remind", "own", "own", "replay", "replay", "forge", "snooze", "random",
                     "wait"]),
    TEXTS,
    ASK,
    REMIND,
    st.integers(min_value=0, max_value=10_000),  # which harvested payload
    st.integers(min_value=0, max_value=4),  # how to forge it
    st.from_regex(r"[0-9]{1,12}", fullmatch=True),
    st.text(max_size=64),
)


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch, kb: KnowledgeBase) -> None:
    """Low limits (so examples reach them), and one matcher shared by every example (it holds no user state)."""
    monkeypatch.setattr(reminder_service, "MAX_PER_USER", MAX_PER_USER)
    monkeypatch.setattr(reminder_service, "MAX_PER_GROUP", MAX_PER_GROUP)
    shared = advisor_module.FaqService(kb)
    monkeypatch.setattr(advisor_module, "FaqService", lambda _kb: shared)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=8, max_size=40))
async def test_several_users_with_random_text_and_forged_payloads_cannot_break_or_affect_each_other(
        kb: KnowledgeBase, small_limits: None, steps: list[tuple], caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(START)
    database = Database.in_memory()
    advisor = Advisor(kb, database, clock, limits=TEST_LIMITS)
    offered: list[tuple[str, str, str]] = []  # (user, chat, action) of every button the bot showed
    removable: dict[str, tuple[str, str]] = {}  # del token -> (chat, asker); removed once
    with caplog.at_level(logging.ERROR, logger="bot"):
        for user, in_group, kind, text, ask, remind, pick, how, digits, junk in steps:
            chat = GROUP if in_group else user
            action: str | None = None
            if kind == "wait":
                clock.advance(dt.timedelta(hours=13))
                continue
            if kind in ("ask", "remind"):
                text = ask if kind == "ask" else remind
            elif kind == "snooze":  # what a delivered reminder offers: snooze (a new reminder, if repeating), stop
                ids = [o[2].rsplit(":", 1)[1] for o in offered if o[2].startswith("rem:cancel:")
                       and (o[0] == user or how % 2)]  # mostly their own, sometimes anyone's
                if ids:
                    action = ("rem:snz:{}:60", "rem:snz:{}:1440", "rem:stop:{}")[how % 3].format(ids[pick % len(ids)])
            elif kind in ("own", "replay", "forge") and offered:
                if kind == "own":
                    pool = [o for o in offered if o[0] == user and o[1] == chat]
                else:  # someone else's buttons, the ones that act on data first, each kind as likely
                    pool = [o for o in offered if o[0] != user] or offered
                    kinds = sorted({o[2].split(":", 1)[0] + ":" for o in pool if o[2].startswith(SENSITIVE)})
                    if kinds:
                        prefix = kinds[how % len(kinds)]
                        pool = [o for o in pool if o[2].startswith(prefix)]
                if pool:
                    action = pool[pick % len(pool)][2]
                    if kind == "forge":
                        action = mutate(action, how, digits)
            elif kind == "random":
                action = junk
            event = Incoming(PLATFORM, chat, user, "Name " + MARK, not in_group, "" if action is not None else text,
                             action, True, in_group and user == ADMIN)
            before = {other: snapshot(database, other) for other in USERS if other != user}
            replies = await advisor.handle(event)
            EVENTS["count"] += 1
            for reply in replies:
                assert_safe(reply)
                assert "something went wrong" not in reply.text
                for row in reply.buttons:
                    for button in row:
                        offered.append((user, chat, button.action))
                        if button.action.startswith("del:"):
                            removable.setdefault(button.action[4:], (chat, user))
            for other, rows in before.items():  # nobody else's data moved
                assert snapshot(database, other) == rows, (user, event.action or event.text, other)
            if any(r.delete for r in replies):  # removal: by the asker or an admin, in that chat, once
                assert action is not None and action.startswith("del:")
                origin = removable.pop(action[4:], None)
                assert origin is not None and origin[0] == chat and (origin[1] == user or event.is_admin)
            check_limits(database)
    assert "handler failed" not in caplog.text
    database.close()

