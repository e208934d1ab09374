"""Helpers shared by the fake platform servers and the adapter drivers (loopback only)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.advisor import Advisor
from bot.database import Database
from bot.knowledge import KnowledgeBase
from bot.reminders.scheduler import Scheduler
from tests.fakes import TEST_LIMITS, FakeClock
from tests.scenario import Transcript


async def serve_on_loopback(app: web.Application) -> tuple[web.AppRunner, int]:
    """Start `app` on 127.0.0.1 on a free port; return its runner and the port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


class HandledCounter:
    """Counts events an adapter finished handling, so a driver can wait for its reply."""

    def __init__(self) -> None:
        self.count = 0
        self._changed = asyncio.Condition()

    def __call__(self) -> None:
        """The adapter's observer hook (called after each event is handled)."""
        self.count += 1
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def after(self, send: Callable[[], Awaitable[object]], timeout: float = 10) -> None:
        """Run `send` (deliver one event to the bot) and wait until the adapter has handled it."""
        target = self.count + 1
        await send()
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: self.count >= target), timeout)


class PlatformDriver:
    """What the Telegram and Discord drivers share: the bot's parts, fake time, restarts.

    A subclass makes its adapter (`make_adapter`), says how far the fake's log has got
    (`mark`) and turns the log since a mark into what the user saw (`transcript`).
    """

    platform = ""

    def __init__(self, kb: KnowledgeBase, db_path: Path, start: dt.datetime) -> None:
        self.kb, self.db_path = kb, db_path
        self.clock = FakeClock(start)
        self.private = True
        self.handled = HandledCounter()

    def make_adapter(self, advisor: Advisor) -> Any:
        raise NotImplementedError

    def mark(self) -> int:
        raise NotImplementedError

    def transcript(self, mark: int) -> Transcript:
        raise NotImplementedError

    async def boot(self) -> None:
        self.store = Database.open(self.db_path)
        self.advisor = Advisor(self.kb, self.store, self.clock, limits=TEST_LIMITS)
        self.adapter = self.make_adapter(self.advisor)
        self.adapter.handled.append(self.handled)
        self.scheduler = Scheduler(self.store, {self.platform: self.adapter}, self.advisor.reminders.render_delivery,
                                   self.clock)
        self.advisor.reminders.on_change(self.scheduler.wake)
        await self.adapter.start()

    async def shutdown(self) -> None:
        await self.adapter.stop()
        self.store.close()

    async def start(self, private: bool) -> None:
        self.private = private

    async def advance(self, delta: dt.timedelta) -> Transcript:
        self.clock.advance(delta)
        mark = self.mark()
        await self.scheduler.dispatch_due()
        return self.transcript(mark)

    async def restart(self) -> None:
        await self.shutdown()
        await self.boot()
