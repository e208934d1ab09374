"""Drives the real discord.py adapter through the fake REST API and gateway, as a Discord user would."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from adapters.discord_bot import OPTIONS, PLATFORM, DiscordAdapter
from bot.advisor import Advisor
from bot.knowledge import KnowledgeBase
from tests.adapters.fake_discord import (
    BOT_USER,
    CHANNEL_ID,
    DM_CHANNEL_ID,
    USER,
    FakeDiscord,
    member_payload,
    message_payload,
    snowflake,
)
from tests.adapters.loopback import PlatformDriver
from tests.scenario import Transcript

DM_ID = DM_CHANNEL_ID + int(USER["id"]) % 1000
_ESCAPED = re.compile(r"\\([*_~`|>\\\[\]()#\-.+!:])")
_LINK = re.compile(r"\[([^\]]*)\]\(<[^>]*>\)")


def plain(markdown: str) -> str:
    return _ESCAPED.sub(r"\1", _LINK.sub(r"\1", markdown.replace("**", "")))


class DiscordDriver(PlatformDriver):
    platform = PLATFORM

    def __init__(self, kb: KnowledgeBase, fake: FakeDiscord, db_path: Path, start: dt.datetime):
        super().__init__(kb, db_path, start)
        self.fake = fake
        self.admin = False
        self.last_with_buttons: dict[str, Any] | None = None

    def make_adapter(self, advisor: Advisor) -> DiscordAdapter:
        return DiscordAdapter(advisor, "fake-token", api_url=self.fake.api_url, gateway_url=self.fake.gateway_url,
                              guild_ready_timeout=0.05)

    def mark(self) -> int:
        return len(self.fake.requests)

    async def _send_and_wait(self, event: str, data: dict) -> None:
        await self.handled.after(lambda: self.fake.dispatch(event, data))

    # Driver

    def set_admin(self, admin: bool) -> None:
        self.admin = admin

    async def say(self, text: str, mention: bool = False, reply_to: dict | None = None) -> Transcript:
        mark = len(self.fake.requests)
        name, _, rest = text[1:].partition(" ") if text.startswith("/") else ("", "", "")
        command = self.adapter.client.tree.get_command(name.lower()) if name else None
        option = OPTIONS.get(name.lower())
        usable = command is not None and (option is not None or not rest.strip()) and \
            not (option and option[2] and not rest.strip())
        if usable and not mention:
            data: dict[str, Any] = {"id": snowflake(), "name": name.lower(), "type": 1}
            if rest.strip() and option:
                data["options"] = [{"name": option[0], "type": 3, "value": rest.strip()}]
            await self._send_and_wait("INTERACTION_CREATE", self.fake.interaction(
                data, kind=2, guild=not self.private, admin=self.admin))
        else:
            await self._send_and_wait("MESSAGE_CREATE", self._message(text, mention or (not self.private and bool(name)),
                                                                      reply_to))
        return self.transcript(mark)

    def _message(self, text: str, mention: bool, reply_to: dict | None) -> dict:
        if mention:
            text = f"<@{BOT_USER['id']}> {text}"
        if self.private:
            payload = message_payload(text, USER, DM_ID, guild=False)
        else:
            payload = message_payload(text, USER, CHANNEL_ID)
            payload["member"] = {k: v for k, v in member_payload(USER, self.admin).items() if k != "user"}
        if mention:
            payload["mentions"] = [BOT_USER]
        if reply_to:
            payload["message_reference"] = {"message_id": reply_to["id"], "channel_id": reply_to["channel_id"]}
            payload["referenced_message"] = reply_to
        return payload

    async def press(self, label: str) -> Transcript:
        message, custom_id = self._find_button(label)
        mark = len(self.fake.requests)
        await self._send_and_wait("INTERACTION_CREATE", self.fake.interaction(
            {"custom_id": custom_id, "component_type": 2}, kind=3, guild=not self.private, admin=self.admin,
            message=message))
        return self.transcript(mark)

    # reading what the user saw

    def _find_button(self, label: str) -> tuple[dict, str]:
        candidates = ([self.last_with_buttons] if self.last_with_buttons else []) + list(reversed(self.fake.messages.values()))
        for message in candidates:
            for row in message.get("components") or []:
                for item in row.get("components", []):
                    if item.get("label", "").lower().startswith(label.lower()):
                        return message, item["custom_id"]
        raise AssertionError(f"no button starting {label!r}")

    def transcript(self, mark: int) -> Transcript:
        lines, buttons = [], []
        for index, (method, path, body) in enumerate(self.fake.requests[mark:], mark):
            if method == "DELETE" and "/messages/" in path and not path.startswith("/webhooks/"):
                lines.append("(the answer above was removed)")
                continue
            if method not in ("POST", "PATCH") or body is None or index in self.fake.rejected:
                continue
            if path.endswith("/callback"):
                data = body.get("data") or {}
                origin = self.fake.messages.get(self.fake._origin.get(path.split("/")[2], ""), {})
                ephemeral = bool((data.get("flags", 0) | (origin.get("flags", 0) if body["type"] == 7 else 0)) & 64)
            elif path.endswith("/messages/@original"):  # a deferred answer: as visible as its deferral
                data, ephemeral = body, bool(self.fake.original_flags(path.split("/")[3]) & 64)
                if data.get("content") == "…":
                    continue  # a stand-in, deleted once the answer is posted
            elif path.startswith("/webhooks/") or "/messages" in path:
                data, ephemeral = body, bool(body.get("flags", 0) & 64)
            else:
                continue
            if "content" not in data:
                continue
            text = plain(data["content"])
            dm = path.startswith(f"/channels/{DM_ID}") or path.startswith(f"/channels/{DM_CHANNEL_ID}")
            if not self.private and (ephemeral or dm):
                text = "(private) " + text
            lines.append(text)
            labels = [c.get("label", "") for row in data.get("components") or [] for c in row.get("components", [])]
            buttons += labels
            if labels:
                found = [m for m in self.fake.messages.values() if m.get("components") == data.get("components")]
                self.last_with_buttons = found[-1] if found else None
        return Transcript("\n\n".join(lines), buttons)
