"""The whole bot through the real python-telegram-bot against a fake Bot API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from bot.knowledge import KnowledgeBase
from bot.reminders.store import ReminderStore
from tests.adapters.fake_telegram import BOT_ID, FakeTelegram
from tests.adapters.telegram_driver import GROUP_ID, USER, TelegramDriver, plain
from tests.scenario import DEFAULT_START, Scenario, load_scenarios, play


@pytest.fixture
async def fake() -> FakeTelegram:
    server = await FakeTelegram().start()
    yield server
    await server.stop()


@pytest.fixture
async def driver(kb: KnowledgeBase, fake: FakeTelegram, tmp_path: Path) -> TelegramDriver:
    drv = TelegramDriver(kb, fake, tmp_path / "bot.db", DEFAULT_START)
    await drv.boot()
    yield drv
    await drv.shutdown()


@pytest.mark.parametrize("scenario", load_scenarios(), ids=lambda s: s.path.stem)
async def test_scenario_through_telegram(scenario: Scenario, kb: KnowledgeBase, fake: FakeTelegram,
                                         tmp_path: Path) -> None:
    drv = TelegramDriver(kb, fake, tmp_path / "bot.db", scenario.start)
    await drv.boot()
    try:
        await play(scenario, drv)
    finally:
        await drv.shutdown()


async def test_command_menus_are_registered_for_private_chats_and_groups(driver: TelegramDriver,
                                                                         fake: FakeTelegram) -> None:
    menus = fake.sent("setMyCommands")
    assert [m["scope"]["type"] for m in menus] == ["all_private_chats", "all_group_chats"]
    private_names = {c["command"] for c in menus[0]["commands"]}
    assert {"ask", "topics", "quiz", "remind", "reminders", "timezone", "deadlines", "forget"} <= private_names


async def test_in_a_group_the_bot_answers_commands_mentions_and_replies_only(driver: TelegramDriver,
                                                                            fake: FakeTelegram) -> None:
    await driver.start(private=False)
    assert (await driver.say("how much does an observership cost")).text == ""
    assert "Observership fees" in (await driver.say("how much does an observership cost", mention=True)).text
    assert "Observership fees" in (await driver.say("/ask@img_advisor_test_bot observership fees")).text
    assert (await driver.say("/ask@some_other_bot observership fees")).text == ""
    bot_message = {"message_id": 5, "date": 0, "chat": driver.chat, "from": {"id": BOT_ID, "is_bot": True,
                                                                              "first_name": "IMG Advisor"}}
    assert "pass/fail" in (await driver.say("is step 1 pass fail?", reply_to=bot_message)).text


async def test_callback_queries_are_answered_and_quiz_steps_edit_the_message(driver: TelegramDriver,
                                                                            fake: FakeTelegram) -> None:
    await driver.say("/quiz visa")
    edits_before = len(fake.sent("editMessageText"))
    await driver.press("Research")
    assert len(fake.sent("answerCallbackQuery")) == 1
    assert len(fake.sent("editMessageText")) == edits_before + 1
    await driver.press("No, I would need a visa")
    assert len(fake.sent("answerCallbackQuery")) == 2
    assert "J-1 (research)" in plain(fake.sent("editMessageText")[-1]["text"])


async def test_a_quiz_in_a_group_offers_a_deep_link_and_continues_privately(driver: TelegramDriver,
                                                                           fake: FakeTelegram) -> None:
    await driver.start(private=False)
    await driver.say("/quiz usce")
    group_messages = [p for p in fake.sent() if int(p["chat_id"]) == GROUP_ID]
    private_messages = [p for p in fake.sent() if int(p["chat_id"]) == USER["id"]]
    links = [b["url"] for p in group_messages for row in p.get("reply_markup", {}).get("inline_keyboard", [])
             for b in row if "url" in b]
    assert links == ["https://t.me/img_advisor_test_bot?start=quiz-usce"]
    assert any("question 1" in plain(p["text"]) for p in private_messages)
    assert not any("question" in plain(p["text"]) for p in group_messages)


async def test_a_user_who_never_started_the_bot_is_told_to_tap_the_link(driver: TelegramDriver,
                                                                         fake: FakeTelegram) -> None:
    fake.blocked.add(USER["id"])
    await driver.start(private=False)
    got = await driver.say("/quiz visa")
    assert got.text.count("open a private chat with me") == 1  # once, though three private replies failed
    assert "(opens the private chat with /start quiz-visa)" in got.text


async def test_deep_link_start_payload_opens_the_right_quiz(driver: TelegramDriver) -> None:
    got = await driver.say("/start quiz-ecfmg")
    assert "Am I on track for ECFMG and the Match? · question 1" in got.text


async def test_hostile_text_is_escaped_and_long_answers_are_split(driver: TelegramDriver, fake: FakeTelegram,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    await driver.say("/timezone <b>Mars</b> & <script>")
    sent = fake.sent()[-1]["text"]
    assert "&lt;b&gt;Mars&lt;/b&gt; &amp; &lt;script&gt;" in sent and "<script>" not in sent
    entries = driver.advisor.faq.kb.entries  # shared by every test: patched, then restored
    monkeypatch.setitem(entries, "observership-cost", entries["observership-cost"].model_copy(
        update={"answer": "\n\n".join(f"Paragraph {i}: " + "<&> word " * 60 for i in range(30))}))
    driver.advisor.faq._entry_replies.clear()
    mark = len(fake.sent())
    await driver.say("/ask observership fees")
    parts = fake.sent()[mark:]
    assert len(parts) > 1 and all(len(p["text"]) <= 4096 for p in parts)
    assert all(p["text"].count("<b>") == p["text"].count("</b>") for p in parts)
    assert "reply_markup" in parts[-1] and "reply_markup" not in parts[0]


async def test_a_429_waits_retry_after_and_the_message_still_arrives(kb: KnowledgeBase, fake: FakeTelegram,
                                                                     tmp_path: Path) -> None:
    from adapters.telegram_bot import TelegramAdapter
    from bot.advisor import Advisor
    from bot.database import Database

    adapter = TelegramAdapter(Advisor(kb, Database.in_memory()), fake.token, fake.url, rate_limit=True)
    await adapter.start()
    try:
        fake.fail_next["sendMessage"] = [(429, {"ok": False, "error_code": 429, "description": "Too Many Requests",
                                                "parameters": {"retry_after": 1}})]
        loop = asyncio.get_running_loop()
        started = loop.time()
        await fake.push(message={"message_id": 1, "date": 0, "chat": {"id": 777, "type": "private"},
                                 "from": USER, "text": "/help",
                                 "entities": [{"type": "bot_command", "offset": 0, "length": 5}]})
        await fake.wait_for_call("sendMessage", 2, timeout=10)
        assert loop.time() - started >= 1.0
        assert "/topics" in plain(fake.sent()[-1]["text"])
    finally:
        await adapter.stop()


async def test_a_blocked_user_retires_their_reminder(driver: TelegramDriver, fake: FakeTelegram) -> None:
    await driver.say("/remind in 1 hour call the program")
    fake.blocked.add(USER["id"])
    await driver.advance(dt.timedelta(hours=1))
    row = driver.store.db.execute("select status, last_error from reminders").fetchone()
    assert row[0] == "failed" and "blocked" in row[1]


async def test_a_migrated_group_keeps_its_reminders(driver: TelegramDriver, fake: FakeTelegram) -> None:
    await driver.start(private=False)
    driver.set_admin(True)
    await driver.say("/remind in 1 hour group webinar")
    fake.migrated[GROUP_ID] = -100999
    got = await driver.advance(dt.timedelta(hours=1))
    assert "group webinar" in got.text
    assert int(fake.sent()[-1]["chat_id"]) == -100999


async def test_a_migration_service_message_moves_the_chats_reminders(driver: TelegramDriver,
                                                                    fake: FakeTelegram) -> None:
    await driver.start(private=False)
    driver.set_admin(True)
    await driver.say("/remind in 2 hours weekly call")
    await driver._push_and_wait(message={"message_id": 99, "date": 0, "chat": driver.chat, "from": USER,
                                         "migrate_to_chat_id": -100555})
    assert driver.store.db.execute("select chat_id from reminders").fetchone()[0] == "-100555"


async def test_a_reminder_is_delivered_after_the_adapter_restarts(driver: TelegramDriver, fake: FakeTelegram) -> None:
    await driver.say("/remind in 2 hours book OET")
    await driver.restart()
    ReminderStore(driver.store).release_claims()
    got = await driver.advance(dt.timedelta(hours=3))
    assert "Reminder: book OET" in got.text and "Late" in got.text


async def test_unhandled_updates_are_ignored_quietly(driver: TelegramDriver, fake: FakeTelegram) -> None:
    mark = len(fake.calls)
    await fake.push(message={"message_id": 50, "date": 0, "chat": driver.chat, "from": USER,
                             "sticker": {"file_id": "x", "file_unique_id": "y", "type": "regular", "width": 1,
                                         "height": 1, "is_animated": False, "is_video": False}})
    await fake.push(edited_message={"message_id": 51, "date": 0, "edit_date": 1, "chat": driver.chat,
                                    "from": USER, "text": "edited"})
    got = await driver.say("/help")
    assert "/topics" in got.text
    assert [m for m, _ in fake.calls[mark:]] == ["sendMessage"]


async def test_webhook_mode_checks_the_secret_on_every_request(kb: KnowledgeBase, fake: FakeTelegram) -> None:
    import socket

    import aiohttp

    from adapters.telegram_bot import TelegramAdapter
    from bot.advisor import Advisor
    from bot.database import Database

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    secret = "s3cret-token-for-tests"
    adapter = TelegramAdapter(Advisor(kb, Database.in_memory()), fake.token, fake.url, rate_limit=False,
                              webhook_url="https://bot.example.invalid/telegram",
                              webhook_listen=("127.0.0.1", port), webhook_secret=secret)
    await adapter.start()
    try:
        registered = fake.sent("setWebhook")[-1]
        assert registered["url"] == "https://bot.example.invalid/telegram" and registered["secret_token"] == secret
        update = {"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": {"id": 777, "type": "private"},
                                              "from": USER, "text": "/help",
                                              "entities": [{"type": "bot_command", "offset": 0, "length": 5}]}}
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{port}/telegram"
            async with session.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}) as r:
                assert r.status == 403
            async with session.post(url, json=update) as r:
                assert r.status == 403
            async with session.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret}) as r:
                assert r.status == 200
        await fake.wait_for_call("sendMessage", 1)
        assert len(fake.sent()) == 1 and "/topics" in plain(fake.sent()[0]["text"])
    finally:
        await adapter.stop()


async def test_network_errors_while_polling_back_off_and_polling_continues(driver: TelegramDriver,
                                                                          fake: FakeTelegram) -> None:
    fake.fail_next["getUpdates"] = [(502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})] * 2
    got = await driver.say("/help")
    assert "/topics" in got.text
