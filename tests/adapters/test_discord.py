"""The whole bot through the real discord.py against a fake REST API and gateway on 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path

import pytest

from adapters.discord_bot import DiscordAdapter
from bot.knowledge import KnowledgeBase
from tests.adapters.discord_driver import DiscordDriver, plain
from tests.adapters.fake_discord import (
    APP_ID,
    BOT_USER,
    CHANNEL_ID,
    GUILD_ID,
    MESSAGE_CONTENT_INTENT,
    USER,
    FakeDiscord,
    message_payload,
)
from tests.scenario import DEFAULT_START, Scenario, load_scenarios, play


@pytest.fixture
async def fake() -> FakeDiscord:
    server = await FakeDiscord().start()
    yield server
    await server.stop()


@pytest.fixture
async def driver(kb: KnowledgeBase, fake: FakeDiscord, tmp_path: Path) -> DiscordDriver:
    drv = DiscordDriver(kb, fake, tmp_path / "bot.db", DEFAULT_START)
    await drv.boot()
    yield drv
    await drv.shutdown()


@pytest.mark.parametrize("scenario", load_scenarios(), ids=lambda s: s.path.stem)
async def test_scenario_through_discord(scenario: Scenario, kb: KnowledgeBase, fake: FakeDiscord,
                                        tmp_path: Path) -> None:
    drv = DiscordDriver(kb, fake, tmp_path / "bot.db", scenario.start)
    await drv.boot()
    try:
        await play(scenario, drv)
    finally:
        await drv.shutdown()


async def test_slash_commands_are_published_on_demand_with_options_choices_and_autocomplete(
        driver: DiscordDriver, fake: FakeDiscord) -> None:
    assert not [p for m, p, _ in fake.requests if m == "PUT"]  # starting the bot publishes nothing
    names = await DiscordAdapter(driver.advisor, fake.token, api_url=fake.api_url).sync_commands()
    synced = [b for m, p, b in fake.requests if m == "PUT" and p == f"/applications/{APP_ID}/commands"][-1]
    by_name = {c["name"]: c for c in synced}
    assert set(names) == set(by_name)
    assert {"ask", "topics", "quiz", "remind", "reminders", "timezone", "deadlines", "help", "forget",
            "autoanswer"} <= set(by_name)
    assert "start" not in by_name  # Discord has no /start
    assert by_name["remind"]["options"][0]["name"] == "when_and_what" and by_name["remind"]["options"][0]["required"]
    assert by_name["timezone"]["options"][0]["autocomplete"] is True
    assert [c["value"] for c in by_name["autoanswer"]["options"][0]["choices"]] == ["on", "off"]
    assert int(by_name["autoanswer"]["default_member_permissions"]) == 1 << 5


async def test_timezone_autocomplete_suggests_zones(driver: DiscordDriver, fake: FakeDiscord) -> None:
    mark = len(fake.requests)
    data = {"id": "1", "name": "timezone", "type": 1,
            "options": [{"name": "zone", "type": 3, "value": "karach", "focused": True}]}
    await fake.dispatch("INTERACTION_CREATE", fake.interaction(data, kind=4, guild=True))
    await fake.wait_for(lambda: any(p.endswith("/callback") for _, p, _ in fake.requests[mark:]))
    body = next(b for _, p, b in fake.requests[mark:] if p.endswith("/callback"))
    assert body["type"] == 8 and "Asia/Karachi" in [c["value"] for c in body["data"]["choices"]]


async def test_in_a_channel_the_bot_answers_mentions_and_replies_only(driver: DiscordDriver) -> None:
    await driver.start(private=False)
    assert (await driver.say("how much does an observership cost")).text == ""
    assert "Observership fees" in (await driver.say("how much does an observership cost", mention=True)).text
    bot_message = message_payload("earlier answer", BOT_USER, CHANNEL_ID)
    assert "pass/fail" in (await driver.say("is step 1 pass fail?", reply_to=bot_message)).text


async def test_private_things_are_ephemeral_in_a_channel(driver: DiscordDriver, fake: FakeDiscord) -> None:
    await driver.start(private=False)
    await driver.say("/remind in 1 hour renew visa")
    await driver.say("/reminders")
    bodies = [b for _, p, b in fake.requests if p.endswith("/callback")]
    assert all(b["data"]["flags"] & 64 for b in bodies[-2:])
    assert "renew visa" in plain(bodies[-1]["data"]["content"])


async def test_buttons_on_a_message_from_before_a_restart_still_work(driver: DiscordDriver) -> None:
    await driver.say("/topics")
    await driver.restart()
    got = await driver.press("Costs and fees")
    assert "Observership fees" in got.buttons


async def test_hostile_text_is_escaped_and_never_pings(driver: DiscordDriver, fake: FakeDiscord) -> None:
    await driver.say("/timezone @everyone **boom** <@123>")
    body = [b for _, p, b in fake.requests if p.endswith("/callback")][-1]
    assert body["data"]["allowed_mentions"] == {"parse": []}
    assert "\\*\\*boom\\*\\*" in body["data"]["content"]


async def test_long_answers_are_split_under_2000_characters(driver: DiscordDriver, fake: FakeDiscord,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    entries = driver.advisor.faq.kb.entries
    monkeypatch.setitem(entries, "observership-cost", entries["observership-cost"].model_copy(
        update={"answer": "\n\n".join(f"Paragraph {i}: " + "word_* " * 60 for i in range(20))}))
    driver.advisor.faq._entry_replies.clear()
    mark = len(fake.requests)
    await driver.say("/ask observership fees")
    contents = [(b.get("data") or b)["content"] for _, p, b in fake.requests[mark:] if b and "content" in (b.get("data") or b)]
    assert len(contents) > 1 and all(len(c) <= 2000 for c in contents)


async def test_a_429_is_waited_out_by_discord_py(driver: DiscordDriver, fake: FakeDiscord) -> None:
    await driver.start(private=False)
    fake.fail_next[f"POST /channels/{CHANNEL_ID}/messages"] = [
        (429, {"message": "You are being rate limited.", "retry_after": 0.3, "global": False}, {"Via": "1.1 google"})]
    got = await driver.say("is step 1 pass fail?", mention=True)
    assert "pass/fail" in got.text
    posts = [p for m, p, _ in fake.requests if m == "POST" and p == f"/channels/{CHANNEL_ID}/messages"]
    assert len(posts) == 2


async def test_closed_dms_get_a_clear_fallback(driver: DiscordDriver, fake: FakeDiscord) -> None:
    await driver.start(private=False)
    fake.dms_closed.add(USER["id"])
    got = await driver.say("/forget", mention=True)
    assert "your DMs are closed" in got.text


async def test_a_reminder_for_a_user_with_closed_dms_is_retired_with_a_notice(driver: DiscordDriver,
                                                                             fake: FakeDiscord) -> None:
    await driver.start(private=False)
    await driver.say("/remind in 1 hour submit ERAS")
    fake.dms_closed.add(USER["id"])
    got = await driver.advance(dt.timedelta(hours=1))
    assert "couldn't send you a reminder because your DMs are closed" in got.text
    assert "submit ERAS" not in got.text  # the reminder itself stays private
    assert driver.store.db.execute("select status, last_error from reminders").fetchone() == ("failed", "DMs closed")


async def test_reminders_to_a_deleted_channel_are_retired(driver: DiscordDriver, fake: FakeDiscord) -> None:
    await driver.start(private=False)
    driver.set_admin(True)
    await driver.say("/remind in 1 hour channel event")
    driver.store.db.execute("update reminders set chat_id = '900000000000000100'")
    await driver.advance(dt.timedelta(hours=1))
    status, error = driver.store.db.execute("select status, last_error from reminders").fetchone()
    assert status == "failed" and "not found" in error


async def test_a_gateway_reconnect_resumes_and_reminders_still_arrive(driver: DiscordDriver, fake: FakeDiscord) -> None:
    await driver.say("/remind in 1 hour check Pathway status")
    fake.identified.clear()
    await fake.ws.close()
    await asyncio.wait_for(fake.identified.wait(), 10)
    assert any(p["op"] in (2, 6) for p in fake.gateway_log[-3:])
    got = await driver.advance(dt.timedelta(hours=1))
    assert "check Pathway status" in got.text


async def slow(driver: DiscordDriver, monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """The core now takes `seconds` per event (a busy machine): Discord's deadline is 1 s in these tests."""
    handle = driver.advisor.handle

    async def slow_handle(event):  # type: ignore[no-untyped-def]
        await asyncio.sleep(seconds)
        return await handle(event)

    monkeypatch.setattr(driver.advisor, "handle", slow_handle)
    driver.adapter.defer_after = 0.2
    driver.fake.interaction_deadline = 1.0


