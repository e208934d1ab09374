"""Drives the real python-telegram-bot adapter through the fake Bot API, as a Telegram user would."""

from __future__ import annotations

import datetime as dt
import html
import re
import time
from pathlib import Path
from typing import Any

from adapters.telegram_bot import PLATFORM, TelegramAdapter
from bot.advisor import Advisor
from bot.knowledge import KnowledgeBase
from tests.adapters.fake_telegram import BOT_USER, FakeTelegram
from tests.adapters.loopback import PlatformDriver
from tests.scenario import Transcript

USER = {"id": 777, "is_bot": False, "first_name": "Amina"}
GROUP_ID = -100123
_TAG = re.compile(r"<[^>]+>")


def plain(text: str) -> str:
    return html.unescape(_TAG.sub("", text))


class TelegramDriver(PlatformDriver):
    platform = PLATFORM

    def __init__(self, kb: KnowledgeBase, fake: FakeTelegram, db_path: Path, start: dt.datetime):
        super().__init__(kb, db_path, start)
        self.fake = fake
        self._message_id = 1
        self.last_keyboard: dict[str, Any] | None = None

    def make_adapter(self, advisor: Advisor) -> TelegramAdapter:
        adapter = TelegramAdapter(advisor, self.fake.token, self.fake.url, rate_limit=False)
        adapter.admin_cache_seconds = 0
        return adapter

    def mark(self) -> int:
        return len(self.fake.calls)

    async def _push_and_wait(self, **update: Any) -> None:
        await self.handled.after(lambda: self.fake.push(**update))

    @property
    def chat(self) -> dict[str, Any]:
        if self.private:
            return {"id": USER["id"], "type": "private", "first_name": USER["first_name"]}
        return {"id": GROUP_ID, "type": "supergroup", "title": "IMG group"}

    # Driver

    def set_admin(self, admin: bool) -> None:
        key = (GROUP_ID, USER["id"])
        (self.fake.admins.add if admin else self.fake.admins.discard)(key)

    async def say(self, text: str, mention: bool = False, reply_to: dict | None = None) -> Transcript:
        entities = []
        if mention:
            handle = f"@{BOT_USER['username']}"
            text = f"{handle} {text}"
            entities.append({"type": "mention", "offset": 0, "length": len(handle)})
        elif text.startswith("/"):
            entities.append({"type": "bot_command", "offset": 0, "length": len(text.split()[0])})
        self._message_id += 1
        message = {"message_id": self._message_id, "date": int(time.time()), "chat": self.chat, "from": USER,
                   "text": text, "entities": entities}
        if reply_to:
            message["reply_to_message"] = reply_to
        mark = len(self.fake.calls)
        await self._push_and_wait(message=message)
        return self.transcript(mark)

    async def send(self, **message: Any) -> Transcript:
        """Push one message shaped as the test wants (defaults: from the user, now, in the current chat)."""
        self._message_id += 1
        message = {"message_id": self._message_id, "date": int(time.time()), "chat": self.chat, "from": USER,
                   **message}
        mark = len(self.fake.calls)
        await self._push_and_wait(message=message)
        return self.transcript(mark)

    async def press(self, label: str) -> Transcript:
        message = self._find_button_message(label)
        button = next(b for row in message["reply_markup"]["inline_keyboard"] for b in row
                      if b["text"].lower().startswith(label.lower()) and "callback_data" in b)
        mark = len(self.fake.calls)
        self._message_id += 1
        await self._push_and_wait(callback_query={
            "id": str(self._message_id), "from": USER, "chat_instance": "ci", "data": button["callback_data"],
            "message": {**message, "date": 0}})
        return self.transcript(mark)

    # reading what the user saw

    def _find_button_message(self, label: str) -> dict[str, Any]:
        candidates = [m for m in reversed(list(self.fake.messages.values())) if m.get("reply_markup")]
        for message in ([self.last_keyboard] if self.last_keyboard else []) + candidates:
            if message is None:
                continue
            for row in message["reply_markup"].get("inline_keyboard", []):
                if any(b["text"].lower().startswith(label.lower()) for b in row):
                    return message
        raise AssertionError(f"no button starting {label!r}")

    def transcript(self, mark: int) -> Transcript:
        lines, buttons = [], []
        for method, params in self.fake.calls[mark:]:
            if method == "deleteMessage":
                lines.append("(the answer above was removed)")
                continue
            if method == "answerCallbackQuery" and params.get("text"):
                lines.append(params["text"])
                continue
            if method not in ("sendMessage", "editMessageText"):
                continue
            text = plain(params["text"])
            if not self.private and int(params["chat_id"]) == USER["id"]:
                text = "(private) " + text
            markup = params.get("reply_markup") or {}
            for row in markup.get("inline_keyboard", []):
                for b in row:
                    if "url" in b and "?start=" in b["url"]:
                        text += f"\n(opens the private chat with /start {b['url'].split('?start=')[1]})"
                    else:
                        buttons.append(b["text"])
            lines.append(text)
            if markup.get("inline_keyboard"):
                message_id = None
                sent = [m for m in self.fake.messages.values() if m.get("text") == params["text"]]
                if sent:
                    message_id = sent[-1]["message_id"]
                self.last_keyboard = self.fake.messages.get(message_id) if message_id else None
        return Transcript("\n\n".join(lines), buttons)
