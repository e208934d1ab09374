"""Run the configured platform adapters and the reminder scheduler in one asyncio process.

SIGTERM or SIGINT stops taking updates, lets in-flight replies and deliveries finish,
stops the scheduler between two deliveries (so a reminder in flight is confirmed, not
lost or doubled), and closes the database.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import time
from typing import Protocol

from bot.advisor import Advisor
from bot.config import Settings
from bot.database import is_store_fault
from bot.reminders.scheduler import Notifier, Scheduler

log = logging.getLogger(__name__)


class PlatformAdapter(Notifier, Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


HEARTBEAT_SECONDS = 30


async def _heartbeat(advisor: Advisor, platforms: list[str]) -> None:
    """Record that the process is alive, for `img-advisor health --require-running` (a store fault skips a beat)."""
    while True:
        _set_meta(advisor, "heartbeat", json.dumps({"at": time.time(), "platforms": platforms}))
        await asyncio.sleep(HEARTBEAT_SECONDS)


def _set_meta(advisor: Advisor, key: str, value: str) -> None:
    try:
        advisor.database.set_meta(key, value)
    except Exception as exc:  # noqa: BLE001 - a store fault must not stop the process
        if not is_store_fault(exc):
            raise
        advisor.database.status.failed(exc, f"writing the {key}")


def build_adapters(advisor: Advisor, settings: Settings) -> dict[str, PlatformAdapter]:
    """An adapter for every platform whose token is configured."""
    adapters: dict[str, PlatformAdapter] = {}
    if settings.telegram_token:
        from adapters.telegram_bot import PLATFORM, TelegramAdapter

        adapters[PLATFORM] = TelegramAdapter(advisor, settings.telegram_token, settings.telegram_api_url,
                                             rate_limit=settings.telegram_rate_limiter,
                                             webhook_url=settings.telegram_webhook_url,
                                             webhook_listen=settings.telegram_webhook_listen,
                                             webhook_secret=settings.telegram_webhook_secret)
    if settings.discord_token:
        from adapters.discord_bot import PLATFORM as DISCORD
        from adapters.discord_bot import DiscordAdapter

        adapters[DISCORD] = DiscordAdapter(advisor, settings.discord_token, api_url=settings.discord_api_url,
                                           gateway_url=settings.discord_gateway_url,
                                           guild_id=settings.discord_guild_id)
    return adapters


async def serve(advisor: Advisor, adapters: dict[str, PlatformAdapter], stop: asyncio.Event | None = None) -> None:
    """Start every adapter and the scheduler; run until `stop` is set or a stop signal arrives."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread, or no signals here
            pass
    if advisor.knowledge_dir is not None and hasattr(signal, "SIGHUP"):
        directory = advisor.knowledge_dir
        try:  # `kill -HUP <pid>`: reload the knowledge base; a broken one is refused, the old one keeps running
            loop.add_signal_handler(signal.SIGHUP, lambda: log.info(advisor.reload(directory)))
        except (NotImplementedError, RuntimeError):
            pass
    scheduler = Scheduler(advisor.database, adapters, advisor.reminders.render_delivery, advisor.clock)
    advisor.reminders.on_change(scheduler.wake)
    started: list[PlatformAdapter] = []
    try:
        for name, adapter in adapters.items():
            await adapter.start()
            started.append(adapter)
            log.info("%s adapter running", name)
        deliveries = asyncio.create_task(scheduler.run(), name="reminder-scheduler")
        heartbeat = asyncio.create_task(_heartbeat(advisor, sorted(adapters)), name="heartbeat")
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait({deliveries, waiter}, return_when=asyncio.FIRST_COMPLETED)
        log.info("stopping: no new updates; finishing in-flight work")
        scheduler.stop()
        await deliveries
        heartbeat.cancel()
        waiter.cancel()
        _set_meta(advisor, "heartbeat", "stopped")
    finally:
        for adapter in reversed(started):
            try:
                await adapter.stop()
            except Exception:  # noqa: BLE001 - one adapter failing to stop must not keep the others running
                log.exception("adapter failed to stop cleanly")
        for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):
                pass
