"""Every conversation in tests/scenarios/ played through the console adapter."""

from __future__ import annotations

import pytest

from adapters.console import MENTION, ConsoleChat
from bot.advisor import Advisor
from tests.scenario import Scenario, Transcript, load_scenarios, play


class ConsoleDriver:
    """Types lines into a ConsoleChat, as a person at the terminal would."""

    def __init__(self, advisor: Advisor):
        self.chat = ConsoleChat(advisor, is_admin=False)

    async def start(self, private: bool) -> None:
        await self.chat.process_line("/dm" if private else "/group")

    async def say(self, text: str, mention: bool = False) -> Transcript:
        line = f"{MENTION} {text}" if mention else text
        return self._transcript(await self.chat.process_line(line))

    async def press(self, label: str) -> Transcript:
        for number, button in enumerate(self.chat.buttons, 1):
            if button.label.lower().startswith(label.lower()):
                return self._transcript(await self.chat.process_line(str(number)))
        raise AssertionError(f"no button starting {label!r}: {[b.label for b in self.chat.buttons]}")

    def _transcript(self, output: str) -> Transcript:
        return Transcript(output, [b.label for b in self.chat.shown])


@pytest.mark.parametrize("scenario", load_scenarios(), ids=lambda s: s.path.stem)
async def test_scenario_through_console(scenario: Scenario, advisor: Advisor) -> None:
    await play(scenario, ConsoleDriver(advisor))
