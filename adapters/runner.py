"""Run the configured platform adapters and the reminder scheduler in one asyncio process.

Each platform is supervised on its own: one that cannot start (a mistyped token, a
refused intent, no network) is reported in one line naming the variable to fix, and
retried with growing back-off, while the others keep serving. The heartbeat in the
database (`img-advisor health`) carries every platform's state.

SIGTERM or SIGINT stops taking updates, lets in-flight replies and deliveries finish,
stops the scheduler between two deliveries (so a reminder in flight is confirmed, not
lost or doubled), and closes the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

from bot.advisor import Advisor
from bot.config import Settings
from bot.events import ChatRef, Reply
from bot.reminders.scheduler import Delivery, Notifier, Scheduler

log = logging.getLogger(__name__)


class PlatformAdapter(Notifier, Protocol):
    async def start(self) -> None:
        """Connect and return once serving; raise if the platform cannot be reached."""

    async def stop(self) -> None:
        """Stop serving and release the connection (safe after a failed start)."""

    async def wait_closed(self) -> None:
        """Return (or raise) when the connection ended for good while serving."""

    def explain(self, error: BaseException) -> str | None:
        """One line saying what went wrong and what to fix, never a secret; None if unknown."""


HEARTBEAT_SECONDS = 30
RETRY_SECONDS: tuple[float, ...] = (5, 15, 30, 60, 120, 300)
"""Back-off between start attempts of a platform that failed: 5 s, growing to 5 minutes."""


@dataclass
class PlatformState:
    """What one platform is doing, as `img-advisor health` reports it."""

    state: str = "starting"  # "starting" | "running" | "retrying"
    since: float = 0.0
    problem: str | None = None
    attempts: int = 0
    retry_at: float | None = None


class PlatformBoard:
    """Every platform's state; calls `on_change` whenever one changes (to write the heartbeat)."""

    def __init__(self, names: Sequence[str], on_change: Callable[[], None] = lambda: None):
        now = time.time()
        self.states = {name: PlatformState(since=now) for name in names}
        self.on_change = on_change

    def running(self, name: str) -> None:
        self.states[name] = PlatformState("running", time.time())
        self.on_change()

    def failed(self, name: str, problem: str, retry_in: float) -> None:
        previous = self.states[name]
        now = time.time()
        self.states[name] = PlatformState("retrying", now, problem, previous.attempts + 1, now + retry_in)
        self.on_change()

    def is_running(self, name: str) -> bool:
        return self.states[name].state == "running"

    def as_dict(self) -> dict[str, dict[str, object]]:
        return {name: asdict(state) for name, state in self.states.items()}


class _WhenConnected:
    """A platform's notifier for the scheduler: while the platform is down, deliveries wait."""

    def __init__(self, name: str, adapter: PlatformAdapter, board: PlatformBoard):
        self.name, self.adapter, self.board = name, adapter, board

    async def deliver(self, target: ChatRef, reply: Reply) -> Delivery:
        if not self.board.is_running(self.name):
            return Delivery.retry(f"{self.name} is not connected")
        return await self.adapter.deliver(target, reply)


