"""Issue 19, unit level: reminders in words, impossible dates, typed quiz answers, typed yes/no, the console.

The conversations themselves are scenarios 19-22 in tests/scenarios/ (console, Telegram, Discord).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from adapters.console import ConsoleChat
from bot.advisor import Advisor
from bot.database import Database
from bot.events import Incoming
from bot.knowledge import KnowledgeBase
from bot.quizzes.service import _typed_option
from bot.reminders.intent import reminder_request
from bot.reminders.service import MAX_PER_USER
from bot.reminders.when import WhenError, parse_reminder
from tests.fakes import TEST_LIMITS, FakeClock

NOW = dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(("text", "args"), [
    ("remind me tomorrow at 9 to pay the ECFMG fee", "tomorrow at 9 to pay the ECFMG fee"),
    ("Remind me tmrw 10 am call embassy", "tmrw 10 am call embassy"),
    ("can you remind me to call the embassy on friday?", "to call the embassy on friday"),
    ("pls set a reminder for tomorrow 9am: book OET", "tomorrow 9am: book OET"),
    ("Reminder: in 3 days follow up with Dr. Lee", "in 3 days follow up with Dr. Lee"),
    ("hey, could you please remind me every monday 9am to study", "every monday 9am to study"),
    ("remind me", ""),
    # questions, not requests
    ("remind me what ECFMG certification is", None),
    ("remind me when the Match is", None),
    ("remind me of the fee for step 1", None),
    ("how do I set a reminder?", None),
    ("reminder emails from ERAS?", None),
    ("reminders", None),
    ("tomorrow 9am book OET", None),
])
def test_a_reminder_asked_for_in_words_is_recognised(text: str, args: str | None) -> None:
    assert reminder_request(text) == args


@pytest.mark.parametrize(("text", "due", "what"), [
    ("tmrw 10 am call embassy", "2026-12-02 10:00", "call embassy"),
    ("2moro 9am book OET", "2026-12-02 09:00", "book OET"),
    ("tonite 9pm revise cardio", "2026-12-01 21:00", "revise cardio"),
    ("to pay the ECFMG fee tomorrow at 9", "2026-12-02 09:00", "pay the ECFMG fee"),
    ("call the embassy tomorrow 10am", "2026-12-02 10:00", "call the embassy"),
    ("book the OET on 15 dec", "2026-12-15 09:00", "book the OET"),
    ("study for step 1 next friday", "2026-12-04 09:00", "study for step 1"),
    ("book interview tomorrow", "2026-12-02 09:00", "book interview"),  # no time given: 09:00
    ("29 feb 2028 renew passport", "2028-02-29 09:00", "renew passport"),
])
def test_times_as_people_type_them(text: str, due: str, what: str) -> None:
    schedule = parse_reminder(text, "UTC", NOW)
    assert (f"{schedule.due:%Y-%m-%d %H:%M}", schedule.what) == (due, what)



@pytest.mark.parametrize(("text", "noted"), [("tomorrow at 9 to pay the fee", False), ("tomorrow pay the fee", True),
                                             ("pay the fee tmrw", True), ("pay the fee tmrw 9am", False)])
def test_no_time_given_is_said_only_when_true(text: str, noted: bool) -> None:
    schedule = parse_reminder(text, "UTC", NOW)
    assert f"{schedule.due:%H:%M}" == "09:00"
    assert ("no time given, so I used 09:00" in schedule.notes) == noted


def test_a_repeat_said_last_is_a_repeat() -> None:
    schedule = parse_reminder("to study every monday 9am", "UTC", NOW)
    assert schedule.what == "study" and schedule.description == "every Monday at 09:00"


@pytest.mark.parametrize(("text", "reason"), [
    ("31 feb 2027 pay fee", "There is no 31 February 2027: February 2027 has 28 days"),
    ("on feb 29 2027 pay fee", "There is no 29 February 2027"),
    ("30 february pay fee", "February has 28 days (29 in a leap year)"),
    ("31 april renew visa", "There is no 31 April: April has 30 days"),
    ("31/06/2027 renew visa", "There is no 31 June 2027"),
    ("pay the fee on 31 sept", "There is no 31 September"),
])
def test_an_impossible_date_is_refused_with_the_reason_never_moved(text: str, reason: str) -> None:
    with pytest.raises(WhenError, match=re.escape(reason)):
        parse_reminder(text, "UTC", NOW)


def test_typed_words_match_an_option_only_when_they_are_about_that_short(kb: KnowledgeBase) -> None:
    stage = kb.quizzes["usce"].question(kb.quizzes["usce"].start)
    assert _typed_option(stage, "graduate").id == "grad"
    assert _typed_option(stage, "I'm a graduate").id == "grad"
    assert _typed_option(stage, "can a graduate do an externship?") is None
    years = kb.quizzes["usce"].question("years")
    assert [_typed_option(years, n).id for n in ("1", "3", "5", "6", "8 years")] == ["y0", "y3", "y3", "y6", "y6"]
    assert _typed_option(years, "2.5") is None  # between two ranges: the user is asked to pick


def _event(text: str = "", action: str | None = None, private: bool = True, admin: bool = False) -> Incoming:
    return Incoming(platform="test", chat_id="u1" if private else "g1", user_id="u1", is_private=private,
                    text=text, action=action, addressed=not private, is_admin=admin)


def _text(replies: list) -> str:
    return "\n".join(r.text for r in replies)


@pytest.fixture
def clocked(kb: KnowledgeBase) -> Advisor:
    return Advisor(kb, Database.in_memory(), FakeClock(NOW), limits=TEST_LIMITS)


async def test_a_reminder_in_words_keeps_the_limits_of_remind(clocked: Advisor) -> None:
    for n in range(MAX_PER_USER):
        clocked.reminders.add_personal(_event(), f"r{n}", NOW + dt.timedelta(days=1))
    replies = await clocked.handle(_event("remind me tomorrow at 9 to pay the ECFMG fee"))
    assert f"You already have {MAX_PER_USER} active reminders" in _text(replies)


async def test_a_reminder_in_words_from_a_group_member_is_delivered_privately(clocked: Advisor) -> None:
    replies = await clocked.handle(_event("remind me tomorrow at 9 to pay the ECFMG fee", private=False))
    assert replies[0].private and "I'll send it to you privately" in replies[0].text
    assert [b.label for row in replies[0].buttons for b in row] == ["↩ Undo"]
    reminder = clocked.reminders.store.active_reminders("test", "u1")[0]
    assert reminder.dm and reminder.text == "pay the ECFMG fee"


async def test_a_typed_yes_works_only_right_after_the_forget_question(clocked: Advisor) -> None:
    clocked.reminders.add_personal(_event(), "book OET", NOW + dt.timedelta(days=1))
    assert "type yes or no" in _text(await clocked.handle(_event("/forget")))
    await clocked.handle(_event("/mydata"))  # anything in between: the question lapses
    assert "deleted" not in _text(await clocked.handle(_event("yes")))
    await clocked.handle(_event("/forget"))
    clocked.clock.advance(dt.timedelta(minutes=6))  # too late
    assert "deleted" not in _text(await clocked.handle(_event("yes")))
    await clocked.handle(_event("/forget"))
    assert "Nothing was deleted" in _text(await clocked.handle(_event("nope")))
    await clocked.handle(_event("/forget"))
    assert "everything I stored about you is deleted" in _text(await clocked.handle(_event("Yes, delete everything")))
    assert clocked.reminders.store.active_reminders("test", "u1") == []


async def test_chatter_gets_the_group_reply_only_in_groups(clocked: Advisor) -> None:
    assert "mention me" not in _text(await clocked.handle(_event("bye")))
    assert "mention me" in _text(await clocked.handle(_event("bye", private=False)))


async def test_the_console_letters_buttons_when_a_number_is_the_answer(kb: KnowledgeBase) -> None:
    advisor = Advisor(kb, Database.in_memory(), FakeClock(NOW), flood_limits=False)
    chat = ConsoleChat(advisor)
    await chat.process_line("/quiz usce")
    shown = await chat.process_line("2")  # a question without ranges: 2 presses "Graduate"
    assert "[a] 0-2 years" in shown and "[f] ✕ Cancel" in shown and "a number works" in shown
    assert "[1]" not in shown
    shown = await chat.process_line("5")
    assert "✓ 3-5 years" in shown and "[4] « Back" in shown  # the next question has no ranges: numbers again
    assert "[a] 0-2 years" in await chat.process_line("4")  # back to the years question: letters again
    assert "Quiz cancelled" in await chat.process_line("f")  # a letter presses a button


async def test_the_console_has_no_flood_limit(kb: KnowledgeBase) -> None:
    chat = ConsoleChat(Advisor(kb, Database.in_memory(), FakeClock(NOW), flood_limits=False))
    outputs = [await chat.process_line("is step 1 pass fail") for _ in range(60)]
    assert all("pass/fail" in out for out in outputs)
