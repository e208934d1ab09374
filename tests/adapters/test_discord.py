"""The whole bot through the real discord.py against a fake REST API and gateway on 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from bot.knowledge import KnowledgeBase
from tests.adapters.discord_driver import DiscordDriver, plain
from tests.adapters.fake_discord import (
    BOT_USER,
    CHANNEL_ID,
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


async def test_slash_commands_are_synced_with_options_and_autocomplete(driver: DiscordDriver, fake: FakeDiscord) -> None:
    synced = [b for m, p, b in fake.requests if m == "PUT" and p.endswith("/commands")][-1]
    by_name = {c["name"]: c for c in synced}
    assert {"ask", "topics", "quiz", "remind", "reminders", "timezone", "deadlines", "help", "forget",
            "autoanswer"} <= set(by_name)
    assert by_name["remind"]["options"][0]["name"] == "when_and_what" and by_name["remind"]["options"][0]["required"]
    assert by_name["timezone"]["options"][0]["autocomplete"] is True
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
