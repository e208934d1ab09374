"""Every conversation in tests/scenarios/ played through the console adapter."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from adapters.console import MENTION, PLATFORM, ConsoleChat, ConsoleNotifier
from bot.advisor import Advisor
from bot.database import Database
from bot.knowledge import KnowledgeBase
from bot.reminders.scheduler import Scheduler
from bot.reminders.store import ReminderStore
from tests.fakes import TEST_LIMITS, FakeClock
from tests.scenario import Scenario, Transcript, load_scenarios, play


class ConsoleDriver:
    """Types lines into a ConsoleChat, as a person at the terminal would; time is fake."""

    def __init__(self, kb: KnowledgeBase, db_path: Path, start: dt.datetime):
        self.kb = kb
        self.db_path = db_path
        self.clock = FakeClock(start)
        self.delivered: list[str] = []
        self.private = True
        self.admin = False
        self._boot()

    def _boot(self) -> None:
        self.store = Database.open(self.db_path)
        self.advisor = Advisor(self.kb, self.store, self.clock, limits=TEST_LIMITS)
        self.chat = ConsoleChat(self.advisor, private=self.private, is_admin=self.admin)
        self.scheduler = Scheduler(self.store, {PLATFORM: ConsoleNotifier(self.chat, self.delivered.append)},
                                   self.advisor.reminders.render_delivery, self.clock)

    async def start(self, private: bool) -> None:
        self.private = private
        await self.chat.process_line("/dm" if private else "/group")

    async def say(self, text: str, mention: bool = False) -> Transcript:
        line = f"{MENTION} {text}" if mention else text
        return self._transcript(await self.chat.process_line(line))

    async def press(self, label: str) -> Transcript:
        for key, button in self.chat.keys.items():
            if button.label.lower().startswith(label.lower()):
                return self._transcript(await self.chat.process_line(key))
        raise AssertionError(f"no button starting {label!r}: {[b.label for b in self.chat.keys.values()]}")

    async def advance(self, delta: dt.timedelta) -> Transcript:
        self.clock.advance(delta)
        self.delivered.clear()
        await self.scheduler.dispatch_due()
        return self._transcript("\n".join(self.delivered))

    async def restart(self) -> None:
        """The process stops and starts again on the same database; the screen still shows the old buttons."""
        on_screen = self.chat.keys
        self.store.close()
        self._boot()
        self.chat.keys = on_screen
        ReminderStore(self.store).release_claims()

    def set_admin(self, admin: bool) -> None:
        self.admin = self.chat.is_admin = admin

    def _transcript(self, output: str) -> Transcript:
        """The text as shown, without the numbered button lines (buttons are reported separately)."""
        text = "\n".join(line for line in output.splitlines() if not re.match(r"^\[(?:\d+|[a-z])\] ", line))
        return Transcript(text, [b.label for b in self.chat.shown])


@pytest.mark.parametrize("scenario", load_scenarios(), ids=lambda s: s.path.stem)
async def test_scenario_through_console(scenario: Scenario, kb: KnowledgeBase, tmp_path: Path) -> None:
    driver = ConsoleDriver(kb, tmp_path / "bot.db", scenario.start)
    try:
        await play(scenario, driver)
    finally:
        driver.store.close()
