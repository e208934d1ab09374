"""Odd, huge and hostile input gets a clear reply, and nothing escapes `handle`."""

from __future__ import annotations

import logging

import pytest

from bot.advisor import MAX_TEXT, Advisor
from bot.events import Button, Incoming, Reply


def private(text: str = "", action: str | None = None) -> Incoming:
    return Incoming("console", "u1", "u1", "Amina", True, text, action, True)


async def test_a_100_kb_message_is_declined_politely(advisor: Advisor) -> None:
    replies = await advisor.handle(private("observership " * 8_000))
    assert len(replies) == 1
    assert "too long" in replies[0].text
    assert f"{MAX_TEXT:,}" in replies[0].text


async def test_a_100_kb_message_in_a_group_that_is_not_addressed_is_ignored(advisor: Advisor) -> None:
    event = Incoming("console", "g1", "u1", "Amina", False, "x" * 100_000, None, False)
    assert await advisor.handle(event) == []


@pytest.mark.parametrize("text", ["", " ", "\n\t\n", "\u200b\u200f", "\x00\x1b"])
async def test_empty_messages_get_a_hint(advisor: Advisor, text: str) -> None:
    replies = await advisor.handle(private(text))
    assert "Send me a question" in replies[0].text


@pytest.mark.parametrize("text", [
    "😀" * 500,
    "שלום, כמה עולה תצפית?",  # right-to-left
    "‮evil‮ override",
    "Z̸̢̛̗a̴l̷g̶o̵",
    "/",
    "/ask " + "é" * 3000,
    "[x](javascript:alert(1)) **",
    "\\\\\\",
])
async def test_strange_text_never_raises_and_always_answers(advisor: Advisor, text: str) -> None:
    replies = await advisor.handle(private(text))
    assert replies and all(r.text for r in replies)
    assert not any("something went wrong" in r.text for r in replies)


@pytest.mark.parametrize("action", ["faq:no-such-entry", "topic:gone", "quiz:usce:9:z", "", "x" * 64])
async def test_buttons_that_no_longer_exist_say_so(advisor: Advisor, action: str) -> None:
    replies = await advisor.handle(private(action=action))
    assert "no longer" in replies[0].text
    assert replies[0].buttons, "the user gets a way back in"


async def test_a_handler_that_raises_gets_an_apology_and_a_logged_traceback(
    advisor: Advisor, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(question: str, answer_at: float | None = None) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(advisor.faq, "answer", explode)
    with caplog.at_level(logging.ERROR):
        replies = await advisor.handle(private("observership fees"))
    assert replies == [Reply("Sorry, something went wrong on my side. Please try again in a moment.")]
    assert "boom" in caplog.text and "Traceback" in caplog.text
    # and the bot keeps working
    monkeypatch.undo()
    assert "Observership fees" in (await advisor.handle(private("observership fees")))[0].text


def test_button_actions_longer_than_telegrams_limit_are_refused() -> None:
    with pytest.raises(ValueError):
        Button("x", "faq:" + "a" * 61)


async def test_every_reply_button_fits_the_callback_limit(advisor: Advisor) -> None:
    for text in ["/start", "/topics", "observership fees", "visa"]:
        for reply in await advisor.handle(private(text)):
            for row in reply.buttons:
                for button in row:
                    assert len(button.action.encode()) <= 64