async def test_a_slow_private_answer_is_deferred_ephemerally_and_still_arrives(
        driver: DiscordDriver, fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch) -> None:
    await driver.start(private=False)
    await driver.say("/remind in 1 hour renew visa")
    await slow(driver, monkeypatch, 1.5)
    got = await driver.say("/reminders")
    assert "(private) Your reminders" in got.text and "renew visa" in got.text
    deferral = [b for _, p, b in fake.requests if p.endswith("/callback")][-1]
    assert deferral["type"] == 5 and deferral["data"]["flags"] & 64  # "thinking…", seen only by the user


async def test_a_slow_public_answer_is_deferred_and_posted_for_everyone(
        driver: DiscordDriver, fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch) -> None:
    await driver.start(private=False)
    await slow(driver, monkeypatch, 1.5)
    got = await driver.say("/ask is step 1 pass fail?")
    assert "pass/fail" in got.text and "(private)" not in got.text
    followups = [b for m, p, b in fake.requests if m == "POST" and p.startswith("/webhooks/")]
    assert followups and not followups[-1].get("flags", 0) & 64
    assert any(m == "DELETE" and p.endswith("/@original") for m, p, _ in fake.requests)  # the stand-in is gone


async def test_a_slow_button_press_is_deferred_and_edits_its_message(
        driver: DiscordDriver, fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch) -> None:
    await driver.say("/topics")
    await slow(driver, monkeypatch, 1.5)
    got = await driver.press("Costs and fees")
    assert "Observership fees" in got.buttons
    assert [b["type"] for _, p, b in fake.requests if p.endswith("/callback")][-1] == 6  # deferred update


