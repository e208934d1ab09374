"""Helpers shared by the fake platform servers and the adapter drivers (loopback only)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web


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
