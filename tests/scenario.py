"""Conversation scenarios, written as YAML, played against any adapter through a `Driver`.

A scenario file:

    name: a short sentence saying what the user does
    chat: private            # or: group
    steps:
      - say: obsership fees??          # a plain message
        expect: ["Observership fees", "Sources:"]   # all must appear (case-insensitive)
      - mention: what is ECFMG?        # addressed to the bot the platform's way
        expect: [...]
      - press: "More: Observership"    # press a button of the last reply, by label start
        expect: [...]
        reject: ["Traceback"]          # none may appear
      - say: hello everyone
        silent: true                   # the bot must not answer
      - buttons: ["Observership fees"] # labels that must be offered (by label start)
      - advance: 3 days                # time passes; the transcript is what was delivered
      - restart: true                  # the bot restarts (same database)
      - as_admin: true                 # from now on the user is a chat admin (or false)

A top-level `start: 2025-10-01T06:00:00+00:00` sets the fake clock the scenario begins at.

The console, Telegram and Discord tests each implement `Driver` and run every file in
tests/scenarios/ through it, so the same conversations prove the same behaviour.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from tests.fakes import duration

SCENARIO_DIR = Path(__file__).parent / "scenarios"


@dataclass
class Transcript:
    """What the bot answered to one step, as the user saw it."""

    text: str = ""
    buttons: list[str] = field(default_factory=list)


class Driver(Protocol):
    """Plays user actions against one adapter."""

    async def start(self, private: bool) -> None: ...
    async def say(self, text: str, mention: bool = False) -> Transcript: ...
    async def press(self, label: str) -> Transcript: ...
    async def advance(self, delta: dt.timedelta) -> Transcript: ...
    async def restart(self) -> None: ...
    def set_admin(self, admin: bool) -> None: ...


DEFAULT_START = dt.datetime(2025, 10, 1, 6, 0, tzinfo=dt.timezone.utc)


@dataclass
class Scenario:
    name: str
    private: bool
    steps: list[dict[str, Any]]
    path: Path
    start: dt.datetime = DEFAULT_START


def load_scenarios() -> list[Scenario]:
    """Every scenario in tests/scenarios/, in file order."""
    scenarios = []
    for path in sorted(SCENARIO_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        start = data.get("start", DEFAULT_START)
        if isinstance(start, str):
            start = dt.datetime.fromisoformat(start)
        if start.tzinfo is None:
            start = start.replace(tzinfo=dt.timezone.utc)
        scenarios.append(Scenario(data["name"], data.get("chat", "private") == "private", data["steps"], path, start))
    return scenarios


def _check(step: dict[str, Any], number: int, got: Transcript) -> None:
    where = f"step {number} {dict(list(step.items())[:1])}"
    lowered = got.text.lower()
    if step.get("silent"):
        assert not got.text.strip(), f"{where}: expected silence, got {got.text!r}"
    for wanted in step.get("expect", []):
        assert str(wanted).lower() in lowered, f"{where}: {wanted!r} not in reply:\n{got.text}"
    for unwanted in step.get("reject", []):
        assert str(unwanted).lower() not in lowered, f"{where}: {unwanted!r} in reply:\n{got.text}"
    for label in step.get("buttons", []):
        assert any(b.lower().startswith(str(label).lower()) for b in got.buttons), (
            f"{where}: no button starting {label!r}; buttons: {got.buttons}")


async def play(scenario: Scenario, driver: Driver) -> None:
    """Run every step of `scenario` through `driver`, asserting each expectation."""
    await driver.start(scenario.private)
    for number, step in enumerate(scenario.steps, 1):
        if "say" in step:
            got = await driver.say(str(step["say"]))
        elif "mention" in step:
            got = await driver.say(str(step["mention"]), mention=True)
        elif "press" in step:
            got = await driver.press(str(step["press"]))
        elif "advance" in step:
            got = await driver.advance(duration(str(step["advance"])))
        elif "restart" in step:
            await driver.restart()
            continue
        elif "as_admin" in step:
            driver.set_admin(bool(step["as_admin"]))
            continue
        else:
            raise ValueError(f"{scenario.path.name} step {number}: needs say, mention or press")
        _check(step, number, got)
