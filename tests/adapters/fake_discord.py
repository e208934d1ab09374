"""A fake Discord REST API and gateway on 127.0.0.1 for the real discord.py to talk to.

Enough of the protocol for the bot: login, READY/GUILD_CREATE, heartbeats and RESUME,
messages, DMs, slash-command sync, interaction callbacks and follow-ups, message
edits; plus switches for 429s (with the `Via` header discord.py looks for), closed DMs,
and missing permissions.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

from aiohttp import WSMsgType, web

from tests.adapters.loopback import serve_on_loopback

APP_ID = 900000000000000001
GUILD_ID = 900000000000000002
CHANNEL_ID = 900000000000000003
BOT_USER = {"id": "900000000000000004", "username": "IMG Advisor", "discriminator": "0", "avatar": None,
            "bot": True, "global_name": "IMG Advisor"}
USER = {"id": "900000000000000777", "username": "amina", "discriminator": "0", "avatar": None,
        "global_name": "Amina"}
DM_CHANNEL_ID = 900000000000000888
ADMIN_PERMISSIONS = str(1 << 3 | 1 << 5)  # administrator | manage guild
MEMBER_PERMISSIONS = str(1 << 10 | 1 << 11)  # view channel | send messages

_snowflakes = itertools.count(910000000000000000)


def snowflake() -> str:
    return str(next(_snowflakes))


def response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON with the exact content type discord.py compares against."""
    return web.Response(body=json.dumps(obj).encode(), status=status,
                        headers={"Content-Type": "application/json", **(headers or {})})


def message_payload(content: str, author: dict, channel_id: int, components: list | None = None,
                    message_id: str | None = None, guild: bool = True) -> dict:
    payload = {"id": message_id or snowflake(), "channel_id": str(channel_id), "author": author,
               "content": content, "timestamp": "2026-01-01T00:00:00+00:00", "edited_timestamp": None,
               "tts": False, "mention_everyone": False, "mentions": [], "mention_roles": [], "attachments": [],
               "embeds": [], "pinned": False, "type": 0, "components": components or [], "flags": 0}
    if guild:
        payload["guild_id"] = str(GUILD_ID)
    return payload


def member_payload(user: dict, admin: bool) -> dict:
    return {"user": user, "roles": [], "joined_at": "2025-01-01T00:00:00+00:00", "deaf": False, "mute": False,
            "flags": 0, "permissions": ADMIN_PERMISSIONS if admin else MEMBER_PERMISSIONS}


def guild_payload() -> dict:
    return {"id": str(GUILD_ID), "name": "IMG server", "owner_id": "1", "member_count": 2, "large": False,
            "roles": [{"id": str(GUILD_ID), "name": "@everyone", "permissions": MEMBER_PERMISSIONS, "position": 0,
                       "color": 0, "hoist": False, "managed": False, "mentionable": False, "flags": 0}],
            "channels": [{"id": str(CHANNEL_ID), "type": 0, "name": "general", "position": 0,
                          "permission_overwrites": [], "guild_id": str(GUILD_ID)}],
            "members": [member_payload(BOT_USER, False)], "emojis": [], "stickers": [], "threads": [],
            "voice_states": [], "presences": [], "stage_instances": [], "guild_scheduled_events": [],
            "features": [], "premium_tier": 0, "preferred_locale": "en-US", "afk_timeout": 300,
            "verification_level": 0, "default_message_notifications": 0, "explicit_content_filter": 0,
            "mfa_level": 0, "nsfw_level": 0, "system_channel_flags": 0, "unavailable": False}


MESSAGE_CONTENT_INTENT = 1 << 15


