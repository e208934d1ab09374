"""The whole bot through the real python-telegram-bot against a fake Bot API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path

import pytest

from adapters.telegram_bot import TelegramAdapter
from bot.advisor import Advisor
from bot.database import Database
from bot.knowledge import KnowledgeBase
from bot.reminders.store import ReminderStore
from tests.adapters.fake_telegram import BOT_ID, BOT_USER, FakeTelegram
from tests.adapters.telegram_driver import GROUP_ID, USER, TelegramDriver, plain
from tests.scenario import DEFAULT_START, Scenario, load_scenarios, play

ANONYMOUS_ADMIN = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}


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


async def test_command_menus_fit_each_scope_and_reload_shows_only_to_owners(kb: KnowledgeBase,
                                                                            fake: FakeTelegram) -> None:
    owners = frozenset({f"telegram:{USER['id']}", "discord:1"})
    adapter = TelegramAdapter(Advisor(kb, Database.in_memory(), owners=owners), fake.token, fake.url,
                              rate_limit=False)
    await adapter.start()
    await adapter.stop()
    menus = {m["scope"]["type"] + str(m["scope"].get("chat_id", "")): {c["command"] for c in m["commands"]}
             for m in fake.sent("setMyCommands")}
    assert set(menus) == {"all_private_chats", "all_group_chats", "all_chat_administrators", f"chat{USER['id']}"}
    assert {"ask", "topics", "quiz", "remind", "reminders", "timezone", "deadlines", "forget"} <= menus["all_private_chats"]
    assert not {"reload", "settings", "autoanswer"} & menus["all_private_chats"]
    assert not {"reload", "settings", "autoanswer"} & menus["all_group_chats"]
    assert {"settings", "autoanswer", "ask"} <= menus["all_chat_administrators"]
    assert "reload" not in menus["all_chat_administrators"]
    assert "reload" in menus[f"chat{USER['id']}"]


async def test_when_added_to_a_group_the_bot_says_what_it_does_once(driver: TelegramDriver,
                                                                    fake: FakeTelegram) -> None:
    def membership(old: str, new: str) -> dict:
        return {"chat": {"id": GROUP_ID, "type": "supergroup", "title": "IMG group"}, "from": USER, "date": 0,
                "old_chat_member": {"status": old, "user": BOT_USER},
                "new_chat_member": {"status": new, "user": BOT_USER}}

    await driver._push_and_wait(my_chat_member=membership("left", "member"))
    welcome = [p for p in fake.sent() if int(p["chat_id"]) == GROUP_ID]
    assert len(welcome) == 1
    assert "Mention me" in plain(welcome[0]["text"]) and "/settings" in plain(welcome[0]["text"])
    await driver._push_and_wait(my_chat_member={**membership("member", "member"),
                                                "new_chat_member": {"status": "kicked", "user": BOT_USER,
                                                                    "until_date": 0}})
    assert len(fake.sent()) == 1  # removed again: nothing said


async def test_an_anonymous_admin_posting_as_the_group_is_an_admin(driver: TelegramDriver) -> None:
    await driver.start(private=False)
    group = driver.chat
    got = await driver.send(**{"from": ANONYMOUS_ADMIN, "sender_chat": group, "text": "/autoanswer on",
                               "entities": [{"type": "bot_command", "offset": 0, "length": 11}]})
    assert "Auto-answer is on" in got.text
    assert "Observership fees" in (await driver.say("how much does an observership cost?")).text


async def test_an_emoji_before_the_mention_does_not_make_the_bot_deaf(driver: TelegramDriver,
                                                                     fake: FakeTelegram) -> None:
    await driver.start(private=False)
    handle = f"@{BOT_USER['username']}"
    got = await driver.send(text=f"🙂 {handle} observership fees",
                            entities=[{"type": "mention", "offset": 3, "length": len(handle)}])  # UTF-16 units
    assert "Observership fees" in got.text
    got = await driver.send(text=f"👩🏽‍⚕️ hi {handle}, is step 1 pass fail?",
                            entities=[{"type": "mention", "offset": 11, "length": len(handle)}])
    assert "pass/fail" in got.text


async def test_a_photo_caption_is_read_as_the_question(driver: TelegramDriver) -> None:
    await driver.start(private=False)
    handle = f"@{BOT_USER['username']}"
    photo = [{"file_id": "p", "file_unique_id": "u", "width": 90, "height": 90}]
    got = await driver.send(photo=photo, caption=f"{handle} how much does an observership cost?",
                            caption_entities=[{"type": "mention", "offset": 0, "length": len(handle)}])
    assert "Observership fees" in got.text
    assert (await driver.send(photo=photo, caption="our study group today")).text == ""  # not addressed: quiet


async def test_in_a_group_the_answer_replies_to_the_question(driver: TelegramDriver, fake: FakeTelegram) -> None:
    await driver.say("is step 1 pass fail?")
    assert "reply_parameters" not in fake.sent()[-1]  # a private chat needs no quoting
    await driver.start(private=False)
    await driver.say("is step 1 pass fail?", mention=True)
    answer = fake.sent()[-1]
    assert "pass/fail" in plain(answer["text"])
    assert answer["reply_parameters"]["message_id"] == driver._message_id


async def test_a_question_in_a_forum_topic_is_answered_there_and_its_reminders_post_there(
        driver: TelegramDriver, fake: FakeTelegram) -> None:
    await driver.start(private=False)
    driver.set_admin(True)
    handle = f"@{BOT_USER['username']}"
    topic = {"message_thread_id": 42, "is_topic_message": True}
    await driver.send(text=f"{handle} is step 1 pass fail?", entities=[
        {"type": "mention", "offset": 0, "length": len(handle)}], **topic)
    answer = fake.sent()[-1]
    assert "pass/fail" in plain(answer["text"]) and int(answer["message_thread_id"]) == 42
    got = await driver.send(text="/remind in 1 hour topic webinar", entities=[
        {"type": "bot_command", "offset": 0, "length": 7}], **topic)
    assert "posted in this group" in got.text and int(fake.sent()[-1]["message_thread_id"]) == 42
    got = await driver.advance(dt.timedelta(hours=1))
    delivered = fake.sent()[-1]
    assert "topic webinar" in got.text
    assert int(delivered["chat_id"]) == GROUP_ID and int(delivered["message_thread_id"]) == 42
    await driver.say("/remind in 1 hour general webinar")  # set in General: posts in General
    await driver.advance(dt.timedelta(hours=1))
    assert "general webinar" in plain(fake.sent()[-1]["text"]) and "message_thread_id" not in fake.sent()[-1]


async def test_a_press_is_acknowledged_at_once_while_the_chat_is_busy(driver: TelegramDriver,
                                                                     fake: FakeTelegram) -> None:
    await driver.say("/topics")
    fake.send_gate = asyncio.Event()  # Telegram is slow to accept the next message in this chat
    done = driver.handled.count
    await fake.push(message={"message_id": 90, "date": int(time.time()), "chat": driver.chat, "from": USER,
                             "text": "/help", "entities": [{"type": "bot_command", "offset": 0, "length": 5}]})
    await asyncio.wait_for(fake.send_arrived.wait(), 5)
    menu = driver._find_button_message("Costs and fees")
    button = next(b for row in menu["reply_markup"]["inline_keyboard"] for b in row if b["text"] == "Costs and fees")
    await fake.push(callback_query={"id": "press-1", "from": USER, "chat_instance": "ci",
                                    "data": button["callback_data"], "message": menu})
    await fake.wait_for_call("answerCallbackQuery", 1, timeout=3)  # while /help still holds the chat
    assert not fake.sent("editMessageText")
    fake.send_gate.set()
    await fake.wait_for_call("editMessageText", 1, timeout=5)
    assert "Observership fees" in str(fake.sent("editMessageText")[-1]["reply_markup"])
    assert driver.handled.count >= done + 1


async def test_a_press_too_old_to_acknowledge_is_still_carried_out(driver: TelegramDriver,
                                                                   fake: FakeTelegram) -> None:
    await driver.say("/topics")
    fake.fail_next["answerCallbackQuery"] = [(400, {
        "ok": False, "error_code": 400,
        "description": "Bad Request: query is too old and response timeout expired or query ID is invalid"})]
    got = await driver.press("Costs and fees")
    assert "Observership fees" in got.buttons


async def test_browsing_the_topics_edits_the_menu_in_place(driver: TelegramDriver, fake: FakeTelegram) -> None:
    await driver.start(private=False)
    await driver.say("/topics")
    sent = len(fake.sent())
    await driver.press("Costs and fees")
    await driver.press("« All topics")
    assert len(fake.sent()) == sent and len(fake.sent("editMessageText")) == 2
    got = await driver.press("Costs and fees")
    assert "Observership fees" in got.buttons


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


async def test_a_migrated_group_keeps_its_settings(driver: TelegramDriver) -> None:
    await driver.start(private=False)
    driver.set_admin(True)
    assert "Auto-answer is on" in (await driver.say("/autoanswer on")).text
    await driver.send(migrate_to_chat_id=-100555)
    supergroup = {"id": -100555, "type": "supergroup", "title": "IMG group"}
    got = await driver.send(chat=supergroup, text="how much does an observership cost?")
    assert "Observership fees" in got.text  # auto-answer is still on in the supergroup


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
