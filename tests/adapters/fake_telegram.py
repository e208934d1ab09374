"""A fake Telegram Bot API on 127.0.0.1 for the real python-telegram-bot to talk to.

Implements the methods the bot uses, records every call, lets tests push updates, and
can be told to fail: 429 with retry_after, a blocked user, a migrated group.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

from aiohttp import web

from tests.adapters.loopback import serve_on_loopback

BOT_ID = 4242
BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "IMG Advisor", "username": "img_advisor_test_bot"}


class FakeTelegram:
    def __init__(self, token: str = "123456:TEST-TOKEN"):
        self.token = token
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.updates: list[dict[str, Any]] = []
        self.admins: set[tuple[int, int]] = set()  # (chat_id, user_id)
        self.blocked: set[int] = set()  # chat ids that answer 403
        self.migrated: dict[int, int] = {}  # old chat id -> new chat id
        self.fail_next: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self.messages: dict[int, dict[str, Any]] = {}  # message_id -> message as sent
        self._uid = itertools.count(1)
        self._mid = itertools.count(1000)
        self._updates_changed = asyncio.Condition()
        self._calls_changed = asyncio.Condition()
        self.runner: web.AppRunner | None = None
        self.closing = False
        self.send_gate: asyncio.Event | None = None  # when set up, sendMessage waits for it
        self.send_arrived = asyncio.Event()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FakeTelegram:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._dispatch)
        self.runner, self.port = await serve_on_loopback(app)
        return self

    async def stop(self) -> None:
        async with self._updates_changed:
            self.closing = True
            self._updates_changed.notify_all()
        if self.runner:
            await self.runner.cleanup()

    # driving

    async def push(self, **payload: Any) -> int:
        update_id = next(self._uid)
        async with self._updates_changed:
            self.updates.append({"update_id": update_id, **payload})
            self._updates_changed.notify_all()
        return update_id

    def sent(self, method: str = "sendMessage") -> list[dict[str, Any]]:
        return [p for m, p in self.calls if m == method]

    async def wait_for_call(self, method: str, count: int, timeout: float = 5.0) -> None:
        async with self._calls_changed:
            await asyncio.wait_for(self._calls_changed.wait_for(
                lambda: sum(m == method for m, _ in self.calls) >= count), timeout)

    # the API

    async def _dispatch(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        raw = await request.json() if request.content_type == "application/json" else dict(await request.post())
        params = {k: (json.loads(v) if isinstance(v, str) and v[:1] in "[{" else v) for k, v in raw.items()}
        if method != "getUpdates":
            async with self._calls_changed:
                self.calls.append((method, params))
                self._calls_changed.notify_all()
        if self.fail_next.get(method):
            status, body = self.fail_next[method].pop(0)
            return web.json_response(body, status=status)
        chat = params.get("chat_id")
        if chat is not None and method in ("sendMessage", "editMessageText"):
            chat_id = int(chat)
            if chat_id in self.blocked:
                return web.json_response({"ok": False, "error_code": 403,
                                          "description": "Forbidden: bot was blocked by the user"}, status=403)
            if chat_id in self.migrated:
                return web.json_response({"ok": False, "error_code": 400,
                                          "description": "Bad Request: group chat was upgraded to a supergroup chat",
                                          "parameters": {"migrate_to_chat_id": self.migrated[chat_id]}}, status=400)
        handler = getattr(self, f"_m_{method.lower()}", None)
        if handler is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        return web.json_response({"ok": True, "result": await handler(params)})

    async def _m_getme(self, p: dict) -> dict:
        return BOT_USER

    async def _m_deletewebhook(self, p: dict) -> bool:
        return True

    async def _m_setmycommands(self, p: dict) -> bool:
        return True

    async def _m_setwebhook(self, p: dict) -> bool:
        return True

    async def _m_getupdates(self, p: dict) -> list:
        offset, timeout = int(p.get("offset") or 0), float(p.get("timeout") or 0)
        async with self._updates_changed:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
            if not self.updates and timeout and not self.closing:
                try:
                    await asyncio.wait_for(self._updates_changed.wait(), min(timeout, 1.0))
                except asyncio.TimeoutError:
                    pass
            return self.updates[: int(p.get("limit") or 100)]

    def _message(self, chat_id: int, text: str, reply_markup: Any = None, thread: Any = None) -> dict:
        message = {"message_id": next(self._mid), "date": int(time.time()), "from": BOT_USER,
                   "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"}, "text": text}
        if reply_markup:
            message["reply_markup"] = reply_markup
        if thread:
            message.update(message_thread_id=int(thread), is_topic_message=True)
        self.messages[message["message_id"]] = message
        return message

    async def _m_sendmessage(self, p: dict) -> dict:
        self.send_arrived.set()
        if self.send_gate is not None:
            await self.send_gate.wait()
        return self._message(int(p["chat_id"]), p["text"], p.get("reply_markup"), p.get("message_thread_id"))

    async def _m_editmessagetext(self, p: dict) -> dict:
        message = self.messages.get(int(p["message_id"])) or self._message(int(p["chat_id"]), p["text"])
        message["text"] = p["text"]
        message.pop("reply_markup", None)
        if p.get("reply_markup"):
            message["reply_markup"] = p["reply_markup"]
        return message

    async def _m_answercallbackquery(self, p: dict) -> bool:
        return True

    async def _m_deletemessage(self, p: dict) -> bool:
        self.messages.pop(int(p["message_id"]), None)
        return True

    async def _m_getchatmember(self, p: dict) -> dict:
        chat_id, user_id = int(p["chat_id"]), int(p["user_id"])
        status = "administrator" if (chat_id, user_id) in self.admins else "member"
        user = {"id": user_id, "is_bot": False, "first_name": "User"}
        if status == "administrator":
            return {"status": status, "user": user, "can_be_edited": False, "is_anonymous": False,
                    "can_manage_chat": True, "can_delete_messages": True, "can_manage_video_chats": True,
                    "can_restrict_members": True, "can_promote_members": False, "can_change_info": True,
                    "can_invite_users": True, "can_post_stories": False, "can_edit_stories": False,
                    "can_delete_stories": False}
        return {"status": status, "user": user}