class FakeDiscord:
    def __init__(self, token: str = "fake-token") -> None:
        self.token = token  # the only token REST and the gateway accept (others: 401 / close 4004)
        self.refuse_message_content = False  # like an application without the privileged intent (close 4014)
        self.interaction_deadline = 3.0  # seconds to answer an interaction, as on Discord (then 10062)
        self._created: dict[str, float] = {}  # interaction id -> when it was sent to the bot
        self._responses: dict[str, str] = {}  # interaction token -> id of its original response message
        self.requests: list[tuple[str, str, Any]] = []
        self.rejected: set[int] = set()  # indexes of requests answered with an error
        self.messages: dict[str, dict] = {}
        self.gateway_log: list[dict] = []  # what the bot sent on the gateway
        self.gateway_sent: list[dict] = []  # the events sent to the bot (their data)
        self.dms_closed: set[str] = set()
        self.forbidden_channels: set[int] = set()
        self.fail_next: dict[str, list[tuple[int, dict, dict]]] = {}
        self.seq = 0
        self.ws: web.WebSocketResponse | None = None
        self.identified = asyncio.Event()
        self._send_lock = asyncio.Lock()
        self._changed = asyncio.Condition()
        self.runner: web.AppRunner | None = None
        self.port = 0

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gw"

    async def start(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_get("/gw", self._gateway)
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        self.runner, self.port = await serve_on_loopback(app)
        return self

    async def stop(self) -> None:
        if self.ws is not None and not self.ws.closed:
            await self.ws.close()
        if self.runner:
            await self.runner.cleanup()

    async def _record(self, entry: tuple[str, str, Any]) -> None:
        async with self._changed:
            self.requests.append(entry)
            self._changed.notify_all()

    async def wait_for(self, predicate, timeout: float = 5.0) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)

    def original_flags(self, interaction_token: str) -> int:
        """The flags (64: ephemeral) of an interaction's original response."""
        return int(self.messages.get(self._responses.get(interaction_token, ""), {}).get("flags", 0))

    def posts(self, suffix: str = "") -> list[tuple[str, Any]]:
        return [(p, b) for m, p, b in self.requests if m in ("POST", "PATCH") and p.endswith(suffix)]

    # REST

    async def _rest(self, request: web.Request) -> web.Response:
        reply = await self._answer(request)
        if reply.status >= 400:
            self.rejected.add(len(self.requests) - 1)
        return reply

    async def _answer(self, request: web.Request) -> web.Response:
        path, method = "/" + request.match_info["path"], request.method
        body = None
        if request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
            elif request.content_type.startswith("multipart/"):
                form = await request.post()
                body = json.loads(form["payload_json"]) if "payload_json" in form else {}
        await self._record((method, path, body))
        if request.headers.get("Authorization", f"Bot {self.token}") != f"Bot {self.token}":
            return response({"message": "401: Unauthorized", "code": 0}, 401)
        key = f"{method} {path.split('?')[0]}"
        for pattern, failures in self.fail_next.items():
            if failures and key.startswith(pattern):
                status, payload, headers = failures.pop(0)
                return response(payload, status, headers)
        parts = path.strip("/").split("/")
        if method == "GET" and path == "/users/@me":
            return response(BOT_USER)
        if method == "GET" and path == "/oauth2/applications/@me":
            return response({"id": str(APP_ID), "name": "IMG Advisor", "description": "", "icon": None,
                             "bot_public": True, "bot_require_code_grant": False, "verify_key": "k",
                             "owner": {**USER, "id": "1"}, "flags": 0})
        if method == "PUT" and parts[0] == "applications" and parts[-1] == "commands":
            return response([{**c, "id": snowflake(), "application_id": str(APP_ID), "version": "1"} for c in body])
        if method == "POST" and path == "/users/@me/channels":
            recipient = body["recipient_id"]
            return response({"id": str(DM_CHANNEL_ID + int(recipient) % 1000), "type": 1,
                             "recipients": [{**USER, "id": str(recipient)}]})
        if method == "GET" and parts[0] == "users" and len(parts) == 2:
            return response({**USER, "id": parts[1]})
        if method == "GET" and parts[0] == "channels" and len(parts) == 2:
            channel_id = int(parts[1])
            if channel_id == CHANNEL_ID:
                return response({"id": parts[1], "type": 0, "name": "general", "guild_id": str(GUILD_ID),
                                 "position": 0, "permission_overwrites": []})
            if channel_id >= DM_CHANNEL_ID:
                return response({"id": parts[1], "type": 1, "recipients": [USER]})
            return response({"message": "Unknown Channel", "code": 10003}, 404)
        if method == "POST" and parts[0] == "channels" and parts[-1] == "messages":
            channel_id = int(parts[1])
            if channel_id in self.forbidden_channels:
                return response({"message": "Missing Permissions", "code": 50013}, 403)
            if channel_id >= DM_CHANNEL_ID and str(USER["id"]) in self.dms_closed:
                return response({"message": "Cannot send messages to this user", "code": 50007}, 403)
            if channel_id not in (CHANNEL_ID,) and channel_id < DM_CHANNEL_ID:
                return response({"message": "Unknown Channel", "code": 10003}, 404)
            message = message_payload(body.get("content") or "", BOT_USER, channel_id, body.get("components"),
                                      guild=channel_id == CHANNEL_ID)
            self.messages[message["id"]] = message
            return response(message)
        if method == "PATCH" and parts[0] == "channels" and parts[2] == "messages":
            message = self.messages.setdefault(parts[3], message_payload("", BOT_USER, int(parts[1]),
                                                                         message_id=parts[3]))
            message.update({k: v for k, v in body.items() if k in ("content", "components")})
            return response(message)
        if method == "POST" and parts[0] == "interactions" and parts[-1] == "callback":
            if time.monotonic() - self._created.get(parts[1], time.monotonic()) > self.interaction_deadline:
                return response({"message": "Unknown interaction", "code": 10062}, 404)
            data = body.get("data") or {}
            message = message_payload(data.get("content") or "", BOT_USER, CHANNEL_ID, data.get("components"))
            if body["type"] in (6, 7) and self._origin.get(parts[1]):  # (deferred) update of the pressed message
                message = self.messages[self._origin[parts[1]]]
                if body["type"] == 7:
                    message.update({k: v for k, v in data.items() if k in ("content", "components")})
            elif body["type"] in (4, 5):  # a new message (5: "thinking…" until the first follow-up)
                message["flags"] = data.get("flags", 0)
                self.messages[message["id"]] = message
            self._responses[parts[2]] = message["id"]
            return response({"interaction": {"id": parts[1], "type": 2, "response_message_id": message["id"],
                                             "response_message_loading": False, "response_message_ephemeral":
                                             bool(data.get("flags", 0) & 64)},
                             "resource": {"type": body["type"], "message": message}})
        if parts[0] == "webhooks" and parts[-1] == "@original":  # the interaction's original response
            original = self.messages.get(self._responses.get(parts[2], ""))
            if original is None:
                return response({"message": "Unknown Message", "code": 10008}, 404)
            if method == "DELETE":
                self.messages.pop(original["id"], None)
                return web.Response(status=204)
            original.update({k: v for k, v in (body or {}).items() if k in ("content", "components")})
            return response(original)
        if parts[0] == "webhooks":  # follow-ups
            data = body or {}
            message = message_payload(data.get("content") or "", BOT_USER, CHANNEL_ID, data.get("components"))
            message["flags"] = data.get("flags", 0)
            self.messages[message["id"]] = message
            return response(message)
        if method == "DELETE":
            return web.Response(status=204)
        return response({"message": "404: Not Found", "code": 0}, 404)

    # gateway

    async def send(self, payload: dict) -> None:
        assert self.ws is not None
        async with self._send_lock:
            await self.ws.send_str(json.dumps(payload))

    async def dispatch(self, event: str, data: dict) -> None:
        self.gateway_sent.append(data)
        self.seq += 1
        await self.send({"op": 0, "t": event, "s": self.seq, "d": data})

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.ws = ws
        await self.send({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            payload = json.loads(msg.data)
            self.gateway_log.append(payload)
            if payload["op"] == 1:
                await self.send({"op": 11, "d": None, "s": None, "t": None})
            elif payload["op"] == 2 and payload["d"]["token"] != self.token:
                await ws.close(code=4004, message=b"Authentication failed.")
            elif payload["op"] == 2 and self.refuse_message_content and \
                    int(payload["d"]["intents"]) & MESSAGE_CONTENT_INTENT:
                await ws.close(code=4014, message=b"Disallowed intent(s).")
            elif payload["op"] == 2:
                await self.dispatch("READY", {"v": 10, "user": BOT_USER, "session_id": "session-1",
                                              "resume_gateway_url": self.gateway_url,
                                              "guilds": [{"id": str(GUILD_ID), "unavailable": True}],
                                              "application": {"id": str(APP_ID), "flags": 0}})
                await self.dispatch("GUILD_CREATE", guild_payload())
                self.identified.set()
            elif payload["op"] == 6:
                await self.dispatch("RESUMED", {})
                self.identified.set()
        return ws

    # interactions the tests send

    _origin: dict[str, str] = {}

    def interaction(self, data: dict, *, kind: int, guild: bool, admin: bool = False,
                    message: dict | None = None) -> dict:
        interaction_id = snowflake()
        self._created[interaction_id] = time.monotonic()
        payload = {"id": interaction_id, "application_id": str(APP_ID), "type": kind, "token": f"tok-{interaction_id}",
                   "version": 1, "attachment_size_limit": 8388608, "data": data, "locale": "en-US",
                   "entitlements": [], "authorizing_integration_owners": {"0": str(GUILD_ID)},
                   "app_permissions": ADMIN_PERMISSIONS}
        if guild:
            payload.update({"guild_id": str(GUILD_ID), "channel_id": str(CHANNEL_ID), "context": 0,
                            "channel": {"id": str(CHANNEL_ID), "type": 0, "guild_id": str(GUILD_ID), "name": "general"},
                            "member": member_payload(USER, admin)})
        else:
            dm = str(DM_CHANNEL_ID + int(USER["id"]) % 1000)
            payload.update({"channel_id": dm, "context": 1, "user": USER,
                            "channel": {"id": dm, "type": 1, "recipients": [USER]}})
        if message is not None:
            payload["message"] = message
            self._origin[interaction_id] = message["id"]
        return payload