def _explain(adapter: PlatformAdapter, error: BaseException) -> str:
    explained = adapter.explain(error) if hasattr(adapter, "explain") else None
    if explained:
        return explained
    log.debug("start-up failure details", exc_info=error)  # redacted like every record
    return f"{type(error).__name__}: {error}"


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds` or until `stop` is set; True if it was set."""
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


async def _quietly_stop(name: str, adapter: PlatformAdapter) -> None:
    try:
        await adapter.stop()
    except Exception:  # noqa: BLE001 - cleaning up after a failure must not raise another
        log.debug("%s adapter did not stop cleanly", name, exc_info=True)


async def _supervise(name: str, adapter: PlatformAdapter, board: PlatformBoard, stop: asyncio.Event,
                     first_try: asyncio.Event, delays: Sequence[float]) -> None:
    """Keep one platform running: start it, and after a failure retry with back-off."""
    failures = 0
    while not stop.is_set():
        try:
            await adapter.start()
        except Exception as exc:  # noqa: BLE001 - every start-up failure is reported and retried
            problem = _explain(adapter, exc)
        else:
            failures = 0
            board.running(name)
            log.info("%s adapter running", name)
            first_try.set()
            closed = asyncio.ensure_future(adapter.wait_closed())
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({closed, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if stop.is_set():
                closed.cancel()
                return
            error = closed.exception()
            problem = _explain(adapter, error) if error else "the connection closed"
        delay = delays[min(failures, len(delays) - 1)]
        failures += 1
        board.failed(name, problem, delay)
        others = "; the other platforms keep serving" if len(board.states) > 1 else ""
        log.error("%s is not running: %s. Retrying in %s s%s.", name, problem, f"{delay:g}", others)
        await _quietly_stop(name, adapter)
        first_try.set()
        if await _stopped_within(stop, delay):
            return


async def _heartbeat(advisor: Advisor, board: PlatformBoard) -> None:
    """Record that the process is alive, for `img-advisor health --require-running`."""
    while True:
        _beat(advisor, board)
        await asyncio.sleep(HEARTBEAT_SECONDS)


def _beat(advisor: Advisor, board: PlatformBoard) -> None:
    advisor.database.set_meta("heartbeat", json.dumps(
        {"at": time.time(), "platforms": sorted(board.states), "state": board.as_dict()}))


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
                                           gateway_url=settings.discord_gateway_url)
    return adapters


async def serve(advisor: Advisor, adapters: dict[str, PlatformAdapter], stop: asyncio.Event | None = None,
                retry_delays: Sequence[float] | None = None) -> None:
    """Start every adapter and the scheduler; run until `stop` is set or a stop signal arrives.

    A platform that fails to start is retried after `retry_delays` (default `RETRY_SECONDS`;
    the last one repeats) while the others serve; reminders for it wait until it is back.
    """
    stop = stop or asyncio.Event()
    retry_delays = retry_delays or RETRY_SECONDS
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
    board = PlatformBoard(list(adapters), on_change=lambda: _beat(advisor, board))
    notifiers = {name: _WhenConnected(name, adapter, board) for name, adapter in adapters.items()}
    scheduler = Scheduler(advisor.database, notifiers, advisor.reminders.render_delivery, advisor.clock)
    advisor.reminders.on_change(scheduler.wake)
    first_tries = {name: asyncio.Event() for name in adapters}
    supervisors = [asyncio.create_task(_supervise(name, adapter, board, stop, first_tries[name], retry_delays),
                                       name=f"{name}-supervisor") for name, adapter in adapters.items()]
    heartbeat = asyncio.create_task(_heartbeat(advisor, board), name="heartbeat")
    waiter = asyncio.create_task(stop.wait())
    try:
        # the scheduler starts once every platform has had its first try, so due reminders find them up
        tried = asyncio.ensure_future(asyncio.gather(*(e.wait() for e in first_tries.values())))
        await asyncio.wait({tried, waiter}, return_when=asyncio.FIRST_COMPLETED)
        tried.cancel()
        if not stop.is_set():
            deliveries = asyncio.create_task(scheduler.run(), name="reminder-scheduler")
            await asyncio.wait({deliveries, waiter}, return_when=asyncio.FIRST_COMPLETED)
            log.info("stopping: no new updates; finishing in-flight work")
            scheduler.stop()
            await deliveries
    finally:
        stop.set()
        for task in (*supervisors, heartbeat, waiter):
            task.cancel()
        await asyncio.gather(*supervisors, heartbeat, waiter, return_exceptions=True)
        for name, adapter in reversed(list(adapters.items())):
            try:
                await adapter.stop()
            except Exception:  # noqa: BLE001 - one adapter failing to stop must not keep the others running
                log.exception("%s adapter failed to stop cleanly", name)
        advisor.database.set_meta("heartbeat", "stopped")
        for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):
                pass
