"""Property-based tests of `Advisor.handle`: whatever arrives, nothing escapes and every reply is safe."""

from __future__ import annotations

import logging

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.discord_bot import MAX_MESSAGE as DISCORD_LIMIT
from adapters.discord_bot import render_markdown
from adapters.telegram_bot import MAX_MESSAGE as TELEGRAM_LIMIT
from adapters.telegram_bot import render_html
from bot.advisor import Advisor
from bot.database import Database
from bot.events import MAX_ACTION_BYTES, Incoming, Reply
from bot.knowledge import KnowledgeBase
from bot.markup import parse, split
from tests.fakes import TEST_LIMITS

MARK = "ZQXJ"
COMMANDS = ["/start", "/help", "/topics", "/ask", "/quiz", "/quiz usce", "/results", "/remind", "/reminders",
            "/timezone", "/deadlines", "/mydata", "/forget", "/settings", "/autoanswer", "/reload", "/x"]
ACTIONS = ["faq:observership-cost", "topic:costs", "topics", "quiz:go:usce", "quiz:usce:stage:grad", "quiz:back",
           "quiz:cancel", "rem:cancel:1", "rem:snz:1:60", "dl:nrmp26-rol-deadline", "dl:nrmp26-rol-deadline:7",
           "forget:yes", "set:aa:1", "fb:observership-cost:tok:0", "del:u", "faqp:visa-fees", "nonsense"]

texts = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=50),
    st.sampled_from(COMMANDS).flatmap(lambda c: st.text(max_size=80).map(lambda t: f"{c} {t}")),
    st.text(max_size=40).map(lambda t: f"**{MARK}{t}** [{MARK}](https://{MARK.lower()}.example) <b>{t}</b> @everyone"),
)
events = st.builds(
    Incoming,
    platform=st.sampled_from(["console", "telegram", "discord"]),
    chat_id=st.sampled_from(["u", "-100"]),
    user_id=st.sampled_from(["u", "v"]),
    user_name=st.text(max_size=20),
    is_private=st.booleans(),
    text=texts,
    action=st.one_of(st.none(), st.sampled_from(ACTIONS), st.text(max_size=64)),
    addressed=st.booleans(),
    is_admin=st.booleans(),
)


def assert_safe(reply: Reply) -> None:
    for row in reply.buttons:
        for button in row:
            assert len(button.action.encode()) <= MAX_ACTION_BYTES
            assert MARK not in button.action
    for segment in parse(reply.text):  # user text never becomes markup
        if segment.kind != "text":
            assert MARK not in segment.text and MARK.lower() not in segment.url
    for chunk in split(reply.text, TELEGRAM_LIMIT, render_html):
        assert len(render_html(chunk)) <= TELEGRAM_LIMIT
    for chunk in split(reply.text, DISCORD_LIMIT, render_markdown):
        assert len(render_markdown(chunk)) <= DISCORD_LIMIT
    assert len([b for row in reply.buttons for b in row]) <= 25


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=st.lists(events, min_size=1, max_size=6))
async def test_any_sequence_of_events_is_handled_safely(kb: KnowledgeBase, sequence: list[Incoming],
                                                        caplog) -> None:
    advisor = Advisor(kb, Database.in_memory(), limits=TEST_LIMITS)
    with caplog.at_level(logging.ERROR, logger="bot.advisor"):
        for event in sequence:
            for reply in await advisor.handle(event):
                assert_safe(reply)
    assert "handler failed" not in caplog.text