async def test_browsing_the_topics_edits_the_menu_in_place(driver: DiscordDriver, fake: FakeDiscord) -> None:
    await driver.start(private=False)
    await driver.say("/topics")
    await driver.press("Costs and fees")
    await driver.press("« All topics")
    got = await driver.press("Costs and fees")
    assert "Observership fees" in got.buttons
    assert [b["type"] for _, p, b in fake.requests if p.endswith("/callback")][-3:] == [7, 7, 7]  # edits


async def test_an_answer_in_a_channel_replies_to_the_question_without_a_ping(driver: DiscordDriver,
                                                                            fake: FakeDiscord) -> None:
    await driver.start(private=False)
    got = await driver.say("is step 1 pass fail?", mention=True)
    assert "pass/fail" in got.text
    body = [b for _, b in fake.posts(f"/channels/{CHANNEL_ID}/messages")][-1]
    question = fake.gateway_sent[-1]
    assert int(body["message_reference"]["message_id"]) == int(question["id"])
    assert int(body["message_reference"]["channel_id"]) == CHANNEL_ID
    assert body["allowed_mentions"] == {"parse": []}  # the asker is not pinged


async def test_without_the_message_content_intent_the_bot_runs_mention_only(
        kb: KnowledgeBase, fake: FakeDiscord, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fake.refuse_message_content = True
    drv = DiscordDriver(kb, fake, tmp_path / "bot.db", DEFAULT_START)
    with caplog.at_level(logging.INFO):
        await drv.boot()
    try:
        identifies = [p["d"]["intents"] for p in fake.gateway_log if p["op"] == 2]
        assert len(identifies) == 2 and not identifies[-1] & MESSAGE_CONTENT_INTENT
        warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1 and "mention-only" in warnings[0] and "Message Content Intent" in warnings[0]
        await drv.start(private=False)
        assert "pass/fail" in (await drv.say("is step 1 pass fail?", mention=True)).text
        drv.set_admin(True)
        assert "Message Content intent" in (await drv.say("/autoanswer on")).text
        await drv.adapter.stop()
        await drv.adapter.start()  # a retry in the same process does not ask, or warn, again
        assert len([p for p in fake.gateway_log if p["op"] == 2]) == 3
        assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1
    finally:
        await drv.shutdown()


async def test_img_advisor_discord_sync_to_a_guild_replaces_the_global_set(fake: FakeDiscord, tmp_path: Path) -> None:
    import os
    import sys

    env = {**os.environ, "DISCORD_BOT_TOKEN": fake.token, "DISCORD_API_URL": fake.api_url,
           "IMG_ADVISOR_DB": str(tmp_path / "x.db"), "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    sync = await asyncio.create_subprocess_exec(sys.executable, "-m", "adapters.cli", "discord", "sync", "--guild",
                                                str(GUILD_ID), env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(sync.communicate(), 60)
    assert sync.returncode == 0, err.decode()
    assert f"to server {GUILD_ID}" in out.decode() and "cleared the global set" in out.decode()
    puts = {p: b for m, p, b in fake.requests if m == "PUT"}
    assert "ask" in {c["name"] for c in puts[f"/applications/{APP_ID}/guilds/{GUILD_ID}/commands"]}
    assert puts[f"/applications/{APP_ID}/commands"] == []  # no duplicates in that server
    assert not any(m == "GET" and "gateway" in p for m, p, _ in fake.requests)  # REST only, no gateway session
    sync = await asyncio.create_subprocess_exec(sys.executable, "-m", "adapters.cli", "discord", "sync",
                                                env={**env, "DISCORD_BOT_TOKEN": "wrong"},
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(sync.communicate(), 60)
    assert sync.returncode == 1 and "DISCORD_BOT_TOKEN was rejected" in err.decode()
    assert "Traceback" not in err.decode() and "wrong" not in err.decode().replace("DISCORD_BOT_TOKEN", "")
